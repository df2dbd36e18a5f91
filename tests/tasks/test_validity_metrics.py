"""Metric functions against hand-computed values, degenerate cases included."""

import math

import numpy as np
import pytest

from molbench.stats import accuracy, bootstrap_ci
from molbench.tasks.validity_metrics import auroc, balanced_accuracy, matthews_corrcoef

Y = np.array([1, 1, 1, 0, 0])
P = np.array([1, 0, 1, 0, 1])  # tp 2, fn 1, tn 1, fp 1


def test_accuracy_and_balanced_accuracy_by_hand() -> None:
    assert accuracy(Y, P) == pytest.approx(3 / 5)
    assert balanced_accuracy(Y, P) == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_mcc_by_hand() -> None:
    # (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (2 - 1) / sqrt(3*3*2*2)
    assert matthews_corrcoef(Y, P) == pytest.approx(1 / 6)
    assert matthews_corrcoef(Y, Y) == pytest.approx(1.0)
    assert matthews_corrcoef(Y, 1 - Y) == pytest.approx(-1.0)


def test_auroc_by_hand_with_ties() -> None:
    y = np.array([1, 1, 0, 0])
    s = np.array([0.9, 0.5, 0.5, 0.1])
    # pairs (pos, neg): (0.9,0.5)=1 (0.9,0.1)=1 (0.5,0.5)=0.5 (0.5,0.1)=1 -> 3.5/4
    assert auroc(y, s) == pytest.approx(0.875)
    assert auroc(y, np.full(4, 0.3)) == pytest.approx(0.5)  # all tied


def test_degenerate_inputs_are_nan_not_a_guess() -> None:
    one_class = np.array([1, 1, 1])
    assert math.isnan(auroc(one_class, np.array([0.1, 0.5, 0.9])))
    assert math.isnan(matthews_corrcoef(Y, np.ones(5, dtype=int)))  # constant prediction
    assert balanced_accuracy(one_class, np.array([1, 0, 1])) == pytest.approx(2 / 3)
    assert math.isnan(accuracy(np.array([]), np.array([])))


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.where(rng.random(500) < 0.9, y, 1 - y)
    a = bootstrap_ci(accuracy, y, p, seed=1)
    assert a == bootstrap_ci(accuracy, y, p, seed=1)
    assert a != bootstrap_ci(accuracy, y, p, seed=2)
    assert a[0] < accuracy(y, p) < a[1]
    assert a[1] - a[0] < 0.07  # ~ 4 standard errors of a 0.9 proportion on 500 rows
