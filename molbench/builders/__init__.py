"""Every dataset molbench can build, by name. Adding a dataset: one module, one line here."""

from __future__ import annotations

import os
from pathlib import Path

from molbench import store
from molbench.builders.base import BuildContext, Builder, DatasetInfo, SplitDefinition
from molbench.builders.reactions import ReactionsBuilder
from molbench.builders.text import TextBuilder
from molbench.builders.validity import ValidityBuilder
from molbench.errors import DatasetNotFoundError

BUILDERS: dict[str, Builder] = {
    b.info.name: b for b in (ValidityBuilder(), ReactionsBuilder(), TextBuilder())
}


def resolve_dataset(
    dataset: str, root: str | os.PathLike[str] | None = None, named_by: str = ""
) -> Path:
    """A build directory from a path, or from a dataset name under the root.

    ``named_by``: the file the name was read from (a model card): only a registered name is
    accepted then, never a path, so a card cannot point evaluation at arbitrary files.
    """
    if named_by and dataset not in BUILDERS:
        raise DatasetNotFoundError(
            f"{named_by} names dataset {dataset!r}, which is not a known dataset "
            f"({', '.join(BUILDERS)}); pass --dataset to choose a build"
        )
    given = Path(dataset)
    if not named_by and (given / store.MANIFEST_NAME).is_file():
        return given
    if dataset in BUILDERS:
        path = store.version_dir(store.resolve_root(root), dataset, BUILDERS[dataset].info.version)
        if (path / store.MANIFEST_NAME).is_file():
            return path
        raise DatasetNotFoundError(
            f"{dataset} is not built under {path.parent.parent}; run: molbench build {dataset}"
        )
    raise DatasetNotFoundError(f"{dataset} is neither a build directory nor a known dataset")


__all__ = [
    "BUILDERS",
    "BuildContext",
    "Builder",
    "DatasetInfo",
    "SplitDefinition",
    "resolve_dataset",
]
