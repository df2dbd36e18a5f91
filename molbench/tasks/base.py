"""The task interface: how one dataset's predictions are checked and scored.

A task names its dataset, the prediction columns it accepts, its metrics, and its headline
metric with direction. Evaluation (``molbench.evaluate``) is the same for every task:
resolve the split, align and validate predictions, then call ``score``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

BOOTSTRAP_RESAMPLES = 1000


class Task(Protocol):
    dataset: str
    default_config: str  # scored when --config is not given
    headline: str
    summary_metrics: Sequence[str]  # the leaderboard's columns, headline included
    higher_is_better: bool
    prediction_columns: Mapping[str, str]  # column -> "probability" | "binary"
    required_columns: Sequence[Sequence[str]]  # at least one of each group
    prediction_help: str  # the predictions format, for users and error messages
    literature: Sequence[Mapping[str, str]]  # published numbers: method, metric, value, citation

    def score(
        self,
        truth: pa.Table,
        predictions: Mapping[str, np.ndarray],
        seed: int,
        context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``{"metrics": {...}, "headline": {...}, "buckets": {...}}`` for one split.

        ``context`` carries task-specific extra inputs (e.g. retrieval candidates)."""
        ...

    def plot(self, results: Sequence[Mapping[str, Any]], path: Path) -> None:
        """The leaderboard picture for this dataset from result JSONs."""
        ...


def per_row_record(ids: Sequence[Any], **values: Sequence[Any]) -> dict[str, Any]:
    """``result["per_row"]``: one value per row in split order, keyed to the ids by a hash,
    so two results can be paired row by row (``molbench compare``) or rescored later."""
    digest = hashlib.sha256("\n".join(str(i) for i in ids).encode("utf-8")).hexdigest()
    return {"ids_sha256": digest, "n": len(ids), **{k: list(v) for k, v in values.items()}}
