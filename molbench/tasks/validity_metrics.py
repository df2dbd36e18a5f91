"""Validity metrics: pure functions, numpy in, float out, each with its direction in ``METRICS``.

Conventions for degenerate inputs are explicit and tested: a metric that is undefined
(AUROC with one class present, MCC with a constant prediction) returns ``nan``, never a
silently chosen number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from molbench.stats import accuracy


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true``."""
    classes = np.unique(y_true)
    if len(classes) == 0:
        return float("nan")
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def matthews_corrcoef(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Binary MCC; ``nan`` when a row or column of the confusion matrix is empty."""
    t = y_true.astype(bool)
    p = y_pred.astype(bool)
    tp = float(np.sum(t & p))
    tn = float(np.sum(~t & ~p))
    fp = float(np.sum(~t & p))
    fn = float(np.sum(t & ~p))
    denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    if denominator == 0:
        return float("nan")
    return float((tp * tn - fp * fn) / np.sqrt(denominator))


def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum statistic; tied scores count one half."""
    positive = y_true.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(len(x), dtype=float)
    boundaries = np.flatnonzero(np.diff(sorted_x)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(x)]])
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2
    return ranks


@dataclass(frozen=True)
class Metric:
    """A metric function with its direction and what it consumes (labels or scores)."""

    fn: Callable[[np.ndarray, np.ndarray], float]
    higher_is_better: bool = True
    needs_scores: bool = False  # AUROC-style: consumes the score, not the thresholded label


METRICS: Mapping[str, Metric] = {
    "accuracy": Metric(accuracy),
    "balanced_accuracy": Metric(balanced_accuracy),
    "mcc": Metric(matthews_corrcoef),
    "auroc": Metric(auroc, needs_scores=True),
}
