"""Scoring valid/invalid predictions on the validity dataset."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa

from molbench.stats import accuracy, bootstrap_ci
from molbench.tasks.base import BOOTSTRAP_RESAMPLES, Curve, per_row_record
from molbench.tasks.validity_metrics import METRICS

THRESHOLD = 0.5  # score >= 0.5 means "valid"


class ValidityTask:
    dataset = "validity"
    default_config = "random"
    headline = "accuracy"
    summary_metrics = ("accuracy", "balanced_accuracy", "mcc", "auroc")
    higher_is_better = True
    prediction_columns = MappingProxyType({"score": "probability", "label": "binary"})
    required_columns = (("score", "label"),)
    literature = ()  # a dataset new in molbench: nothing published to compare with
    prediction_help = (
        "`id` plus `score` (probability that the molecule is valid, 0..1; >= 0.5 counts as "
        "valid) and/or `label` (1 valid, 0 invalid). With both, `label` gives the thresholded "
        "metrics and `score` the AUROC."
    )

    def score(
        self,
        truth: pa.Table,
        predictions: Mapping[str, np.ndarray],
        seed: int,
        context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        y = truth["label"].to_numpy().astype(int)
        scores = predictions.get("score")
        if "label" in predictions:
            y_hat = predictions["label"].astype(int)
        else:
            y_hat = (scores >= THRESHOLD).astype(int)
        metrics = {}
        for name, metric in METRICS.items():
            if metric.needs_scores:
                if scores is not None:
                    metrics[name] = metric.fn(y, scores)
            else:
                metrics[name] = metric.fn(y, y_hat)
        low, high = bootstrap_ci(accuracy, y, y_hat, seed=seed, resamples=BOOTSTRAP_RESAMPLES)
        return {
            "metrics": metrics,
            "headline": {
                "metric": self.headline,
                "value": metrics[self.headline],
                "ci95": [low, high],
                "higher_is_better": self.higher_is_better,
            },
            "buckets": {
                "accuracy_by_n_carbons": _accuracy_by(truth["n_carbons"].to_pylist(), y, y_hat),
                "recall_by_error": _recall_by_error(truth["error"].to_pylist(), y, y_hat),
            },
            "n_rows": len(y),
            "per_row": per_row_record(
                truth["id"].to_pylist(), accuracy=(y == y_hat).astype(int).tolist()
            ),
        }

    def curve(self, result: Mapping[str, Any]) -> Curve:
        return Curve(
            "accuracy by number of carbons",
            "number of carbons",
            result["buckets"]["accuracy_by_n_carbons"],
            size_ood_boundary(result),
            "accuracy_by_n_carbons",
        )


def size_ood_boundary(result: Mapping[str, Any]) -> int | None:
    """The largest molecule (carbons) a size-OOD config trains on; None for other configs."""
    dataset = result["dataset"]
    if not dataset["config"].endswith("size_ood"):
        return None
    return dataset.get("parameters", {}).get("size_ood_max_train_carbons")


def _accuracy_by(keys: list[Any], y: np.ndarray, y_hat: np.ndarray) -> dict[str, float]:
    groups: dict[Any, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    return {str(k): accuracy(y[idx], y_hat[idx]) for k, idx in sorted(groups.items())}


def _recall_by_error(
    errors: list[str | None], y: np.ndarray, y_hat: np.ndarray
) -> dict[str, float]:
    """Share of each error type called invalid; ``valid`` is the recall of valid molecules."""
    keys = [e if e is not None else "valid" for e in errors]
    return _accuracy_by(keys, y, y_hat)
