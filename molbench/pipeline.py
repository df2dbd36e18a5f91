"""Run a builder end to end: rows → splits → audits → Parquet + manifest + card, atomically."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time
import typing
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from molbench import store
from molbench.builders import BUILDERS, BuildContext, Builder
from molbench.card import render_card
from molbench.errors import (
    BuildConflictError,
    BuildError,
    DatasetNotFoundError,
    MolbenchError,
    ParameterError,
)
from molbench.parallel import default_workers
from molbench.splits import check_split, duplicated_structures, shared_structures


@dataclass(frozen=True)
class BuildResult:
    path: Path
    manifest: dict[str, Any]
    skipped: bool  # an identical build was already there


def get_builder(name: str) -> Builder:
    if name not in BUILDERS:
        raise DatasetNotFoundError(f"unknown dataset {name!r}; known: {', '.join(BUILDERS)}")
    return BUILDERS[name]


def param_types(params_type: type) -> dict[str, type]:
    """Each parameter's declared type (annotations resolved, also under postponed evaluation)."""
    hints = typing.get_type_hints(params_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(params_type)}


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


def build(
    name: str,
    params: dict[str, Any] | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    workers: int | None = None,
    progress: bool = False,
) -> BuildResult:
    """Build dataset ``name`` into ``<root>/<name>/<version>``; skip if already built the same.

    A different existing build of the same version is an error unless ``force``.
    """
    builder = get_builder(name)
    typed = make_params(builder, params)
    parameters = dataclasses.asdict(typed)
    final = store.version_dir(store.resolve_root(out), name, builder.info.version)
    if final.exists() and not force:
        existing = store.read_manifest(final)
        if existing["parameters"] == parameters:
            return BuildResult(final, existing, skipped=True)
        changed = _diff(existing["parameters"], parameters)
        raise BuildConflictError(
            f"{final} was built with other parameters ({changed}); "
            "pass --force to replace it or --out to build elsewhere"
        )

    started = time.perf_counter()
    context = BuildContext(workers=workers or default_workers(), progress=progress)
    table = _rows_table(builder, typed, context)
    splits = {}
    for definition in builder.split_definitions:
        try:
            splits[definition.config] = definition.assign(table, typed)
            check_split(splits[definition.config], table.num_rows)
        except (ValueError, BuildError) as e:
            raise BuildError(f"config {definition.config}: {e}") from None
    audits = {
        "leakage": _leakage_audit(builder, table, splits),
        **builder.audit(table, splits, typed),
    }

    manifest: dict[str, Any] = {
        "format": store.MANIFEST_FORMAT,
        "name": name,
        "version": builder.info.version,
        "parameters": parameters,
        "seed": parameters.get("seed"),
        "content_hash": store.content_hash(table, splits),
        "schema": {f.name: str(f.type) for f in table.schema},
        "counts": context.counts,
        "audits": audits,
        "configs": {},
    }
    with store.staging_dir(final) as staging:
        files: dict[str, dict[str, Any]] = {}
        for config, split in splits.items():
            manifest["configs"][config] = {"splits": {}}
            for split_name, idx in split.items():
                rel_paths = store.write_shards(
                    table.take(pa.array(idx)), staging, config, split_name
                )
                manifest["configs"][config]["splits"][split_name] = {
                    "rows": len(idx),
                    "files": rel_paths,
                }
                files.update({rel: _file_record(staging / rel) for rel in rel_paths})
        notes = {d.config: d.description for d in builder.split_definitions}
        store.write_text(staging / store.CARD_NAME, render_card(builder.info, manifest, notes))
        files[store.CARD_NAME] = _file_record(staging / store.CARD_NAME)
        manifest["files"] = files
        manifest["environment"] = environment()
        manifest["built_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        manifest["build_seconds"] = round(time.perf_counter() - started, 2)
        manifest["workers"] = context.workers
        store.write_manifest(staging, manifest)
        store.publish(staging, final, replace=force)
    return BuildResult(final, manifest, skipped=False)


def _rows_table(builder: Builder, params: Any, context: BuildContext) -> pa.Table:
    try:
        table = pa.Table.from_pylist(list(builder.rows(params, context)), schema=builder.schema)
    except MolbenchError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise BuildError(
            f"{builder.info.name} produced rows that do not fit its schema: {e}"
        ) from e
    table = table.sort_by("id")
    if duplicated_structures(table["id"].to_numpy()):
        raise BuildError(f"{builder.info.name} produced duplicate ids")
    return table


def _leakage_audit(
    builder: Builder, table: pa.Table, splits: dict[str, dict[str, np.ndarray]]
) -> dict[str, Any]:
    """Structures shared between splits, per config; leak-free configs must share none."""
    keys = np.asarray(table[builder.info.structure_column].to_pylist(), dtype=object)
    report: dict[str, Any] = {
        "structure_key": builder.info.structure_column,
        "duplicated_structures": duplicated_structures(keys.astype(str)),
        "shared_between_splits": {},
    }
    for definition in builder.split_definitions:
        shared = shared_structures(keys, splits[definition.config])
        report["shared_between_splits"][definition.config] = shared
        if definition.leak_free and any(shared.values()):
            raise BuildError(
                f"leakage audit: config {definition.config} shares structures between splits "
                f"({shared}); nothing was written"
            )
    return report


def _file_record(path: Path) -> dict[str, Any]:
    return {"sha256": store.sha256_file(path), "bytes": path.stat().st_size}


def _diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {old.get(k)} -> {new.get(k)}" for k in new if old.get(k) != new.get(k))


def environment() -> dict[str, str]:
    """Library versions that can change bytes or results: recorded in every manifest."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for package in ("molbench", "rdkit", "pyarrow", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
