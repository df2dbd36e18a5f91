"""Leaderboards generated from committed result JSONs: never typed by hand.

``leaderboards/results/<dataset>/*.json`` (written by recipes with ``--record``) →
``leaderboards/<dataset>.md`` and one figure per section in ``leaderboards/figures/``. The
page is a pure function of the result files, so a test can regenerate it and compare.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from molbench import plots
from molbench.compare import better_than_next, group_rows, scoring_protocol
from molbench.errors import MolbenchError
from molbench.stats import PairedTest
from molbench.tasks import TASKS

DEFAULT_SUMMARY_METRICS = ("accuracy", "balanced_accuracy", "mcc", "auroc")
FIGURES = "figures"  # under the leaderboards directory


def load_results(directory: Path) -> list[dict[str, Any]]:
    """Every result JSON in ``directory``, sorted by file name."""
    results = []
    for path in sorted(directory.glob("*.json")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise MolbenchError(f"{path} is not valid JSON: {e}") from None
        for key in ("dataset", "headline", "metrics", "run"):
            if key not in result:
                raise MolbenchError(f"{path} is not a leaderboard result: no {key!r}")
        result["_file"] = path.name
        results.append(result)
    return results


def summarize(
    results: Sequence[Mapping[str, Any]],
    summary_metrics: Sequence[str] = DEFAULT_SUMMARY_METRICS,
) -> list[dict[str, Any]]:
    """One row per (config, method, dataset content, scoring protocol): mean and unbiased std
    over seeds (results scored under another rule never share a row)."""
    groups: dict[tuple[str, str, str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in results:
        key = (
            r["dataset"]["config"],
            r["run"]["method"],
            r["dataset"]["content_hash"],
            trained_on(r),
            scoring_protocol(r),
        )
        groups[key].append(r)
    rows = []
    for (config, method, content_hash, trained, _protocol), group in groups.items():
        headline = [r["headline"]["value"] for r in group]
        metrics = {
            m: _mean_std([r["metrics"][m] for r in group if m in r["metrics"]])
            for m in summary_metrics
        }
        seeds = sorted(r["run"]["seed"] for r in group if r["run"].get("seed") is not None)
        first = group[0]
        per_row, no_per_row = group_rows(group)
        rows.append(
            {
                "config": config,
                "trained_on": trained,
                "transfer": group[0].get("transfer", {}),
                "method": method,
                "n": len(group),
                "seeds": seeds,
                "headline_metric": first["headline"]["metric"],
                "higher_is_better": first["headline"]["higher_is_better"],
                "headline": _mean_std(headline),
                "metrics": metrics,
                "n_parameters": first["run"].get("n_parameters"),
                "train_seconds": _mean_std(
                    [
                        r["run"]["train_seconds"]
                        for r in group
                        if r["run"].get("train_seconds") is not None
                    ]
                ),
                "train_cpu_seconds": _mean_std(
                    [
                        r["run"]["train_cpu_seconds"]
                        for r in group
                        if r["run"].get("train_cpu_seconds") is not None
                    ]
                ),
                "hardware": sorted({r["run"].get("hardware") or "?" for r in group}),
                "recipe": first["run"].get("recipe"),
                "commits": sorted({c for c in map(_commit, group) if c}),
                "dataset": f"{first['dataset']['name']} {first['dataset']['version']}",
                "content_hash": content_hash,
                "split": first["dataset"]["split"],
                "kind": (first.get("source") or {}).get("kind", ""),
                "files": sorted(r["_file"] for r in group if "_file" in r),
                "runs": group,
                "per_row": per_row,  # the runs' per-row headline, seed-averaged (RowValues)
                "no_per_row": no_per_row,  # why there are none
                "protocol_notes": sorted(
                    {r["protocol"]["note"] for r in group if "note" in r.get("protocol", {})}
                ),
            }
        )
    rows.sort(
        key=lambda row: (
            row["config"],
            row["trained_on"],
            -row["headline"][0] if row["higher_is_better"] else row["headline"][0],
            row["method"],
        )
    )
    return rows


def trained_on(result: Mapping[str, Any]) -> str:
    """The config a transfer result's model was trained on; "" when trained on its own."""
    return (result.get("transfer") or {}).get("trained_on", "")


def _commit(result: Mapping[str, Any]) -> str | None:
    """The git commit a run's code came from, where the run recorded one."""
    model = result.get("model") or {}
    return result["run"].get("git_commit") or model.get("provenance", {}).get("git_commit")


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return (float("nan"), float("nan"))
    std = float(np.std(clean, ddof=1)) if len(clean) > 1 else float("nan")
    return (float(np.mean(clean)), std)


def sections(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The page's tables: one per (config, trained on, headline), titled, rows in order."""
    keys = sorted({(row["config"], row["trained_on"], row["headline_metric"]) for row in rows})
    several = {(c, t) for c, t, _ in keys if sum((c2, t2) == (c, t) for c2, t2, _ in keys) > 1}
    out = []
    for config, trained, headline in keys:
        transfer = f" — trained on `{trained}` (transfer)" if trained else ""
        out.append(
            {
                "config": config,
                "trained_on": trained,
                "headline": headline,
                "title": f"`{config}`{transfer}"
                + (f" — {headline}" if (config, trained) in several else ""),
                "rows": [
                    row
                    for row in rows
                    if (row["config"], row["trained_on"], row["headline_metric"])
                    == (config, trained, headline)
                ],
            }
        )
    return out


def figure_name(dataset: str, section: Mapping[str, Any], suffix: str = "png") -> str:
    """``<dataset>__<config>[__from_<trained>]__<headline>.<suffix>``."""
    trained = f"__from_{section['trained_on']}" if section["trained_on"] else ""
    return f"{dataset}__{section['config']}{trained}__{section['headline']}.{suffix}"


def p_next(rows: Sequence[Mapping[str, Any]]) -> list[PairedTest | None]:
    """Per row, the one-sided paired test that it beats the next row (None: no data)."""
    tests = [
        better_than_next(upper["per_row"], lower["per_row"], bool(upper["higher_is_better"]))
        for upper, lower in itertools.pairwise(rows)
    ]
    return [*tests, None]


def format_p(test: PairedTest | None) -> str:
    """ "0.031 (McNemar)", "< 0.001 (bootstrap)", or "—" without per-row data."""
    if test is None:
        return "—"
    p = test.p_greater
    name = "McNemar" if test.test.startswith("McNemar") else "bootstrap"
    return ("< 0.001" if p < 0.001 else f"{p:.3f}") + f" ({name})"


P_NOTE = (
    "*better than next*: one-sided p that the row beats the row below it on the same test "
    "rows — McNemar's exact test between two single runs scored right/wrong per row, else "
    "a paired bootstrap (10,000 resamples, seed 0) of the per-row headline averaged over "
    "each row's runs."
)


def render_markdown(
    dataset: str,
    rows: Sequence[Mapping[str, Any]],
    literature: Sequence[Mapping[str, str]],
    figures: str | None,
    summary_metrics: Sequence[str] = DEFAULT_SUMMARY_METRICS,
    published: Sequence[Mapping[str, Any]] = (),
    column_notes: Mapping[str, str] = MappingProxyType({}),
) -> str:
    """The leaderboard page for one dataset (``figures``: their directory, None: none);
    ``published`` rows from :func:`published_rows`; ``column_notes``: what a column means,
    printed under each table that shows it (the task's, e.g. a column under another rule)."""
    lines = [
        f"# Leaderboard: `{dataset}`",
        "",
        "<!-- Generated by `molbench leaderboard` from leaderboards/results/"
        f"{dataset}/*.json. Do not edit: rerun recipes with --record, then regenerate. -->",
        "",
        "Each row: one method on one config, mean ± unbiased standard deviation over `n` runs "
        "(seeds); runs of deterministic methods have no seed. Scored on the test split by "
        "`molbench eval`; every number comes from a result JSON of a real run.",
        "",
    ]
    for section in sections(rows):
        config, trained, headline = section["config"], section["trained_on"], section["headline"]
        config_rows = section["rows"]
        lines += [f"## {section['title']}", ""]
        if trained:
            lines += [
                f"Models trained on `{trained}` only, scored on `{config}` "
                f"{config_rows[0]['split']}: no `{config}` training rows were used. Their "
                f"training times are in the `{trained}` section (a transfer run records the "
                "time up to its scoring, not training alone).",
                *_overlap_lines(config_rows[0]["transfer"]),
                "",
            ]
        # the columns some row of this section has (retrieval and generation rows differ)
        shown = [
            m
            for m in summary_metrics
            if m != headline and any(not math.isnan(r["metrics"][m][0]) for r in config_rows)
        ]
        paired = len(config_rows) > 1
        p_column = ["better than next"] if paired else []
        columns = ["rank", "method", f"{headline} (test)", *shown, *p_column]
        lines += [
            "| " + " | ".join(columns) + " | n | parameters | train time | hardware | recipe |",
            "| " + " | ".join(["---:", "---", *("---" for _ in columns[2:])]) + " | "
            "---: | ---: | ---: | --- | --- |",
        ]
        tests = p_next(config_rows)
        for rank, (row, test) in enumerate(zip(config_rows, tests, strict=True), 1):
            others = "".join(f"{format_mean_sd(row['metrics'][m])} | " for m in shown)
            if paired:
                others += f"{format_p(test) if rank < len(config_rows) else ''} | "
            params = f"{row['n_parameters']:,}" if row["n_parameters"] else "—"
            mean_time = float("nan") if trained else row["train_seconds"][0]
            time = "—" if math.isnan(mean_time) else f"{mean_time:,.0f} s"
            cpu_time = float("nan") if trained else row["train_cpu_seconds"][0]
            if not math.isnan(cpu_time):  # wall time is inflated when jobs shared the machine
                time += f" (CPU {cpu_time:,.0f} s)"
            recipe = f"[{Path(row['recipe']).name}](../{row['recipe']})" if row["recipe"] else "—"
            lines.append(
                f"| {rank} | {row['method']} | **{format_mean_sd(row['headline'])}** | {others}"
                f"{row['n']} | {params} | {time} | {'; '.join(row['hardware'])} | {recipe} |"
            )
        lines.append("")
        if paired:
            lines.append(P_NOTE + "".join(f" {line}" for line in _missing_lines(config_rows)))
        hashes = sorted({(row["dataset"], row["content_hash"]) for row in config_rows})
        lines += [f"Dataset: {name}, content `{h}`." for name, h in hashes]
        commits = sorted({c for row in config_rows for c in row["commits"]})
        if commits:
            lines.append(
                "Code: "
                + ", ".join(f"`{c[:12]}{'+dirty' * c.endswith('+dirty')}`" for c in commits)
                + "."
            )
        notes = sorted({note for row in config_rows for note in row["protocol_notes"]})
        lines += [f"Note ({', '.join(_noted(config_rows, n))}): {n}" for n in notes]
        explained = [m for m in shown if m in column_notes]
        for text in dict.fromkeys(column_notes[m] for m in explained):  # one line per note
            named = ", ".join(f"`{m}`" for m in explained if column_notes[m] == text)
            lines.append(f"{named}: {text}")
        lines.append("")
        if figures is not None:
            lines += [f"![{dataset} {config}]({figures}/{figure_name(dataset, section)})", ""]
    if published:
        lines += render_published(published)
    lines += ["## Reported in the literature (not reproduced here)", ""]
    if literature:
        protocols = any("protocol" in ref for ref in literature)  # which protocol each used
        header = ["method", "metric", "value", *(["protocol"] * protocols), "source"]
        lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += [
            f"| {ref['method']} | {ref['metric']} | {ref['value']} | "
            + (f"{ref.get('protocol', '—')} | " if protocols else "")
            + f"{ref['citation']} |"
            for ref in literature
        ]
    else:
        lines.append("None: this dataset is new in molbench, so there are no published numbers.")
    return "\n".join(lines) + "\n"


def _missing_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Why a row shows "—": which rows lack per-row values, and why."""
    reasons: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["per_row"] is None:
            reasons[row["no_per_row"]].append(row["method"])
    return [
        f"—: {', '.join(methods)}: {reason}; rerun to compare."
        for reason, methods in reasons.items()
    ]


def _noted(rows: Sequence[Mapping[str, Any]], note: str) -> list[str]:
    """The methods of ``rows`` whose results carry ``note``."""
    return [row["method"] for row in rows if note in row["protocol_notes"]]


PUBLISHED_TITLE = "Published models, rescored by molbench"


def published_rows(
    results: Sequence[Mapping[str, Any]], shown: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """One row per released-output result (``source.kind == "published"``), any dataset:
    molbench's numbers for the metrics the paper printed beside them (none printed: the
    ``shown`` metrics, else the headline)."""
    rows = []
    for r in results:
        if (r.get("source") or {}).get("kind") != "published":
            continue
        about = r["source"]["published"]
        reported = dict(about.get("reported") or {})
        names = list(reported) or [m for m in shown if m in r["metrics"]]
        names = names or [r["headline"]["metric"]]
        protocol = r.get("protocol") or {}
        imported = r["source"].get("format") or {}  # the importer and its options
        rows.append(
            {
                "method": r["run"]["method"],
                "model": about["model"],
                "paper": about["paper"],
                "repository": about["repository"],
                "commit": about["commit"],
                "path": about["path"],
                "sha256": about["sha256"],
                "config": r["dataset"]["config"],
                "split": r["dataset"]["split"],
                "protocol": ", ".join(
                    [f"{k} {v}" for k, v in sorted(protocol.items()) if k in ("topk", "rule")]
                    + [
                        f"{k} {v}"
                        for k, v in sorted(imported.get("options", {}).items())
                        if k != "workers"
                    ]
                )
                or "—",
                "rule": protocol.get("rule", "—"),
                "scores": {m: (r["metrics"].get(m, float("nan")), reported.get(m)) for m in names},
                "note": about.get("note", ""),
                "file": r.get("_file", ""),  # the result JSON, for links (the site)
                "differs": {
                    m: r["metrics"][m] - v
                    for m, v in reported.items()
                    if m in r["metrics"] and abs(r["metrics"][m] - v) > _printed_precision(v)
                },
            }
        )
    rows.sort(key=lambda row: (row["config"], row["method"], row["rule"], row["protocol"]))
    return rows


def _difference(metric: str, difference: float, printed: float) -> str:
    """A gap in points where the paper printed a fraction, else in the metric's own units
    (a Levenshtein distance of 16.07 is no percentage)."""
    if 0 <= printed <= 1:
        return f"{metric} {difference * 100:+.1f} points"
    return f"{metric} {difference:+.2f}"


def _printed_precision(value: float) -> float:
    """Half a unit of the last digit the paper printed (79.6 % -> 0.0005), plus rounding."""
    digits = len(f"{value:.6g}".partition(".")[2])
    return 0.5 * 10.0**-digits + 1e-9


def render_published(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The "Published models, rescored by molbench" section: our number, the paper's beside."""
    lines = [
        f"## {PUBLISHED_TITLE}",
        "",
        "Outputs the authors released, scored here by `molbench eval` through an importer "
        "(the released files are read in place, never committed; sha256 below). "
        "Each cell: molbench's number (the paper's printed number in brackets, — where none "
        "is pinned). Not ranked with our runs above.",
        "",
        "| model | method | config | protocol | scores (paper) | released file |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    notes: list[str] = []
    for row in rows:
        cells = ", ".join(
            f"{m} **{ours:.4f}** ({'—' if paper is None else f'{paper:.3f}'})"
            for m, (ours, paper) in row["scores"].items()
        )
        source = f"`{row['repository']}` `{row['commit'][:12]}` `{row['path']}`"
        lines.append(
            f"| {row['model']} | {row['method']} | `{row['config']}` {row['split']} | "
            f"{row['protocol']} | {cells} | {source} (sha256 `{row['sha256'][:12]}…`) |"
        )
        protocol = f", {row['protocol']}" if row["protocol"] != "—" else ""  # rules, options
        where = f"{row['method']}, `{row['config']}`{protocol}"
        differs = "; ".join(
            _difference(m, d, row["scores"][m][1]) for m, d in row["differs"].items()
        )
        if differs:
            notes.append(f"- {where}: differs from the paper by {differs}. {row['note']}")
        elif row["note"]:
            notes.append(f"- {where}: {row['note']}")
    papers = sorted({row["paper"] for row in rows})
    return [*lines, "", *notes, "", f"Papers: {'; '.join(papers)}.", ""]


def _overlap_lines(transfer: Mapping[str, Any]) -> list[str]:
    """The build's audit of the scored rows found among the training rows (leakage)."""
    return [
        f"Overlap (build audit): {count:,} {what}."
        for what, count in (transfer.get("overlaps") or {}).items()
    ]


def format_mean_sd(pair: tuple[float, float]) -> str:
    """ "0.8500 ± 0.0707", the mean alone for one run, "—" for none."""
    mean, std = pair
    if math.isnan(mean):
        return "—"
    return f"{mean:.4f}" if math.isnan(std) else f"{mean:.4f} ± {std:.4f}"


def write_leaderboard(dataset: str, leaderboards_dir: Path) -> list[Path]:
    """Regenerate ``<dataset>.md`` and its figures from ``results/<dataset>/``."""
    if dataset not in TASKS:
        raise MolbenchError(f"no task for dataset {dataset!r}; known: {', '.join(TASKS)}")
    directory = leaderboards_dir / "results" / dataset
    results = load_results(directory)
    if not results:
        raise MolbenchError(f"no result JSONs under {directory}")
    published = load_results(directory / PUBLISHED_DIR)
    figures = leaderboards_dir / FIGURES
    colours = plots.method_colours(page_methods(leaderboards_dir))
    written = write_figures(dataset, our_runs(results), colours, figures, "png")
    for stale in sorted(set(figures.glob(f"{dataset}__*.png")) - set(written)):
        stale.unlink()
    page = leaderboards_dir / f"{dataset}.md"
    page.write_text(render_page(dataset, results, published), encoding="utf-8")
    return [page, *written]


PUBLISHED_DIR = "published"  # results/<dataset>/published/: released outputs, rescored


def our_runs(results: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The results of our own runs: not those rescored from a paper's released outputs."""
    return [r for r in results if (r.get("source") or {}).get("kind") != "published"]


def render_page(
    dataset: str,
    results: Sequence[Mapping[str, Any]],
    published: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The markdown page of ``dataset`` from its result JSONs, with its task's columns."""
    task = TASKS[dataset]
    metrics = task.summary_metrics
    ours = our_runs(results)
    return render_markdown(
        dataset,
        summarize(ours, metrics),
        task.literature,
        FIGURES,
        metrics,
        published_rows(
            [*published, *(r for r in results if r not in ours)],
            getattr(task, "published_metrics", ()),
        ),
        getattr(task, "column_notes", {}),
    )


def page_methods(leaderboards_dir: Path) -> list[list[str]]:
    """The methods of every dataset's page: the key to one colour per method everywhere."""
    return [
        sorted({r["run"]["method"] for r in load_results(directory)})
        for directory in sorted((leaderboards_dir / "results").iterdir())
        if directory.is_dir()
    ]


def write_figures(
    dataset: str,
    results: Sequence[Mapping[str, Any]],
    colours: Mapping[str, str],
    directory: Path,
    suffix: str,
) -> list[Path]:
    """One figure per section of the page: headline bars and the task's curve beside."""
    task = TASKS[dataset]
    written = []
    for section in sections(summarize(results, task.summary_metrics)):
        rows = section["rows"]
        curves = {
            row["method"]: [c for c in map(task.curve, row["runs"]) if c is not None]
            for row in rows
        }
        curves = {m: c for m, c in curves.items() if c}
        path = directory / figure_name(dataset, section, suffix)
        plots.section_figure(
            f"{dataset} / {section['title'].replace('`', '')}",
            section["headline"],
            [(row["method"], [r["headline"]["value"] for r in row["runs"]]) for row in rows],
            curves,
            colours,
            path,
        )
        written.append(path)
    return written
