"""All disk I/O of built datasets: sharded Parquet, hashes, manifest, atomic publish, loading.

Layout of one build::

    <root>/<name>/<version>/
        <config>/<split>-00000-of-00001.parquet   # zstd, one or more shards
        manifest.json                             # hashes, counts, parameters, versions
        README.md                                 # dataset card, HF ``configs:`` YAML

A build is written into a hidden sibling directory and renamed into place only when
complete, so a directory at ``<version>`` always holds a whole, verifiable build.

Nothing on disk is trusted: every read checks the manifest's own content (digest, files
hash, structure: ``molbench.manifest``) and refuses paths outside the version directory,
symlinks and files the manifest does not list.
"""

from __future__ import annotations

import contextlib
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
    sha256_handle,
    write_json,
)
from molbench.manifest import CARD_NAME as CARD_NAME
from molbench.manifest import (
    QUARANTINE_DIR,
    is_plain,
    manifest_digest,
    seal,
    structure_problem,
    version_hash,
)

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 3  # 3: digest and files hash
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


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a complete build, refused unless its digest and its structure hold."""
    directory = Path(path).expanduser()
    manifest_path = directory / MANIFEST_NAME
    if not directory.is_dir():
        raise DatasetNotFoundError(f"{directory} is not a directory")
    if manifest_path.is_symlink():
        raise IntegrityError(f"{manifest_path} is a symlink; {rebuild_hint(directory, None)}")
    if not manifest_path.is_file():
        raise DatasetNotFoundError(
            f"{directory} holds no {MANIFEST_NAME}: not a complete molbench build"
        )
    try:
        manifest = read_versioned_json(manifest_path, MANIFEST_FORMAT, IntegrityError, "manifest")
    except IntegrityError as e:
        older = older_format(manifest_path)
        if older is None:
            raise IntegrityError(f"{e}; {rebuild_hint(directory, None)}") from None
        # refused, not trusted with a warning: an edited format-2 manifest cannot be told
        # from a sound one, and rebuilding gives the same content hash
        old_name = _json_or_none(manifest_path)["name"]
        raise IntegrityError(
            f"{directory} was written by an older molbench (manifest format {older}, without "
            "a digest over its own content, so edits to it cannot be detected); rebuild it "
            f"(no --force needed): molbench build {_plain_or(old_name)}"
            f"{_out_option(directory, old_name)}"
        ) from None
    name = manifest.get("name")
    if manifest.get("digest") != manifest_digest(manifest):
        raise IntegrityError(
            f"{manifest_path} does not match its digest: it was edited or damaged after the "
            f"build; {rebuild_hint(directory, name)}"
        )
    problem = structure_problem(manifest)
    if problem is not None:
        raise IntegrityError(f"{manifest_path}: {problem}; {rebuild_hint(directory, name)}")
    return manifest


def older_format(path: Path) -> int | None:
    """The manifest format of a build written by an older molbench, else None."""
    data = _json_or_none(path)
    version = data.get("format") if isinstance(data, dict) else None
    is_older = isinstance(version, int) and 0 < version < MANIFEST_FORMAT
    return version if is_older and "name" in data else None


def _json_or_none(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def rebuild_hint(directory: Path, name: Any, configs: Iterable[str] = ()) -> str:
    """The command that replaces a damaged build (its root when it sits in the layout)."""
    chosen = f" --config {','.join(sorted(configs))}" if configs else ""
    return (
        f"rebuild it: molbench build {_plain_or(name)}{chosen} --force"
        f"{_out_option(directory, name)}"
    )


def _plain_or(name: Any) -> str:
    return name if is_plain(name) else "<dataset>"


def _out_option(directory: Path, name: Any) -> str:
    return f" --out {directory.parent.parent}" if directory.parent.name == name else ""


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


def write_manifest(directory: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Write the manifest sealed with its files hash and digest; returns what was written."""
    sealed = seal(manifest)
    write_json(directory / MANIFEST_NAME, sealed)
    return sealed


@dataclass(frozen=True)
class VerifyReport:
    path: Path
    files_checked: int
    bytes_checked: int
    content_hash: str


def verify(path: str | os.PathLike[str], deep: bool = False) -> VerifyReport:
    """Check a build against its manifest: digest and structure, layout, Parquet row counts
    and every file's sha256; ``deep`` also recomputes the content hash from the data.

    Raises :class:`IntegrityError` naming each missing, changed, unlisted or linked file.
    """
    directory = Path(path).expanduser()
    manifest = read_manifest(directory)
    return _verify(directory, manifest, deep)[0]


_Identity = tuple[int, int, int, int]


def _identity(st: os.stat_result) -> _Identity:
    """What tells one file from its replacement (a rebuild writes new inodes)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _verify(
    directory: Path, manifest: Mapping[str, Any], deep: bool
) -> tuple[VerifyReport, dict[str, _Identity]]:
    """Verify and return the identity of every file hashed (what a reader pins)."""
    problems, sound = _layout_problems(directory, manifest)
    identities: dict[str, _Identity] = {}
    total = 0
    for rel in sound:
        with open(directory / rel, "rb") as f:
            st = os.fstat(f.fileno())
            identities[rel], sha = _identity(st), sha256_handle(f)
        total += st.st_size
        if sha != manifest["files"][rel]["sha256"]:
            problems.append((rel, f"{rel} sha256 differs from the manifest"))
    problems = problems or _row_count_problems(directory, manifest)
    if problems:
        raise _verification_error(directory, manifest, problems)
    if deep:
        recomputed = _recompute_content_hash(directory, manifest)
        if recomputed != manifest["content_hash"]:
            raise IntegrityError(
                f"{directory}: content hash {recomputed} differs from the manifest's "
                f"{manifest['content_hash']}"
            )
    report = VerifyReport(directory, len(manifest["files"]), total, manifest["content_hash"])
    return report, identities


_Problem = tuple[str | None, str]  # (the file it is about, message)


def _layout_problems(
    directory: Path, manifest: Mapping[str, Any]
) -> tuple[list[_Problem], list[str]]:
    """Cheap checks of what is on disk (no hashing): no symlinks anywhere in the build, no
    file it does not list, every listed file a regular file of its recorded size inside it.

    Returns the problems and the listed files sound enough to hash.
    """
    problems: list[_Problem] = []
    listed = set(manifest["files"])
    linked: set[str] = set()
    for base, dirs, names in os.walk(directory):
        for name in sorted(dirs + names):
            path = Path(base) / name
            rel = path.relative_to(directory).as_posix()
            if path.is_symlink():
                linked.add(rel)
                problems.append((rel, f"{rel} is a symlink (a build holds only its own files)"))
            elif name in names and rel not in listed and rel != MANIFEST_NAME:
                problems.append((rel, f"{rel} is not in the manifest"))
    root = directory.resolve()
    sound = []
    for rel, record in sorted(manifest["files"].items()):
        parts = rel.split("/")
        if any("/".join(parts[: i + 1]) in linked for i in range(len(parts))):
            continue  # reported above
        path = directory / rel
        if not path.exists():
            problems.append((rel, f"{rel} is missing"))
        elif not path.is_file() or not path.resolve().is_relative_to(root):
            problems.append((rel, f"{rel} is not a regular file inside {directory}"))
        elif path.stat().st_size != record["bytes"]:
            size = path.stat().st_size
            problems.append((rel, f"{rel} has {size} bytes, expected {record['bytes']}"))
        else:
            sound.append(rel)
    return problems, sound


def _cheap_problems(directory: Path, manifest: Mapping[str, Any]) -> list[_Problem]:
    """What readers that do not hash check: the layout, then the Parquet row counts."""
    problems = _layout_problems(directory, manifest)[0]
    return problems or _row_count_problems(directory, manifest)


def _row_count_problems(directory: Path, manifest: Mapping[str, Any]) -> list[_Problem]:
    """Each split's rows per its Parquet footers (cheap) against the manifest's count."""
    problems: list[_Problem] = []
    for config, entry in manifest["configs"].items():
        for split, info in entry["splits"].items():
            try:
                found = sum(pq.read_metadata(directory / rel).num_rows for rel in info["files"])
            except (OSError, pa.ArrowException) as e:
                problems.append((info["files"][0], f"{config}/{split} is not Parquet: {e}"))
                continue
            if found != info["rows"]:
                message = f"{config}/{split} holds {found} rows, the manifest says {info['rows']}"
                problems.append((info["files"][0], message))
    return problems


def _verification_error(
    directory: Path, manifest: Mapping[str, Any], problems: list[_Problem]
) -> IntegrityError:
    """One line: the first problems and the command that rebuilds what they damaged."""
    damaged: set[str] = set()  # configs whose files are damaged: what to rebuild
    for rel, _ in problems:
        if rel is None:
            damaged |= set(manifest["configs"])
        else:
            damaged |= _configs_of_file(manifest, rel)
    messages = [message for _, message in problems]
    more = f" (+{len(messages) - 3} more)" if len(messages) > 3 else ""
    return IntegrityError(
        f"{directory} failed verification: {'; '.join(messages[:3])}{more}; "
        f"{rebuild_hint(directory, manifest['name'], damaged)}"
    )


def _configs_of_file(manifest: Mapping[str, Any], rel: str) -> set[str]:
    """The configs of the group a file belongs to (rebuilding any one rebuilds them all)."""
    head = rel.split("/", 1)[0]
    group = None
    if head in manifest.get("configs", {}):
        group = manifest["configs"][head].get("group")
    elif head == QUARANTINE_DIR:
        group = Path(rel).stem
    return set(manifest.get("groups", {}).get(group, {}).get("configs", []))


def _recompute_content_hash(directory: Path, manifest: Mapping[str, Any]) -> str:
    """Recompute every group's hash from its Parquet files; return the version's hash."""
    groups = {}
    for group, entry in manifest["groups"].items():
        try:
            tables = {
                config: {
                    split: _read_files(directory, info["files"])
                    for split, info in manifest["configs"][config]["splits"].items()
                }
                for config in entry["configs"]
            }
        except (OSError, pa.ArrowException) as e:
            raise IntegrityError(f"{directory}: group {group} is not readable: {e}") from None
        rows = pa.concat_tables(list(tables[entry["configs"][0]].values()))
        position = {v: i for i, v in enumerate(rows["id"].to_pylist())}
        splits = {}
        for config, by_split in tables.items():
            splits[config] = {}
            for split, table in by_split.items():
                ids = table["id"].to_pylist()
                if not all(v in position for v in ids):
                    raise IntegrityError(
                        f"{directory}: {config}/{split} holds ids that "
                        f"{entry['configs'][0]} does not; the group's configs disagree"
                    )
                splits[config][split] = np.array([position[v] for v in ids], dtype=np.int64)
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
    """A complete build on disk: its manifest, configs and splits as Arrow or pandas.

    It pins the files it opened: a file replaced afterwards (a ``--force`` rebuild swaps
    the whole directory) is refused on read, never read against the old manifest.
    """

    def __init__(self, path: str | os.PathLike[str], verify_files: bool = True) -> None:
        self.path = Path(path).expanduser()
        self.manifest = read_manifest(self.path)
        if verify_files:
            self._pinned = _verify(self.path, self.manifest, deep=False)[1]
        else:
            problems = _cheap_problems(self.path, self.manifest)
            if problems:
                raise _verification_error(self.path, self.manifest, problems)
            self._pinned = {
                rel: _identity(os.stat(self.path / rel)) for rel in self.manifest["files"]
            }

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
        return pa.concat_tables([self._read(rel, columns) for rel in splits[split]["files"]])

    def _read(self, rel: str, columns: list[str] | None) -> pa.Table:
        """Read one file through the handle checked against the pinned identity (no race)."""
        path = self.path / rel
        replaced = IntegrityError(
            f"{path} was replaced after {self.path} was opened (rebuilt with --force?); "
            "open the dataset again to read the new build"
        )
        try:
            with open(path, "rb") as f:
                if _identity(os.fstat(f.fileno())) != self._pinned[rel]:
                    raise replaced
                return pq.read_table(f, columns=columns)
        except FileNotFoundError:
            raise replaced from None
        except (OSError, pa.ArrowException) as e:  # opened without hashing, then damaged
            raise IntegrityError(
                f"{path} is not readable Parquet ({e}); check it: molbench verify {self.path}"
            ) from None

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


def read_checked_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest after the checks that hash nothing (for ``list`` and ``info``): digest,
    structure, layout, sizes and Parquet row counts. ``verify`` also hashes every byte."""
    directory = Path(path).expanduser()
    manifest = read_manifest(directory)
    problems = _cheap_problems(directory, manifest)
    if problems:
        raise _verification_error(directory, manifest, problems)
    return manifest


def list_builds(root: Path) -> list[dict[str, Any]]:
    """Every sound build under ``root`` (``<name>/<version>/manifest.json``), sorted.

    Checked cheaply (:func:`read_checked_manifest`): a damaged build is logged and left
    out, never listed as complete.
    """
    found = []
    for manifest_path in sorted(root.glob(f"*/*/{MANIFEST_NAME}")):
        directory = manifest_path.parent
        if directory.name.startswith("."):
            continue
        try:
            manifest = read_checked_manifest(directory)
        except (DatasetNotFoundError, IntegrityError) as e:
            log.warning("not listed, damaged: %s", e)
            continue
        found.append({"path": directory, **manifest})
    return found
