"""The task interface: how one dataset's predictions are checked and scored.

A task names its dataset, the prediction columns it accepts, its metrics, and its headline
metric with direction. Evaluation (``molbench.evaluate``) is the same for every task:
resolve the split, align and validate predictions, then call ``score``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class Curve:
    """What a leaderboard draws beside a section's bars for one run (accuracy by size, top-k)."""

    title: str
    x_label: str
    points: Mapping[str, float]  # x as the buckets write it ("4", "6+") -> value
    train_up_to: int | None = None  # size OOD: x up to here was all the training data had
    bucket: str = ""  # the result bucket it draws, if any (the site then skips that view)


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
        """``{"metrics": {...}, "headline": {...}, "buckets": {...}, "per_row": {...}}``.

        ``per_row`` maps names (the headline's among them) to one value per row in split
        order, so two results can be compared row by row (``molbench compare``).
        ``context`` carries task-specific extra inputs (e.g. retrieval candidates)."""
        ...

    def curve(self, result: Mapping[str, Any]) -> Curve | None:
        """The curve beside the leaderboard's bars for one result (None: bars only)."""
        ...


def per_row_record(ids: Sequence[Any], **values: Sequence[Any]) -> dict[str, Any]:
    """``result["per_row"]``: one value per row in split order, keyed to the ids by a hash,
    so two results can be paired row by row (``molbench compare``) or rescored later."""
    digest = hashlib.sha256("\n".join(str(i) for i in ids).encode("utf-8")).hexdigest()
    return {"ids_sha256": digest, "n": len(ids), **{k: list(v) for k, v in values.items()}}
