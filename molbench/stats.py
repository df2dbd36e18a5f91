"""Generic statistics shared by every task: accuracy, the seeded bootstrap, paired tests.

Task-specific metrics live with their task (``molbench/tasks/*_metrics.py``); this module
holds only what several of them use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class PairedTest:
    """A paired comparison of A and B on the same rows: mean(A) - mean(B) and p-values."""

    test: str
    difference: float
    ci95: tuple[float, float]
    p_greater: float  # one-sided: H0 "A is no better than B"
    p_two_sided: float
    detail: str = ""  # what the test counted, for people reading it
    p_floor: float = 0.0  # the smallest p the test can give (a bootstrap's resolution)


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, seed: int = 0, resamples: int = 10_000
) -> PairedTest:
    """Paired bootstrap of mean(a) - mean(b): rows resampled together, so both see the same.

    The one-sided p is the share of resamples where A is not ahead (plus one, so it is never
    0 from finitely many resamples); identical inputs give p = 1.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"paired values need two equal non-empty rows, got {a.shape} {b.shape}")
    d = a - b
    # a resample's mean depends only on how often it draws each distinct difference, and
    # those counts are multinomial: the same distribution as resampling rows, far cheaper
    values, counts = np.unique(d, return_counts=True)
    draws = np.random.default_rng(seed).multinomial(len(d), counts / len(d), size=resamples)
    means = draws @ values / len(d)
    tol = 1e-12  # equal rows drawn in another order need not sum to exactly 0
    p_greater = (np.count_nonzero(means <= tol) + 1) / (resamples + 1)
    p_less = (np.count_nonzero(means >= -tol) + 1) / (resamples + 1)
    low, high = np.quantile(means, [0.025, 0.975])
    return PairedTest(
        "paired bootstrap",
        float(d.mean()),
        (float(low), float(high)),
        float(p_greater),
        float(min(1.0, 2 * min(p_greater, p_less))),
        f"{resamples:,} resamples of {len(d):,} rows, seed {seed}",
        1 / (resamples + 1),
    )


def mcnemar(a: np.ndarray, b: np.ndarray) -> PairedTest:
    """McNemar's exact test on 0/1 rows: of the rows where A and B disagree, A's wins are
    Binomial(disagreements, 1/2) if neither is better. Exact at every count (scipy)."""
    from scipy.stats import binomtest

    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"paired values need two equal non-empty rows, got {a.shape} {b.shape}")
    if not (np.isin(a, (0, 1)).all() and np.isin(b, (0, 1)).all()):
        raise ValueError("McNemar's test needs 0/1 values (right or wrong per row)")
    wins = int(np.count_nonzero((a == 1) & (b == 0)))
    losses = int(np.count_nonzero((a == 0) & (b == 1)))
    discordant, n = wins + losses, len(a)
    detail = f"{wins:,} rows only A got right, {losses:,} only B"
    if discordant == 0:
        return PairedTest("McNemar exact", 0.0, (0.0, 0.0), 1.0, 1.0, detail)
    d = (wins - losses) / n
    # Wald interval of a paired difference of proportions (Agresti, Categorical Data Analysis)
    half = 1.959964 * math.sqrt(max(discordant - (wins - losses) ** 2 / n, 0.0)) / n
    greater = binomtest(wins, discordant, 0.5, alternative="greater").pvalue
    two_sided = binomtest(wins, discordant, 0.5, alternative="two-sided").pvalue
    return PairedTest(
        "McNemar exact", d, (d - half, d + half), float(greater), float(two_sided), detail
    )
