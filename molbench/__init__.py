"""molbench: versioned, audited Parquet datasets and benchmarks for molecular machine learning."""

import os
from importlib import metadata
from typing import Any

from molbench.errors import MolbenchError
from molbench.store import BuiltDataset, list_builds, resolve_root, verify


def _source_tree_version() -> str:
    """The version in ``pyproject.toml`` beside the package (a copy of the tree, not installed)."""
    from pathlib import Path

    try:
        import tomllib  # Python 3.11+

        with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as f:
            return tomllib.load(f)["project"]["version"] + "+source"
    except (ImportError, OSError, KeyError, ValueError):  # TOMLDecodeError is a ValueError
        return "0.0.0+unknown"


try:
    __version__ = metadata.version("molbench")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = _source_tree_version()


def __getattr__(name: str) -> Any:
    """``build`` / ``BuildResult`` on first use: building needs RDKit, reading and training
    do not (the GPU machine a recipe may train on has no RDKit)."""
    if name in ("build", "BuildResult"):
        from molbench import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'molbench' has no attribute {name!r}")


def open_dataset(path: str | os.PathLike[str], verify_files: bool = True) -> BuiltDataset:
    """Open a built dataset directory: its manifest's digest, layout and row counts are
    always checked; by default every file's sha256 too (``verify_files=False`` skips that)."""
    return BuiltDataset(path, verify_files=verify_files)


__all__ = [
    "BuildResult",
    "BuiltDataset",
    "MolbenchError",
    "__version__",
    "build",
    "list_builds",
    "open_dataset",
    "resolve_root",
    "verify",
]
