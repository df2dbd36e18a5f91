"""molbench compare: paired tests between two results on the same test rows."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from molbench.cli import main
from molbench.compare import better_than_next, compare, group_rows
from molbench.errors import ComparisonError

ROWS = 400
RIGHT = np.random.default_rng(0).integers(0, 2, size=ROWS)


def result(correct, method: str = "m", seed: int | None = 0, **dataset) -> dict:
    correct = [int(v) for v in correct]
    return {
        "dataset": {
            "name": "validity",
            "version": "1.0.0",
            "config": "random",
            "split": "test",
            "content_hash": "sha256:abc",
            **dataset,
        },
        "headline": {
            "metric": "accuracy",
            "value": float(np.mean(correct)),
            "higher_is_better": True,
        },
        "run": {"method": method, "seed": seed},
        "per_row": {"ids_sha256": "f" * 64, "n": len(correct), "accuracy": correct},
    }


def test_identical_predictions_give_p_one() -> None:
    report = compare(result(RIGHT), result(RIGHT, "other"), ("A", "B"))
    assert [t.test for t in report["tests"]] == ["paired bootstrap", "McNemar exact"]
    assert all(t.p_greater == 1.0 and t.p_two_sided == 1.0 for t in report["tests"])


def test_right_on_every_row_the_other_misses_gives_p_near_zero() -> None:
    report = compare(result(np.ones(ROWS)), result(RIGHT), ("A", "B"))
    assert report["means"] == (1.0, pytest.approx(RIGHT.mean()))
    assert all(t.p_greater < 1e-3 for t in report["tests"])
    backwards = compare(result(RIGHT), result(np.ones(ROWS)), ("A", "B"))
    assert all(t.p_greater > 0.999 for t in backwards["tests"])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"config": "size_ood"}, "different config: size_ood vs random"),
        ({"content_hash": "sha256:other"}, "different content"),
        ({"split": "validation"}, "different split"),
        ({"version": "2.0.0"}, "different version"),
    ],
)
def test_results_on_other_rows_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ComparisonError, match=message):
        compare(result(RIGHT, **change), result(RIGHT), ("A", "B"))


def test_other_row_ids_or_no_per_row_values_are_refused() -> None:
    moved = result(RIGHT)
    moved["per_row"]["ids_sha256"] = "0" * 64
    with pytest.raises(ComparisonError, match="different rows"):
        compare(moved, result(RIGHT), ("A", "B"))
    old = result(RIGHT)
    del old["per_row"]
    with pytest.raises(ComparisonError, match="B: no per-row values"):
        compare(result(RIGHT), old, ("A", "B"))


def test_leaderboard_rows_average_their_seeds_and_use_the_bootstrap() -> None:
    seeds = [result(np.ones(ROWS)), result(np.r_[np.zeros(10), np.ones(ROWS - 10)])]
    row, reason = group_rows(seeds)
    assert reason == "" and row.runs == 2 and row.ids_sha256 == "f" * 64
    assert row.values[:10].tolist() == [0.5] * 10 and row.values.mean() < 1
    coin, _ = group_rows([result(RIGHT)])
    test = better_than_next(row, coin, higher=True)
    assert test.test == "paired bootstrap" and test.p_greater < 1e-3
    best, _ = group_rows([result(np.ones(ROWS))])
    assert better_than_next(best, coin, higher=True).test == "McNemar exact"
    assert better_than_next(coin, best, higher=False).p_greater < 1e-3  # lower is better
    elsewhere = result(RIGHT)
    elsewhere["per_row"]["ids_sha256"] = "0" * 64  # other rows: nothing to pair
    assert better_than_next(best, group_rows([elsewhere])[0], higher=True) is None
    old = result(RIGHT)
    del old["per_row"]
    assert group_rows([old, result(RIGHT)]) == (
        None,
        "no per-row values (recorded before result JSONs kept them)",
    )
    assert better_than_next(None, row, higher=True) is None


def test_cli_prints_both_tests_and_refuses_in_one_line(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    a.write_text(json.dumps(result(np.ones(ROWS), "best")))
    b.write_text(json.dumps(result(RIGHT, "coin")))
    c.write_text(json.dumps(result(RIGHT, config="size_ood")))
    out = CliRunner().invoke(main, ["compare", str(a), str(b)])
    assert out.exit_code == 0, out.output
    assert f"accuracy on {ROWS} shared rows" in out.output and "best seed 0" in out.output
    assert "paired bootstrap: A - B = +" in out.output and "McNemar exact" in out.output
    assert "one-sided p (A better) ≤ 0.0001" in out.output  # the bootstrap's resolution
    refused = CliRunner().invoke(main, ["compare", str(a), str(c)])
    assert refused.exit_code == 2
    assert refused.output.strip().count("\n") == 0 and "different config" in refused.output


def test_results_under_other_scoring_rules_are_refused() -> None:
    """An --rule subset result is not paired with an --rule exact one of the same rows."""
    from molbench.compare import check_same_rows
    from molbench.errors import ComparisonError

    def result(rule: str) -> dict:
        return {
            "dataset": {
                "name": "reactions",
                "version": "1",
                "config": "c",
                "split": "test",
                "content_hash": "h",
            },
            "headline": {"metric": "top1"},
            "protocol": {"topk": "by_position", "rule": rule},
        }

    check_same_rows(result("exact"), result("exact"), ["A", "B"])
    with pytest.raises(ComparisonError, match="different protocols"):
        check_same_rows(result("exact"), result("subset"), ["A", "B"])
