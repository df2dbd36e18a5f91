"""All disk I/O of built datasets: sharded Parquet, hashes, manifest, atomic publish, loading.

Layout of one build::

    <root>/<name>/<version>/
        <config>/<split>-00000-of-00001.parquet   # zstd, one or more shards
        manifest.json                             # hashes, counts, parameters, versions
        README.md                                 # dataset card, HF ``configs:`` YAML

A build is written into a hidden sibling directory and renamed into place only when
complete, so a directory at ``<version>`` always holds a whole, verifiable build.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from molbench.contenthash import content_hash
from molbench.errors import (
    BuildConflictError,
    DatasetNotFoundError,
    IntegrityError,
    MolbenchError,
)
from molbench.fsutil import (
    exchange_directories,
    fsync_dir,
    process_alive,
    sha256_file,
    write_json,
)

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
CARD_NAME = "README.md"
MANIFEST_FORMAT = 2
MAX_ROWS_PER_SHARD = 250_000
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 9,
    "row_group_size": 50_000,
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "2.0",
}
_STAGING_MARK = ".incomplete-"
_REPLACED_MARK = ".replaced-"


def resolve_root(out: str | os.PathLike[str] | None = None) -> Path:
    """Where builds live: ``out``, else ``$MOLBENCH_HOME``, else ``~/.cache/molbench``."""
    if out is not None:
        return Path(out).expanduser()
    env = os.environ.get("MOLBENCH_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "molbench"


def version_dir(root: Path, name: str, version: str) -> Path:
    return root / name / version


def shard_name(split: str, index: int, count: int) -> str:
    """Hugging Face's shard naming: ``train-00000-of-00002.parquet``."""
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def write_shards(
    windows: Iterable[pa.Table], n_rows: int, directory: Path, config: str, split: str
) -> list[str]:
    """Write one split, its rows streaming in as ``windows``, as zstd Parquet shards.

    Each row group is written whole, as ``pq.write_table`` cuts a table held in memory
    (``row_group_size`` rows, the last one of a shard shorter), so the bytes do not depend
    on how the rows were windowed; at most one row group is held. Returns the shards'
    paths relative to ``directory``.
    """
    count = max(1, -(-n_rows // MAX_ROWS_PER_SHARD))
    (directory / config).mkdir(parents=True, exist_ok=True)
    paths = [f"{config}/{shard_name(split, index, count)}" for index in range(count)]
    group_rows = PARQUET_OPTIONS["row_group_size"]
    options = {k: v for k, v in PARQUET_OPTIONS.items() if k != "row_group_size"}
    pending: list[pa.Table] = []
    held = written = 0
    shard: _Shard | None = None
    try:
        for window in windows:
            while window.num_rows:
                if shard is None:
                    shard = _Shard(
                        directory / paths[written // MAX_ROWS_PER_SHARD], window, options
                    )
                shard_left = MAX_ROWS_PER_SHARD - written % MAX_ROWS_PER_SHARD
                take = min(window.num_rows, group_rows - held, shard_left - held)
                pending.append(window.slice(0, take))
                window, held = window.slice(take), held + take
                if held in (group_rows, shard_left) or written + held == n_rows:
                    shard.writer.write_table(pa.concat_tables(pending).combine_chunks(), group_rows)
                    written, pending, held = written + held, [], 0
                    if written % MAX_ROWS_PER_SHARD == 0 or written == n_rows:
                        shard.close()
                        shard = None
        if written != n_rows:
            raise ValueError(f"{config}/{split}: {written + held} rows given, expected {n_rows}")
    finally:
        if shard is not None:  # a failed write: the staging directory is discarded
            with contextlib.suppress(OSError):
                shard.writer.close()
            shard.handle.close()
    return paths


class _Shard:
    """One Parquet file being written, fsynced on close."""

    def __init__(self, path: Path, first: pa.Table, options: dict[str, Any]) -> None:
        self.handle = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.writer = pq.ParquetWriter(self.handle, first.schema, **options)

    def close(self) -> None:
        self.writer.close()
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()


@contextmanager
def staging_dir(final: Path) -> Iterator[Path]:
    """A fresh hidden directory beside ``final`` (same filesystem); removed unless published."""
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(final)
    staging = final.parent / f".{final.name}{_STAGING_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, final: Path, replace: bool) -> None:
    """Move a complete build into place; an existing one is swapped out, never half-replaced.

    On Linux the swap is one ``renameat2(RENAME_EXCHANGE)``: readers see the old directory
    or the new one, nothing in between. Elsewhere it is two renames, and a crash between
    them is repaired by the next build (the retired directory is renamed back).
    """
    for directory in (*sorted(p for p in staging.rglob("*") if p.is_dir()), staging):
        fsync_dir(directory)
    if final.exists():
        if not replace:
            raise BuildConflictError(f"{final} already exists; pass --force to replace it")
        if exchange_directories(staging, final):
            shutil.rmtree(staging, ignore_errors=True)  # it now holds the old build
        else:
            retired = final.parent / f".{final.name}{_REPLACED_MARK}{uuid.uuid4().hex[:8]}"
            os.rename(final, retired)
            try:
                os.rename(staging, final)
            except BaseException:
                os.rename(retired, final)
                raise
            shutil.rmtree(retired, ignore_errors=True)
    else:
        os.rename(staging, final)
    fsync_dir(final.parent)


def recover_interrupted_swap(final: Path) -> None:
    """A retired build with no build in place means a swap died between its two renames:
    put that build back (it is complete) instead of treating it as garbage."""
    retired = sorted(final.parent.glob(f".{final.name}{_REPLACED_MARK}*"))
    if retired and not final.exists():
        log.warning("restoring %s from an interrupted swap", final)
        os.rename(retired[-1], final)


def _remove_stale_staging(final: Path) -> None:
    """Delete leftovers of killed builds (their process is gone) and of interrupted swaps."""
    recover_interrupted_swap(final)
    for leftover in final.parent.glob(f".{final.name}.*"):
        name = leftover.name
        if _STAGING_MARK in name:
            pid = name.split(_STAGING_MARK, 1)[1].split("-", 1)[0]
            if pid.isdigit() and process_alive(int(pid)):
                continue
        elif _REPLACED_MARK not in name:
            continue
        log.info("removing leftover of an interrupted build: %s", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def version_hash(groups: dict[str, dict[str, Any]]) -> str:
    """The version's content hash: its group's hash when there is one group, else a hash
    over every group's hash (so one group's hash stays its identity whatever else is built)."""
    if len(groups) == 1:
        return next(iter(groups.values()))["content_hash"]
    digest = hashlib.sha256(b"molbench-groups-v1\n")
    for group in sorted(groups):
        digest.update(f"{group}={groups[group]['content_hash']}\n".encode())
    return "sha256:" + digest.hexdigest()


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a complete build, or a clear error saying why there is none."""
    directory = Path(path).expanduser()
    manifest_path = directory / MANIFEST_NAME
    if not directory.is_dir():
        raise DatasetNotFoundError(f"{directory} is not a directory")
    if not manifest_path.is_file():
        raise DatasetNotFoundError(
            f"{directory} holds no {MANIFEST_NAME}: not a complete molbench build"
        )
    try:
        return read_versioned_json(manifest_path, MANIFEST_FORMAT, IntegrityError, "manifest")
    except IntegrityError as e:
        raise IntegrityError(f"{e}; rebuild it with --force") from None


def read_versioned_json(
    path: Path, expected_format: int, error: type[MolbenchError], what: str
) -> dict[str, Any]:
    """A JSON object whose ``format`` field is ``expected_format``; else ``error``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("format") != expected_format:
        raise error(f"{path} is not a molbench {what} (format {expected_format})")
    return data


def write_manifest(directory: Path, manifest: Mapping[str, Any]) -> None:
    write_json(directory / MANIFEST_NAME, manifest)


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    files_checked: int
    bytes_checked: int
    content_hash: str


def verify(path: str | os.PathLike[str], deep: bool = False) -> VerifyReport:
    """Re-hash every recorded file; ``deep`` also recomputes the content hash from the data.

    Raises :class:`IntegrityError` naming each missing, changed or unexpected file.
    """
    directory = Path(path).expanduser()
    manifest = read_manifest(directory)
    problems = []
    damaged: set[str] = set()  # configs whose files are damaged: what to rebuild
    total = 0
    for rel, recorded in sorted(manifest["files"].items()):
        file = directory / rel
        problem = None
        if not file.is_file():
            problem = f"{rel} is missing"
        elif file.stat().st_size != recorded["bytes"]:
            problem = f"{rel} has {file.stat().st_size} bytes, expected {recorded['bytes']}"
        elif sha256_file(file) != recorded["sha256"]:
            problem = f"{rel} sha256 differs from the manifest"
        if file.is_file():
            total += file.stat().st_size
        if problem:
            problems.append(problem)
            damaged |= _configs_of_file(manifest, rel)
    recorded_parquet = {rel for rel in manifest["files"] if rel.endswith(".parquet")}
    extra = sorted(
        str(p.relative_to(directory))
        for p in directory.rglob("*.parquet")
        if str(p.relative_to(directory)) not in recorded_parquet
    )
    problems += [f"{rel} is not in the manifest" for rel in extra]
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        in_layout = directory.parent.name == manifest["name"]
        where = f" --out {directory.parent.parent}" if in_layout else ""
        configs = f" --config {','.join(sorted(damaged))}" if damaged else ""
        raise IntegrityError(
            f"{directory} failed verification: {'; '.join(problems[:3])}{more}; "
            f"rebuild it: molbench build {manifest['name']}{configs} --force{where}"
        )
    if deep:
        recomputed = _recompute_content_hash(directory, manifest)
        if recomputed != manifest["content_hash"]:
            raise IntegrityError(
                f"{directory}: content hash {recomputed} differs from the manifest's "
                f"{manifest['content_hash']}"
            )
    return VerifyReport(directory, len(manifest["files"]), total, manifest["content_hash"])


def _configs_of_file(manifest: Mapping[str, Any], rel: str) -> set[str]:
    """The configs of the group a file belongs to (rebuilding any one rebuilds them all)."""
    head = rel.split("/", 1)[0]
    group = None
    if head in manifest.get("configs", {}):
        group = manifest["configs"][head].get("group")
    elif head == "quarantine":
        group = Path(rel).stem
    return set(manifest.get("groups", {}).get(group, {}).get("configs", []))


def _recompute_content_hash(directory: Path, manifest: Mapping[str, Any]) -> str:
    """Recompute every group's hash from its Parquet files; return the version's hash."""
    groups = {}
    for group, entry in manifest["groups"].items():
        tables = {
            config: {
                split: _read_files(directory, info["files"])
                for split, info in manifest["configs"][config]["splits"].items()
            }
            for config in entry["configs"]
        }
        rows = pa.concat_tables(list(tables[entry["configs"][0]].values()))
        position = {v: i for i, v in enumerate(rows["id"].to_pylist())}
        splits = {
            config: {
                split: np.array([position[v] for v in t["id"].to_pylist()], dtype=np.int64)
                for split, t in by_split.items()
            }
            for config, by_split in tables.items()
        }
        recomputed = content_hash(rows, splits)
        if recomputed != entry["content_hash"]:
            raise IntegrityError(
                f"{directory}: group {group} content hash {recomputed} differs from the "
                f"manifest's {entry['content_hash']}"
            )
        groups[group] = {"content_hash": recomputed}
    return version_hash(groups)


def _read_files(directory: Path, files: list[str], columns: list[str] | None = None) -> pa.Table:
    return pa.concat_tables([pq.read_table(directory / rel, columns=columns) for rel in files])


class BuiltDataset:
    """A complete build on disk: its manifest, configs and splits as Arrow or pandas."""

    def __init__(self, path: str | os.PathLike[str], verify_files: bool = True) -> None:
        self.path = Path(path).expanduser()
        if verify_files:
            verify(self.path)
        self.manifest = read_manifest(self.path)

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def content_hash(self) -> str:
        return self.manifest["content_hash"]

    def config_hash(self, config: str) -> str:
        """Content hash of the rows and splits ``config`` is made of (its group's hash)."""
        return self._config(config)["content_hash"]

    def group(self, config: str) -> dict[str, Any]:
        """The manifest entry of the group ``config`` belongs to: parameters, counts, audits."""
        return self.manifest["groups"][self._config(config)["group"]]

    @property
    def configs(self) -> list[str]:
        return list(self.manifest["configs"])

    def splits(self, config: str) -> list[str]:
        return list(self._config(config)["splits"])

    def table(self, config: str, split: str, columns: list[str] | None = None) -> pa.Table:
        """One split of one config as an Arrow table (only ``columns`` if given)."""
        splits = self._config(config)["splits"]
        if split not in splits:
            raise DatasetNotFoundError(
                f"config {config!r} has no split {split!r}; it has {', '.join(splits)}"
            )
        return _read_files(self.path, splits[split]["files"], columns)

    def to_pandas(self, config: str, split: str):  # -> pandas.DataFrame
        return self.table(config, split).to_pandas()

    def _config(self, config: str) -> Mapping[str, Any]:
        configs = self.manifest["configs"]
        if config not in configs:
            raise DatasetNotFoundError(
                f"{self.path} has no config {config!r}; it has {', '.join(configs)}"
            )
        return configs[config]

    def __repr__(self) -> str:
        return f"BuiltDataset({self.name} {self.version} at {self.path}, configs={self.configs})"


def list_builds(root: Path) -> list[dict[str, Any]]:
    """Every complete build under ``root`` (``<name>/<version>/manifest.json``), sorted."""
    found = []
    for manifest_path in sorted(root.glob(f"*/*/{MANIFEST_NAME}")):
        if manifest_path.parent.name.startswith("."):
            continue
        try:
            manifest = read_manifest(manifest_path.parent)
        except (DatasetNotFoundError, IntegrityError) as e:
            log.warning("skipping %s: %s", manifest_path.parent, e)
            continue
        found.append({"path": manifest_path.parent, **manifest})
    return found
