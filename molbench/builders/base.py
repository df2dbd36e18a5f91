"""The builder interface: what one dataset module declares so the store can build it.

A builder is data (:class:`DatasetInfo`, a parameter dataclass, an Arrow schema, split
definitions) plus one generator of rows. Everything about disk, hashing, audits and cards
lives elsewhere, so adding a dataset is one module and one line in ``BUILDERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a dataset that go into its card and manifest."""

    name: str
    version: str  # semantic version: bump the major on any change to rows or splits
    title: str
    summary: str  # one paragraph of markdown for the card
    license: str  # Hugging Face licence identifier, e.g. "cc0-1.0"
    citation: str  # BibTeX
    columns: Mapping[str, str]  # column name -> what it holds
    structure_column: str  # canonical structure key used by the leakage audit
    notes: str = ""  # longer markdown for the card: construction, caveats


@dataclass(frozen=True)
class SplitDefinition:
    """One config: a named, seeded assignment of rows to train / validation / test."""

    config: str
    description: str
    assign: Callable[[pa.Table, Any], dict[str, np.ndarray]]
    leak_free: bool = True  # the leakage audit must find no shared structure


@dataclass
class BuildContext:
    """What a running build may use and report: workers, progress bars, counters."""

    workers: int = 1
    progress: bool = False
    counts: dict[str, Any] = field(default_factory=dict)


class Builder(Protocol):
    info: DatasetInfo
    params_type: type  # a frozen dataclass whose fields are the typed build parameters
    schema: pa.Schema
    split_definitions: tuple[SplitDefinition, ...]

    def rows(self, params: Any, context: BuildContext) -> Iterator[dict[str, Any]]:
        """Yield every row; ``id`` must be unique. Record counts in ``context.counts``."""
        ...

    def audit(
        self, table: pa.Table, splits: Mapping[str, Mapping[str, np.ndarray]], params: Any
    ) -> dict[str, Any]:
        """Dataset-specific audits (e.g. shortcut baselines) for the manifest and card."""
        ...
