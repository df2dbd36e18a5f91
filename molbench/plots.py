"""Leaderboard pictures from result JSONs: one figure per section, one per bucket view.

A section (one config, one headline: what a leaderboard table shows) gets its headline as
bars (mean ± sd over seeds, values printed) and, beside them, the task's curve (accuracy by
size, top-k). Each method keeps one colour on every page (:func:`method_colours`). Figures
are written as PNG (Markdown pages) or SVG (the site) with fixed metadata and a fixed SVG
hash salt, so the same results give the same bytes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molbench.tasks.base import Curve

# tab10, then darker and lighter hues that stay apart from it on a white page
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
    "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363",
)  # fmt: skip
STYLE = {
    "svg.hashsalt": "molbench",  # SVG ids from content, not from a random salt
    "svg.fonttype": "none",  # text stays text: small files, the browser's own font
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def method_colours(pages: Iterable[Iterable[str]]) -> dict[str, str]:
    """One colour per method on every page, no two methods of one page alike.

    ``pages``: the methods of each page. Methods take, in name order, the first palette
    colour no method sharing a page with them has taken (greedy colouring: a page of up to
    20 methods never repeats a colour).
    """
    pages = [set(p) for p in pages]
    colours: dict[str, str] = {}
    for method in sorted(set().union(*pages)):
        neighbours = set().union(*(p for p in pages if method in p)) - {method}
        taken = {colours[m] for m in neighbours if m in colours}
        free = [c for c in PALETTE if c not in taken]
        colours[method] = free[0] if free else PALETTE[len(colours) % len(PALETTE)]
    return colours


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    """PNG or SVG by suffix, with no date or version in the file (same results, same bytes)."""
    plt = _pyplot()
    fmt = path.suffix.lstrip(".")
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=fmt, dpi=110, metadata=metadata)
    plt.close(fig)


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.mean(values)), sd


def _sort_key(x: str) -> tuple[float, str]:
    """Numeric bucket keys in number order ("6+" after "5"), others alphabetically after."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\+?", x)
    return (float(match[1]), x) if match else (float("inf"), x)


def _is_numeric(keys: Iterable[str]) -> bool:
    return all(_sort_key(k)[0] != float("inf") for k in keys)


def section_figure(
    title: str,
    metric: str,
    bars: Sequence[tuple[str, Sequence[float]]],
    curves: Mapping[str, Sequence[Curve]],
    colours: Mapping[str, str],
    path: Path,
) -> None:
    """Headline bars (best first, error bar = sd over seeds, values printed), curve beside.

    ``bars``: (method, headline of each run) in leaderboard order; ``curves``: each
    method's curve of each run (averaged over runs), empty when the task draws none.
    """
    plt = _pyplot()
    with plt.rc_context(STYLE):
        width = 11.5 if curves else 6.5
        height = max(2.6, 0.42 * len(bars) + 1.3)
        fig, axes = plt.subplots(1, 2 if curves else 1, figsize=(width, height), squeeze=False)
        _bars(axes[0, 0], metric, bars, colours)
        if curves:
            _curves(axes[0, 1], curves, colours)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        _save(fig, path)


def _bars(
    ax: Any, metric: str, bars: Sequence[tuple[str, Sequence[float]]], colours: Mapping[str, str]
) -> None:
    methods = [m for m, _ in bars]
    stats = [_mean_sd(v) for _, v in bars]
    y = np.arange(len(bars))
    ax.barh(
        y,
        [m for m, _ in stats],
        xerr=[sd for _, sd in stats],
        color=[colours[m] for m in methods],
        error_kw={"ecolor": "#333333", "capsize": 3, "lw": 1},
        height=0.65,
    )
    ends = [m + sd for m, sd in stats if not np.isnan(m + sd)]
    top = 1.0 if max(ends, default=0) <= 1.05 else max(ends)  # fractions on a 0..1 axis
    for i, ((mean, sd), (_, runs)) in enumerate(zip(stats, bars, strict=True)):
        label = f"{mean:.4f}" + (f" ± {sd:.4f}" if len(runs) > 1 else "") + f"  (n={len(runs)})"
        ax.text(min(mean + sd, top) + 0.02 * top, i, label, va="center", fontsize=8)
    ax.set_yticks(y, methods)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.45 * top)  # room for the printed values right of the longest bar
    if top == 1.0:
        ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel(f"{metric} (test), mean ± sd over runs")
    ax.grid(alpha=0.3, axis="x")


def _curves(ax: Any, curves: Mapping[str, Sequence[Curve]], colours: Mapping[str, str]) -> None:
    first = next(iter(curves.values()))[0]
    keys = sorted({k for runs in curves.values() for c in runs for k in c.points}, key=_sort_key)
    numeric = _is_numeric(keys)
    position = {k: (_sort_key(k)[0] if numeric else i) for i, k in enumerate(keys)}
    if first.train_up_to is not None:  # size OOD: the sizes training saw, left of the test
        edge = first.train_up_to + 0.5
        ax.axvspan(edge - 2, edge, color="grey", alpha=0.15, lw=0)
        ax.axvline(edge, color="grey", ls="--", lw=1)
        ax.text(edge - 0.1, 0.03, f"train ≤ {first.train_up_to}", ha="right", fontsize=7)
        ax.set_xlim(edge - 2, max(position.values()) + 0.5)
    for method, runs in curves.items():
        xs = [k for k in keys if any(k in c.points for c in runs)]
        means = [np.mean([c.points[k] for c in runs if k in c.points]) for k in xs]
        ax.plot(
            [position[k] for k in xs], means, marker="o", ms=3, color=colours[method], label=method
        )
    if not numeric or len(keys) <= 12:
        ax.set_xticks([position[k] for k in keys], keys)
    else:
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"{first.title}: test, mean over runs", fontsize=9)
    ax.set_xlabel(first.x_label)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best", frameon=False)


def bucket_figure(
    bucket: str,
    runs: Mapping[str, Sequence[Mapping[str, float]]],
    colours: Mapping[str, str],
    path: Path,
) -> None:
    """One bucket view (e.g. top-1 by number of edits), each point a method's mean over runs:
    lines over numeric buckets, dots per named bucket (one row each) otherwise."""
    plt = _pyplot()
    keys = sorted({k for values in runs.values() for v in values for k in v}, key=_sort_key)
    means: dict[str, dict[str, float]] = defaultdict(dict)
    for method, values in runs.items():
        for k in keys:
            got = [v[k] for v in values if k in v and v[k] is not None]
            if got:
                means[method][k] = float(np.mean(got))
    numeric = _is_numeric(keys)
    with plt.rc_context(STYLE):
        height = 3.4 if numeric else 0.42 * len(keys) + 1.3
        fig, ax = plt.subplots(figsize=(7.5, height))
        for j, (method, points) in enumerate(means.items()):
            xs = [k for k in keys if k in points]
            ys = [points[k] for k in xs]
            if numeric:
                position = [keys.index(k) for k in xs]
                ax.plot(position, ys, marker="o", ms=3, color=colours[method], label=method)
            else:  # dodge the methods within a bucket's row so equal values stay visible
                dodge = (j - (len(means) - 1) / 2) * min(0.12, 0.7 / max(1, len(means)))
                position = [keys.index(k) + dodge for k in xs]
                ax.plot(ys, position, "o", ms=5, color=colours[method], label=method)
        if numeric:
            ax.set_xticks(range(len(keys)), keys)
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
        else:
            ax.set_yticks(range(len(keys)), keys)
            ax.invert_yaxis()
            ax.set_xlim(-0.02, 1.02)
            ax.grid(alpha=0.3, axis="x")
        ax.set_title(bucket.replace("_", " ") + ": test, mean over runs", fontsize=9)
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        _save(fig, path)
