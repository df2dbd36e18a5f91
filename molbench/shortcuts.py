"""Trivial baselines that show how much of a classification task a shortcut solves.

A dataset card that says "bag-of-characters gets 62%" tells users what a real model must
beat. Pure numpy, deterministic, no training randomness.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def majority_class(train_y: np.ndarray, test_y: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent training label (ties: the smaller)."""
    values, counts = np.unique(train_y, return_counts=True)
    return float(np.mean(test_y == values[np.argmax(counts)]))


def length_only(
    train_text: Sequence[str], train_y: np.ndarray, test_text: Sequence[str], test_y: np.ndarray
) -> float:
    """Best classifier that sees only the string length: the training majority per length."""
    fallback = _majority(train_y)
    by_length: dict[int, list[int]] = {}
    for text, y in zip(train_text, train_y.tolist(), strict=True):
        by_length.setdefault(len(text), []).append(y)
    rule = {length: _majority(np.array(ys)) for length, ys in by_length.items()}
    predicted = np.array([rule.get(len(t), fallback) for t in test_text])
    return float(np.mean(predicted == test_y))


def bag_of_characters(
    train_text: Sequence[str],
    train_y: np.ndarray,
    test_text: Sequence[str],
    test_y: np.ndarray,
    l2: float = 1.0,
) -> float:
    """L2-regularised logistic regression on character counts (order thrown away)."""
    alphabet = sorted(set("".join(train_text)))
    x_train, x_test = (_char_counts(t, alphabet) for t in (train_text, test_text))
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-9
    w = fit_logistic_regression((x_train - mean) / std, train_y, l2)
    scores = _with_bias((x_test - mean) / std) @ w
    return float(np.mean((scores > 0).astype(test_y.dtype) == test_y))


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
    return {
        "majority_class": round(majority_class(train_y, test_y), 4),
        "length_only": round(length_only(train_text, train_y, test_text, test_y), 4),
        "bag_of_characters_logreg": round(
            bag_of_characters(train_text, train_y, test_text, test_y), 4
        ),
    }


def _majority(y: np.ndarray) -> int:
    values, counts = np.unique(y, return_counts=True)
    return int(values[np.argmax(counts)])


def _char_counts(texts: Sequence[str], alphabet: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(alphabet)}
    out = np.zeros((len(texts), len(alphabet)))
    for row, text in enumerate(texts):
        for c in text:
            if c in index:
                out[row, index[c]] += 1
    return out


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((x.shape[0], 1))])
