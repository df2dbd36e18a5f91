"""Which differences are real: paired tests between results scored on the same test rows.

A result JSON keeps its per-row values (``result["per_row"]``: the headline metric row by row,
in split order, with the sha256 of the row ids). Two results on the same rows are compared
row by row: McNemar's exact test when both are single runs right or wrong per row, else a
paired bootstrap of the headline. A leaderboard row of several seeds is compared through
its per-row values averaged over its seeds (their mean is the row's headline mean).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molbench.errors import ComparisonError
from molbench.stats import PairedTest, mcnemar, paired_bootstrap

COMPARE_SEED = 0
RESAMPLES = 10_000
IDENTITY = (  # result["dataset"] keys that must agree, and how a refusal names them
    ("name", "dataset"),
    ("version", "version"),
    ("config", "config"),
    ("split", "split"),
    ("content_hash", "content"),
)


def load_result(path: Path) -> dict[str, Any]:
    """A result JSON from disk, with a one-line error for anything else."""
    try:
        result = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ComparisonError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(result, dict) or not {"dataset", "headline"} <= set(result):
        raise ComparisonError(f"{path} is not a molbench result (no dataset or headline)")
    return result


def why_not_paired(result: Mapping[str, Any]) -> str:
    """Why a result has no per-row headline values ("" when it has them)."""
    per_row = result.get("per_row")
    metric = result["headline"]["metric"]
    if not per_row:
        return "no per-row values (recorded before result JSONs kept them)"
    if metric not in per_row:
        return f"no per-row {metric!r} values"
    return ""


def headline_rows(result: Mapping[str, Any], label: str) -> np.ndarray:
    """The per-row values of ``result``'s headline metric, checked against its row count."""
    reason = why_not_paired(result)
    if reason:
        raise ComparisonError(f"{label}: {reason}; rescore it with this molbench to compare")
    per_row = result["per_row"]
    values = np.asarray(per_row[result["headline"]["metric"]], dtype=np.float64)
    if len(values) != per_row["n"]:
        raise ComparisonError(f"{label}: {len(values)} per-row values for n = {per_row['n']}")
    return values


def scoring_protocol(result: Mapping[str, Any]) -> str:
    """The parts of ``result["protocol"]`` that change what counts as right (top-k, rule)."""
    protocol = result.get("protocol") or {}
    return ", ".join(f"{k} {protocol[k]}" for k in ("topk", "rule") if k in protocol) or "—"


def check_same_rows(a: Mapping[str, Any], b: Mapping[str, Any], labels: Sequence[str]) -> None:
    """Refuse (one line) results on other datasets, configs, splits, content, rows or metrics."""
    for key, what in IDENTITY:
        va, vb = a["dataset"][key], b["dataset"][key]
        if va != vb:
            raise ComparisonError(
                f"{labels[0]} and {labels[1]} are scored on different {what}: {va} vs {vb}"
            )
    ra, rb = scoring_protocol(a), scoring_protocol(b)
    if ra != rb:
        raise ComparisonError(
            f"{labels[0]} and {labels[1]} are scored under different protocols: {ra} vs {rb}"
        )
    ma, mb = a["headline"]["metric"], b["headline"]["metric"]
    if ma != mb:
        raise ComparisonError(f"{labels[0]} and {labels[1]} have other headlines: {ma} vs {mb}")
    ia, ib = (r.get("per_row", {}).get("ids_sha256") for r in (a, b))
    if ia and ib and ia != ib:
        raise ComparisonError(
            f"{labels[0]} and {labels[1]} are scored on different rows (ids sha256 "
            f"{ia[:12]}… vs {ib[:12]}…)"
        )


def is_zero_one(values: np.ndarray) -> bool:
    """Whether per-row values are right/wrong flags (McNemar applies)."""
    return bool(np.isin(values, (0.0, 1.0)).all())


def compare(a: Mapping[str, Any], b: Mapping[str, Any], labels: Sequence[str]) -> dict[str, Any]:
    """Both tests of A against B on their shared rows (McNemar only for 0/1 headlines).

    Each test's difference is mean(A) - mean(B); its one-sided p tests "A is better" in the
    headline's direction."""
    check_same_rows(a, b, labels)
    va, vb = headline_rows(a, labels[0]), headline_rows(b, labels[1])
    if len(va) != len(vb):
        raise ComparisonError(f"{labels[0]} has {len(va)} rows, {labels[1]} {len(vb)}")
    higher = a["headline"]["higher_is_better"]
    better, worse = (va, vb) if higher else (vb, va)  # p_greater: "A is better"
    tests = [paired_bootstrap(better, worse, seed=COMPARE_SEED, resamples=RESAMPLES)]
    if is_zero_one(va) and is_zero_one(vb):
        tests.append(mcnemar(better, worse))
    if not higher:  # report A - B all the same
        tests = [
            dataclasses.replace(t, difference=-t.difference, ci95=(-t.ci95[1], -t.ci95[0]))
            for t in tests
        ]
    return {
        "metric": a["headline"]["metric"],
        "higher_is_better": higher,
        "n": len(va),
        "means": (float(va.mean()), float(vb.mean())),
        "tests": tests,
    }


@dataclasses.dataclass(frozen=True)
class RowValues:
    """A leaderboard row's per-row headline, averaged over its runs, and the rows it covers."""

    values: np.ndarray
    ids_sha256: str
    runs: int


def group_rows(results: Sequence[Mapping[str, Any]]) -> tuple[RowValues | None, str]:
    """Per-row headline values averaged over a leaderboard row's runs, or None and why not."""
    for r in results:
        reason = why_not_paired(r)
        if reason:
            return None, reason
    ids = {r["per_row"]["ids_sha256"] for r in results}
    if len(ids) > 1:
        return None, "its runs were scored on different rows"
    values = [headline_rows(r, r.get("_file", "result")) for r in results]
    return RowValues(np.mean(values, axis=0), ids.pop(), len(results)), ""


def better_than_next(
    upper: RowValues | None, lower: RowValues | None, higher: bool
) -> PairedTest | None:
    """One-sided test that the upper leaderboard row beats the lower one (None: no rows
    in common to pair). Single runs of 0/1 values get McNemar, others the paired bootstrap.
    """
    if upper is None or lower is None or upper.ids_sha256 != lower.ids_sha256:
        return None
    a, b = (upper.values, lower.values) if higher else (lower.values, upper.values)
    if upper.runs == 1 and lower.runs == 1 and is_zero_one(a) and is_zero_one(b):
        return mcnemar(a, b)
    return paired_bootstrap(a, b, seed=COMPARE_SEED, resamples=RESAMPLES)
