"""Generic statistics shared by every task: accuracy and the seeded percentile bootstrap.

Task-specific metrics live with their task (``molbench/tasks/*_metrics.py``); this module
holds only what several of them use.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of exact matches."""
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true: np.ndarray,
    y_other: np.ndarray,
    seed: int = 0,
    resamples: int = 1000,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over rows resampled with replacement."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    values = np.empty(resamples)
    for b in range(resamples):
        idx = rng.integers(0, n, size=n)
        values[b] = metric(y_true[idx], y_other[idx])
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return (float("nan"), float("nan"))
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return (float(low), float(high))
