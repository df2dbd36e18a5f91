"""Scoring valid/invalid predictions on the validity dataset."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa

from molbench.stats import accuracy, bootstrap_ci
from molbench.tasks.base import BOOTSTRAP_RESAMPLES
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
            "per_row": {"accuracy": (y == y_hat).astype(int).tolist()},
        }

    def plot(self, results: Sequence[Mapping[str, Any]], path: Path) -> None:
        plot_accuracy_by_carbons(results, path)


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


def plot_accuracy_by_carbons(results: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Test accuracy vs. carbon count per method (mean over seeds), one panel per config."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = sorted({r["dataset"]["config"] for r in results})
    methods = sorted({r["run"]["method"] for r in results})
    colours = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    largest = max(int(n) for r in results for n in r["buckets"]["accuracy_by_n_carbons"])
    fig, axes = plt.subplots(1, len(configs), figsize=(6 * len(configs), 4.2), squeeze=False)
    for ax, config in zip(axes[0], configs, strict=True):
        curves: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        boundary = None
        for r in results:
            if r["dataset"]["config"] != config:
                continue
            for n, acc in r["buckets"]["accuracy_by_n_carbons"].items():
                curves[r["run"]["method"]][int(n)].append(acc)
            boundary = r["dataset"].get("parameters", {}).get("size_ood_max_train_carbons")
        for method in sorted(curves):
            xs = sorted(curves[method])
            ys = [np.mean(curves[method][x]) for x in xs]
            ax.plot(xs, ys, marker="o", ms=3, color=colours[method], label=method)
        if config == "size_ood" and boundary is not None:
            ax.axvspan(0.5, boundary + 0.5, color="grey", alpha=0.12, lw=0)
            ax.axvline(boundary + 0.5, color="grey", ls="--", lw=1)
            ax.text(1, 0.47, f"train / validation: ≤ {boundary} carbons (no test rows)", fontsize=8)
        ax.set_title(f"validity / {config}: test accuracy by size (mean over seeds)")
        ax.set_xlabel("number of carbons")
        ax.set_ylabel("accuracy")
        ax.set_xlim(0.5, largest + 0.5)
        ax.set_ylim(0.45, 1.02)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=colours[m], marker="o", ms=3) for m in methods]
    fig.legend(handles, methods, loc="lower center", ncol=len(methods), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
