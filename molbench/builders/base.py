"""The builder interface: what one dataset module declares so the store can build it.

A builder is data (:class:`DatasetInfo`, a parameter dataclass, Arrow schemas, config
definitions) plus one generator of rows per *group*. A group is one table of rows that
several configs split differently (USPTO-MIT and its scaffold split share rows; USPTO-15K
is another group). Groups are built and replaced independently inside one dataset version.
Everything about disk, hashing, audits and cards lives elsewhere, so adding a dataset is
one module and one line in ``BUILDERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

DEFAULT_GROUP = "default"
SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a dataset that go into its card and manifest."""

    name: str
    version: str  # semantic version: bump the major on any change to rows or splits
    title: str
    summary: str  # one paragraph of markdown for the card
    license: str  # Hugging Face licence identifier, e.g. "cc0-1.0"
    citation: str  # BibTeX
    columns: Mapping[str, str]  # column name -> what it holds (all groups together)
    structure_column: str  # canonical structure key used by the leakage audit
    notes: str = ""  # longer markdown for the card: construction, caveats


@dataclass(frozen=True)
class SplitDefinition:
    """One config: a named, seeded assignment of a group's rows to its splits."""

    config: str
    description: str
    assign: Callable[[pa.Table, Any], dict[str, np.ndarray]]  # (key columns, params)
    leak_free: bool = True  # the leakage audit must find no shared structure
    group: str = DEFAULT_GROUP  # the table of rows this config splits
    requires_splits: tuple[str, ...] = ()  # built only when the group has all of these
    split_names: tuple[str, ...] = SPLIT_NAMES  # the splits a complete build of it has


@dataclass(frozen=True)
class Quarantined:
    """A raw record that could not become a row: kept, with the reason, beside the data."""

    source: str  # raw file it came from
    line: int  # 1-based line number in that file
    reason: str
    text: str  # the raw record as read


@dataclass(frozen=True)
class Footprint:
    """What building one group will hold at its peak, from its parameters, before any work.

    Builders whose size is a parameter declare it (``footprint(params, group)``), with the
    bytes per row measured on a real build, so an impossible size is refused in one line
    instead of running until the machine kills it.
    """

    rows: int
    memory_bytes_per_row: int  # peak resident memory of the build per row
    disk_bytes_per_row: int  # Parquet on disk per row
    parameter: str  # the option that sets the size, for the message


@dataclass
class BuildContext:
    """What a running build may use and report: workers, progress, sources, counters."""

    workers: int = 1
    dask: Any = None  # a dask.distributed Client: the per-row map runs on its cluster
    progress: bool = False
    source_dir: Path | None = None  # --source: a raw-data root (one folder per source)
    allow_unverified: bool = False  # accept raw files whose checksum differs from the pin
    counts: dict[str, Any] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)  # raw files read, with checks
    quarantine: list[Quarantined] = field(default_factory=list)
    absent_splits: dict[str, str] = field(default_factory=dict)  # split -> how to get it


class Builder(Protocol):
    """Optional hooks, found with ``getattr``: ``parameters_for(params, group)``,
    ``derive(table, params, group)``, ``footprint(params, group) -> Footprint | None``,
    ``planned_splits(params, group)`` (the splits a build will have, checked against the
    configs' ``requires_splits`` before any work) and ``batches(params, context, group)``
    (the rows as Arrow record batches of the group's schema, used instead of ``rows``:
    a builder whose workers make columns saves a dict per row). An attribute
    ``concurrent_writes = True`` lets the build write its splits' Parquet files and the
    content hash on up to ``workers`` threads (each file by one thread: same bytes), at
    the cost of one row group in memory per thread."""

    info: DatasetInfo
    params_type: type  # a frozen dataclass whose fields are the typed build parameters
    schemas: Mapping[str, pa.Schema]  # group -> Arrow schema of its rows
    split_definitions: tuple[SplitDefinition, ...]
    default_configs: tuple[str, ...]  # what ``molbench build <name>`` builds
    raw_sources: tuple[str, ...]  # raw-data folders it reads (empty: generated offline)
    # group -> the columns its splits, audits and ``derive`` read: the build keeps these in
    # memory (with ``id`` and the structure column); every other column only streams past
    key_columns: Mapping[str, tuple[str, ...]]

    def rows(self, params: Any, context: BuildContext, group: str) -> Iterator[dict[str, Any]]:
        """Yield every row of ``group``; ``id`` must be unique. Report in ``context``."""
        ...

    def audit(
        self,
        table: pa.Table,
        splits: Mapping[str, Mapping[str, np.ndarray]],
        params: Any,
        group: str,
    ) -> dict[str, Any]:
        """Dataset-specific audits of one group (e.g. shortcut baselines); ``table`` holds
        the key columns of every row, sorted by ``id``."""
        ...

    # Optional: ``derive(keys, params, group) -> {column: values}`` fills columns that need
    # every row (e.g. "is this test reaction in train"), from the key columns alone.

    def cross_audit(self, tables: Mapping[str, pa.Table]) -> dict[str, Any]:
        """Audits across the groups present in the build (e.g. one set's train in another's
        test); ``tables`` maps group -> all its rows. Return {} when nothing applies."""
        ...
