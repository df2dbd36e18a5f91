"""Trivial baselines that show how much of a classification task a shortcut solves.

A dataset card that says "bag-of-characters gets 62%" tells users what a real model must
beat. Pure numpy, deterministic, no training randomness.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np


def majority_class(train_y: np.ndarray, n_test: int) -> np.ndarray:
    """Always the most frequent training label (ties: the smaller)."""
    return np.full(n_test, _majority(train_y))


def length_only(
    train_text: Sequence[str], train_y: np.ndarray, test_text: Sequence[str]
) -> np.ndarray:
    """The best classifier that sees only string length: the training majority per length."""
    fallback = _majority(train_y)
    by_length: dict[int, list[int]] = {}
    for text, y in zip(train_text, train_y.tolist(), strict=True):
        by_length.setdefault(len(text), []).append(y)
    rule = {length: _majority(np.array(ys)) for length, ys in by_length.items()}
    return np.array([rule.get(len(t), fallback) for t in test_text])


def bag_of_characters(
    train_text: Sequence[str],
    train_y: np.ndarray,
    test_text: Sequence[str],
    l2: float = 1.0,
) -> np.ndarray:
    """L2-regularised logistic regression on character counts (order thrown away).

    Returns the test probabilities of label 1.
    """
    alphabet = sorted(set("".join(train_text)))
    x_train, x_test = (_char_counts(t, alphabet) for t in (train_text, test_text))
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-9
    w = fit_logistic_regression((x_train - mean) / std, train_y, l2)
    return 1.0 / (1.0 + np.exp(-np.clip(_with_bias((x_test - mean) / std) @ w, -30, 30)))


def unsaturation_rule(formulas: Sequence[str], n_double_bonds: np.ndarray) -> np.ndarray:
    """1 where H = 2C + 2 - 2·(double bonds), the formula identity of acyclic hydrocarbons.

    Sees only the formula and the double-bond count, yet catches every edit that changes
    either: the formula-level shortcut of a valence task.
    """
    out = np.zeros(len(formulas), dtype=np.int64)
    for i, (text, doubles) in enumerate(zip(formulas, n_double_bonds.tolist(), strict=True)):
        match = _HILL_HYDROCARBON.fullmatch(text)
        if match is None:
            raise ValueError(f"not a hydrocarbon formula: {text!r}")
        carbons = int(match[1] or 1)
        hydrogens = 0 if match[2] is None else int(match[3] or 1)
        out[i] = int(hydrogens == 2 * carbons + 2 - 2 * doubles)
    return out


_HILL_HYDROCARBON = re.compile(r"C(\d*)(H(\d*))?")


def fit_logistic_regression(
    x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 50
) -> np.ndarray:
    """Newton's method on the penalised log-likelihood (bias unpenalised); returns weights."""
    xb = _with_bias(x)
    w = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        gradient = xb.T @ (p - y) + penalty * w
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def shortcut_report(
    text: Sequence[str], labels: np.ndarray, train: np.ndarray, test: np.ndarray
) -> dict[str, float]:
    """Test accuracy of the three shortcut baselines trained on the training rows."""
    train_text = [text[i] for i in train]
    test_text = [text[i] for i in test]
    train_y, test_y = labels[train], labels[test]
    predictions = {
        "majority_class": majority_class(train_y, len(test)),
        "length_only": length_only(train_text, train_y, test_text),
        "bag_of_characters_logreg": (bag_of_characters(train_text, train_y, test_text) >= 0.5),
    }
    return {name: round(float(np.mean(p == test_y)), 4) for name, p in predictions.items()}


def _majority(y: np.ndarray) -> int:
    values, counts = np.unique(y, return_counts=True)
    return int(values[np.argmax(counts)])


def _char_counts(texts: Sequence[str], alphabet: list[str]) -> np.ndarray:
    """Rows of character counts over ``alphabet``; other characters are ignored.

    One pass over the code points of all texts at once: a per-character Python loop
    was the slowest part of a 100,000-row validity build's audit."""
    if not texts or not alphabet:
        return np.zeros((len(texts), len(alphabet)))
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    rows = np.repeat(np.arange(len(texts)), [len(t) for t in texts])
    letters = np.array([ord(c) for c in alphabet], dtype=np.uint32)
    by_point = np.argsort(letters, kind="stable")
    found = np.minimum(np.searchsorted(letters[by_point], points), len(letters) - 1)
    known = letters[by_point][found] == points
    cells = rows[known] * len(alphabet) + by_point[found[known]]
    counts = np.bincount(cells, minlength=len(texts) * len(alphabet))
    return counts.reshape(len(texts), len(alphabet)).astype(np.float64)


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((x.shape[0], 1))])
