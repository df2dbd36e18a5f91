"""Run a builder end to end: rows → splits → audits → Parquet + manifest + card, atomically.

A dataset version directory holds one or more *groups* of rows (see ``builders.base``).
Building a group writes a whole new version directory — the other groups' files are
hard-linked across — and renames it into place under a lock, so readers always see a
complete, verifiable build and two builds of different groups never lose each other's work.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from molbench import fsutil, store
from molbench.builders import BUILDERS, BuildContext, Builder
from molbench.builders.base import SplitDefinition
from molbench.card import render_card
from molbench.contenthash import ContentHasher
from molbench.errors import (
    BuildConflictError,
    BuildError,
    DatasetNotFoundError,
    IntegrityError,
    MolbenchError,
    ParameterError,
)
from molbench.hardware import available_memory, free_disk
from molbench.parallel import dask_cluster, default_workers
from molbench.settings import param_types
from molbench.spill import RowSpill
from molbench.splits import check_split, duplicated_structures, shared_structures

log = logging.getLogger(__name__)
ROWS_PER_BATCH = 5_000  # rows become Arrow batches as they stream in, then sorted runs
QUARANTINE_DIR = "quarantine"


@dataclass(frozen=True)
class BuildResult:
    path: Path
    manifest: dict[str, Any]
    skipped: bool  # an identical build was already there
    groups: tuple[str, ...] = ()  # groups (re)built by this call


def get_builder(name: str) -> Builder:
    if name not in BUILDERS:
        raise DatasetNotFoundError(f"unknown dataset {name!r}; known: {', '.join(BUILDERS)}")
    return BUILDERS[name]


def make_params(builder: Builder, overrides: dict[str, Any] | None = None) -> Any:
    """The builder's parameter dataclass with ``overrides`` applied and type-checked."""
    fields = param_types(builder.params_type)
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(unknown)} for {builder.info.name}; "
            f"known: {', '.join(fields)}"
        )
    for key, value in overrides.items():
        expected = fields[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ParameterError(f"parameter {key} must be {expected.__name__}, got {value!r}")
    return builder.params_type(**overrides)


def requested_groups(builder: Builder, configs: Sequence[str] | None) -> list[str]:
    """The groups holding the requested configs (the builder's defaults when none given)."""
    by_config = {d.config: d.group for d in builder.split_definitions}
    wanted = list(configs) if configs else list(builder.default_configs)
    unknown = [c for c in wanted if c not in by_config]
    if unknown:
        raise ParameterError(
            f"unknown config(s) {', '.join(unknown)} for {builder.info.name}; "
            f"known: {', '.join(by_config)}"
        )
    return list(dict.fromkeys(by_config[c] for c in wanted))


def build(
    name: str,
    params: dict[str, Any] | None = None,
    *,
    configs: Sequence[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    workers: int | None = None,
    progress: bool = False,
    source: str | os.PathLike[str] | None = None,
    allow_unverified: bool = False,
    scheduler: str | None = None,
    dask_local: int | None = None,
) -> BuildResult:
    """Build the groups holding ``configs`` of dataset ``name`` into ``<root>/<name>/<version>``.

    Groups already built with the same parameters are skipped; with other parameters it is
    an error unless ``force``. Other groups of the version are kept as they are. The
    per-row work runs in ``workers`` local processes, or on a Dask cluster: the one at
    ``scheduler`` (``tcp://host:8786``) or a local one of ``dask_local`` processes; the
    files are the same either way, and are written and published here.
    """
    builder = get_builder(name)
    typed = make_params(builder, params)
    groups = requested_groups(builder, configs)
    explicit = set(configs or ())
    _check_planned_splits(builder, typed, explicit)
    root = store.resolve_root(out)
    _check_footprint(builder, typed, groups, root)
    final = store.version_dir(root, name, builder.info.version)
    with _no_empty_directory(final.parent), _locked(final):
        store.recover_interrupted_swap(final)
        existing = _existing_manifest(final, force)
        todo = []
        for group in groups:
            parameters = _group_parameters(builder, typed, group)
            old = (existing or {}).get("groups", {}).get(group)
            if old is None or force:
                todo.append(group)
            elif old["parameters"] != parameters:
                changed = _diff(old["parameters"], parameters)
                raise BuildConflictError(
                    f"{final} holds {name}/{group} built with other parameters ({changed}); "
                    "pass --force to replace it or --out to build elsewhere"
                )
            else:
                in_group = {d.config for d in builder.split_definitions if d.group == group}
                missing = (explicit & in_group) - set(old["configs"])
                if missing:
                    raise BuildError(
                        f"{final} holds {group} without config(s) {', '.join(sorted(missing))}; "
                        f"{_requirements_hint(builder, sorted(missing))}"
                    )
        if not todo:
            assert existing is not None
            store.verify(final)  # never "already built" for a damaged build
            return BuildResult(final, existing, skipped=True)
        if existing is not None:
            _check_kept_files(builder, final, existing, todo)

        with dask_cluster(scheduler, dask_local) as client:
            if client is not None:
                _check_dask_workers(client)
            context_args = {
                "workers": _dask_slots(client) if client else workers or default_workers(),
                "dask": client,
                "progress": progress,
                "source_dir": Path(source).expanduser() if source is not None else None,
                "allow_unverified": allow_unverified,
            }
            # rows stream into the staging directory; scratch holds the sorted runs meanwhile
            with store.staging_dir(final) as staging, store.staging_dir(final) as scratch:
                built = {
                    group: _build_group(
                        builder,
                        typed,
                        group,
                        BuildContext(**context_args),
                        explicit,
                        staging,
                        scratch,
                    )
                    for group in todo
                }
                manifest = _publish(builder, final, existing, built, staging)
    return BuildResult(final, manifest, skipped=False, groups=tuple(todo))


def _check_planned_splits(builder: Builder, params: Any, explicit: set[str]) -> None:
    """A requested config whose required splits the parameters exclude fails before any work."""
    planned = getattr(builder, "planned_splits", None)
    if planned is None:
        return
    for definition in builder.split_definitions:
        if definition.config not in explicit:
            continue
        missing = [
            s for s in definition.requires_splits if s not in planned(params, definition.group)
        ]
        if missing:
            raise BuildError(
                f"config {definition.config} needs the {', '.join(missing)} split(s), which "
                f"these parameters do not build; add them, e.g. --splits train,validation,test"
            )


def _check_footprint(builder: Builder, params: Any, groups: list[str], root: Path) -> None:
    """Refuse, before any work, a build whose rows cannot fit in free memory or disk."""
    footprint = getattr(builder, "footprint", None)
    sizes = [f for f in (footprint(params, g) for g in groups) if f] if footprint else []
    if not sizes:
        return
    rows = sum(f.rows for f in sizes)
    options = ", ".join(dict.fromkeys(f.parameter for f in sizes))
    for what, need, have in (
        ("memory", sum(f.rows * f.memory_bytes_per_row for f in sizes), available_memory()),
        ("disk space", sum(f.rows * f.disk_bytes_per_row for f in sizes), free_disk(root)),
    ):
        if have is not None and need > have:
            raise ParameterError(
                f"{builder.info.name}: {rows:,} rows need about {_size(need)} of {what}, "
                f"{_size(have)} is free{' under ' + str(root) if what == 'disk space' else ''}; "
                f"lower {options}"
            )


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:,.0f} PB"


@contextmanager
def _no_empty_directory(directory: Path) -> Iterator[None]:
    """A failed first build leaves no empty ``<root>/<name>`` behind (the lock stays)."""
    try:
        yield
    finally:
        with suppress(OSError):
            directory.rmdir()  # only succeeds when empty


@dataclass
class _GroupBuild:
    keys: pa.Table  # the key columns of every row, sorted by id (for cross-group audits)
    splits: dict[str, dict[str, np.ndarray]]
    entry: dict[str, Any]  # the manifest's groups[<group>]
    configs: dict[str, dict[str, Any]]  # manifest configs entries (with their files)
    files: dict[str, dict[str, Any]]  # the Parquet files written, with sha256 and size
    quarantine: list[dict[str, Any]]


def _build_group(
    builder: Builder,
    params: Any,
    group: str,
    context: BuildContext,
    explicit: set[str],
    staging: Path,
    scratch: Path,
) -> _GroupBuild:
    """Rows stream to sorted runs on disk; splits, derived columns and audits come from the
    key columns in memory; then each split's Parquet files are written in ``id`` order."""
    started = time.perf_counter()
    spill, keys, derived = _spill_rows(builder, params, context, group, scratch / group)
    definitions = [d for d in builder.split_definitions if d.group == group]
    splits: dict[str, dict[str, np.ndarray]] = {}
    skipped: dict[str, str] = {}
    present: set[str] = set()
    # configs with requirements last: they depend on which splits the others found
    for definition in sorted(definitions, key=lambda d: bool(d.requires_splits)):
        missing = [s for s in definition.requires_splits if s not in present]
        if missing:
            reason = f"needs the {', '.join(missing)} split(s), which this build does not have"
            if definition.config in explicit:
                raise BuildError(f"config {definition.config} {reason}")
            skipped[definition.config] = reason
            continue
        try:
            splits[definition.config] = definition.assign(keys, params)
            check_split(splits[definition.config], keys.num_rows)
        except (ValueError, BuildError) as e:
            raise BuildError(f"config {definition.config}: {e}") from None
        present |= set(splits[definition.config])
    splits = {d.config: splits[d.config] for d in definitions if d.config in splits}
    audits = {
        "leakage": _leakage_audit(builder, keys, splits, group),
        **builder.audit(keys, splits, params, group),
    }
    hasher = ContentHasher(builder.schemas[group], scratch / group / "hash")
    writes = [
        (config, name, idx) for config, split in splits.items() for name, idx in split.items()
    ]

    def hash_rows() -> list[str]:
        for window in _windows(spill, derived, np.arange(keys.num_rows)):
            hasher.add(window)
        return []

    def write(config: str, split_name: str, idx: np.ndarray) -> list[str]:
        windows = _windows(spill, derived, idx)
        return store.write_shards(windows, len(idx), staging, config, split_name)

    threads = context.workers if getattr(builder, "concurrent_writes", False) else 1
    written = _run_all([hash_rows, *(partial(write, *task) for task in writes)], threads)[1:]
    quarantine = [dataclasses.asdict(q) for q in context.quarantine]
    entry: dict[str, Any] = {
        "configs": list(splits),
        "configs_not_built": skipped,
        "parameters": _group_parameters(builder, params, group),
        "seed": getattr(params, "seed", None),
        "content_hash": hasher.finish(keys["id"], splits),
        "rows": keys.num_rows,
        "schema": {f.name: str(f.type) for f in builder.schemas[group]},
        "counts": context.counts,
        "quarantine": {
            "rows": len(quarantine),
            "file": f"{QUARANTINE_DIR}/{group}.jsonl" if quarantine else None,
        },
        "sources": list({json.dumps(s, sort_keys=True): s for s in context.sources}.values()),
        "absent_splits": context.absent_splits,
        "audits": audits,
        "environment": environment(),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": 0.0,  # set once the files are written
        "workers": context.workers,
        "executor": "dask" if context.dask is not None else "local processes",
    }
    by_config = {d.config: d for d in definitions}
    configs: dict[str, dict[str, Any]] = {}
    files: dict[str, dict[str, Any]] = {}
    for config, split in splits.items():
        configs[config] = {
            "group": group,
            "content_hash": entry["content_hash"],
            "splits": {},
            "absent_splits": {
                s: context.absent_splits.get(s, "not part of this build")
                for s in by_config[config].split_names
                if s not in split
            },
        }
    for (config, split_name, idx), rel_paths in zip(writes, written, strict=True):
        configs[config]["splits"][split_name] = {"rows": len(idx), "files": rel_paths}
        files.update({rel: _file_record(staging / rel) for rel in rel_paths})
    shutil.rmtree(scratch / group, ignore_errors=True)
    entry["build_seconds"] = round(time.perf_counter() - started, 2)
    return _GroupBuild(keys, splits, entry, configs, files, quarantine)


def _publish(
    builder: Builder,
    final: Path,
    existing: dict[str, Any] | None,
    built: dict[str, _GroupBuild],
    staging: Path,
) -> dict[str, Any]:
    """Finish the new version directory: kept groups linked, manifest and card, then swap."""
    kept_groups = {g: e for g, e in (existing or {}).get("groups", {}).items() if g not in built}
    manifest: dict[str, Any] = {
        "format": store.MANIFEST_FORMAT,
        "name": builder.info.name,
        "version": builder.info.version,
        "groups": {},
        "configs": {},
    }
    files: dict[str, dict[str, Any]] = {}
    for group, entry in kept_groups.items():
        manifest["groups"][group] = entry
        for config in entry["configs"]:
            manifest["configs"][config] = existing["configs"][config]  # type: ignore[index]
        for rel, record in existing["files"].items():  # type: ignore[index]
            if _file_group(rel, existing) == group:
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(final / rel, target)
                files[rel] = record
    for group, result in built.items():
        manifest["groups"][group] = result.entry
        manifest["configs"].update(result.configs)
        files.update(result.files)
        if result.quarantine:
            rel = result.entry["quarantine"]["file"]
            (staging / QUARANTINE_DIR).mkdir(exist_ok=True)
            lines = [json.dumps(q, ensure_ascii=False) for q in result.quarantine]
            fsutil.write_text(staging / rel, "\n".join(lines) + "\n")
            files[rel] = _file_record(staging / rel)
    manifest["configs"] = _in_declared_order(builder, manifest["configs"])
    manifest["groups"] = {
        g: manifest["groups"][g] for g in _declared_groups(builder) if g in manifest["groups"]
    }
    manifest["content_hash"] = store.version_hash(manifest["groups"])
    tables = {g: r.keys for g, r in built.items()}
    columns = getattr(builder, "cross_audit_columns", None)
    for group in kept_groups:
        tables[group] = _group_table(staging, manifest, group, columns)
    manifest["cross_audits"] = builder.cross_audit(tables)
    notes = {d.config: d.description for d in builder.split_definitions}
    manifest["files"] = files  # the card names every split's exact files
    fsutil.write_text(staging / store.CARD_NAME, render_card(builder.info, manifest, notes))
    files[store.CARD_NAME] = _file_record(staging / store.CARD_NAME)
    manifest["files"] = dict(sorted(files.items()))
    manifest = store.write_manifest(staging, manifest)
    # under the lock, after the checks of build(): an existing directory is replaced
    # (with --force even one whose manifest could not be read)
    store.publish(staging, final, replace=final.exists())
    return manifest


def _check_kept_files(
    builder: Builder, final: Path, existing: dict[str, Any], rebuilt: list[str]
) -> None:
    """The groups a build keeps are linked into the new version: check them first, so a
    damaged group is never republished and no long build is wasted on it."""
    for group in existing.get("groups", {}):
        if group in rebuilt:
            continue
        for rel, record in existing["files"].items():
            if _file_group(rel, existing) != group:
                continue
            path = final / rel
            if (
                not path.is_file()
                or path.resolve() != final.resolve() / rel  # a symlink: never linked across
                or path.stat().st_size != record["bytes"]
                or (fsutil.sha256_file(path) != record["sha256"])
            ):
                configs = ",".join(existing["groups"][group]["configs"])
                raise IntegrityError(
                    f"{path} is missing, a symlink or differs from the manifest; rebuild that "
                    f"group first: molbench build {builder.info.name} --config {configs} --force"
                )


def _group_table(
    directory: Path, manifest: dict[str, Any], group: str, columns: Sequence[str] | None
) -> pa.Table:
    config = manifest["groups"][group]["configs"][0]
    schema = manifest["groups"][group]["schema"]
    wanted = [c for c in columns if c in schema] if columns is not None else None
    parts = [
        pq.read_table(directory / rel, columns=wanted)
        for split in manifest["configs"][config]["splits"].values()
        for rel in split["files"]
    ]
    return pa.concat_tables(parts)


def _file_group(rel: str, manifest: dict[str, Any]) -> str | None:
    head = rel.split("/", 1)[0]
    if head in manifest["configs"]:
        return manifest["configs"][head]["group"]
    if head == QUARANTINE_DIR:
        return Path(rel).stem
    return None


def _declared_groups(builder: Builder) -> list[str]:
    return list(dict.fromkeys(d.group for d in builder.split_definitions))


def _in_declared_order(builder: Builder, configs: dict[str, Any]) -> dict[str, Any]:
    return {d.config: configs[d.config] for d in builder.split_definitions if d.config in configs}


def _requirements_hint(builder: Builder, configs: list[str]) -> str:
    needs = {d.config: d.requires_splits for d in builder.split_definitions if d.config in configs}
    parts = [f"{c} needs splits {', '.join(r)}" for c, r in needs.items() if r]
    return "; ".join(parts) + "; rebuild with --splits train,validation,test --force"


def _existing_manifest(final: Path, force: bool) -> dict[str, Any] | None:
    if not final.exists():
        return None
    older = store.older_format(final / store.MANIFEST_NAME)
    if older is not None:
        # written by an earlier molbench: same version, same rows; only the layout changed
        log.warning(
            "rebuilding %s: it was written by an older molbench (manifest format %s)", final, older
        )
        return None
    try:
        manifest = store.read_manifest(final)
    except (IntegrityError, DatasetNotFoundError) as e:
        if force:
            return None
        message = str(e)
        hint = "" if "--force" in message else "; pass --force to replace it"
        raise BuildConflictError(message + hint) from None
    if "groups" not in manifest:  # pragma: no cover - older layouts
        raise BuildConflictError(f"{final} is in an older layout; pass --force to rebuild it")
    return manifest


@contextmanager
def _locked(final: Path) -> Iterator[None]:
    """One build of a dataset version at a time (several groups may be built in turn)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    locks = final.parent.parent / ".locks"
    locks.mkdir(exist_ok=True)
    lock = locks / f"{final.parent.name}-{final.name}.lock"
    with fsutil.exclusive_lock(lock, f"another build of {final.parent.name} {final.name}"):
        yield


def _group_parameters(builder: Builder, params: Any, group: str) -> dict[str, Any]:
    """The parameters that shape this group's rows (what a rebuild must match)."""
    select = getattr(builder, "parameters_for", None)
    return select(params, group) if select else dataclasses.asdict(params)


def _spill_rows(
    builder: Builder, params: Any, context: BuildContext, group: str, directory: Path
) -> tuple[RowSpill, pa.Table, dict[str, Any]]:
    """Every row to sorted runs on disk; the key columns (sorted by id) and derived columns."""
    schema = builder.schemas[group]
    key_columns = [
        builder.info.structure_column,
        *builder.key_columns[group],
        *getattr(builder, "cross_audit_columns", ()),
    ]
    spill = RowSpill(directory, schema, [c for c in key_columns if c in schema.names])
    batches = getattr(builder, "batches", None)  # optional: rows already as Arrow columns
    try:
        if batches is not None:
            for batch in batches(params, context, group):
                spill.add(batch)
        else:
            for chunk in _chunks(builder.rows(params, context, group), ROWS_PER_BATCH):
                spill.add(pa.RecordBatch.from_pylist(chunk, schema=schema))
    except MolbenchError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise BuildError(
            f"{builder.info.name}/{group} produced rows that do not fit its schema: {e}"
        ) from e
    keys = spill.finish()
    derive = getattr(builder, "derive", None)  # columns that need every row (e.g. overlaps)
    derived = derive(keys, params, group) if derive is not None else {}
    for column, values in derived.items():
        index = schema.get_field_index(column)
        if column in keys.schema.names:
            keys = keys.set_column(keys.schema.get_field_index(column), schema.field(index), values)
    if keys.num_rows == 0:
        raise BuildError(f"{builder.info.name}/{group} produced no rows")
    if duplicated_structures(keys["id"]):
        raise BuildError(f"{builder.info.name}/{group} produced duplicate ids")
    return spill, keys, derived


def _run_all(tasks: list[Callable[[], list[str]]], threads: int) -> list[list[str]]:
    """Each task's result, in order; on up to ``threads`` threads (the Parquet and hash
    work releases the GIL). Every file is still written by one thread, start to end, so
    the bytes do not depend on the number of threads."""
    if threads <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(min(threads, len(tasks))) as pool:
        return list(pool.map(lambda task: task(), tasks))


def _windows(spill: RowSpill, derived: dict[str, Any], positions: np.ndarray) -> Iterator[pa.Table]:
    """The rows at ``positions`` (ascending), derived columns filled in."""
    start = 0
    for window in spill.windows(positions):
        chosen = pa.array(positions[start : start + window.num_rows])
        for column, values in derived.items():
            index = window.schema.get_field_index(column)
            window = window.set_column(index, window.schema.field(index), values.take(chosen))
        start += window.num_rows
        yield window


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _leakage_audit(
    builder: Builder,
    table: pa.Table,
    splits: dict[str, dict[str, np.ndarray]],
    group: str,
) -> dict[str, Any]:
    """Structures shared between splits, per config; leak-free configs must share none."""
    column = table[builder.info.structure_column]
    keys = np.asarray(column.to_pylist(), dtype=object)
    report: dict[str, Any] = {
        "structure_key": builder.info.structure_column,
        "duplicated_structures": duplicated_structures(column),
        "shared_between_splits": {},
    }
    definitions: dict[str, SplitDefinition] = {d.config: d for d in builder.split_definitions}
    for config, split in splits.items():
        shared = shared_structures(keys, split)
        report["shared_between_splits"][config] = shared
        if definitions[config].leak_free and any(shared.values()):
            raise BuildError(
                f"leakage audit: config {config} shares structures between splits "
                f"({shared}); nothing was written"
            )
    return report


def _file_record(path: Path) -> dict[str, Any]:
    return {"sha256": fsutil.sha256_file(path), "bytes": path.stat().st_size}


def _diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {old.get(k)} -> {new.get(k)}" for k in new if old.get(k) != new.get(k))


def _dask_slots(client: Any) -> int:
    return sum(client.nthreads().values())


def _check_dask_workers(client: Any) -> None:
    """Every Dask worker runs the library versions that shape the bytes, as this client."""
    mine = _shaping_versions(environment())
    theirs = client.run(lambda: _shaping_versions(environment()))
    if not theirs:
        raise BuildError(f"the Dask cluster at {client.scheduler.address} has no workers")
    different = {worker: v for worker, v in theirs.items() if v != mine}
    if different:
        worker, versions = next(iter(different.items()))
        raise BuildError(
            f"{len(different)} Dask worker(s) run other library versions than this client "
            f"(e.g. {worker}: {versions}; here: {mine}), so their rows could differ"
        )


def _shaping_versions(versions: dict[str, str]) -> dict[str, str]:
    return {k: versions[k] for k in ("molbench", "rdkit", "pyarrow", "numpy")}


def environment() -> dict[str, str]:
    """Library versions that can change bytes or results: recorded in every manifest."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for package in ("molbench", "rdkit", "pyarrow", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
