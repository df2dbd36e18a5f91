"""Leaderboards are generated, never typed: the committed pages must match the results."""

import json
import math
import re
from pathlib import Path

import pytest

from molbench.leaderboard import (
    load_results,
    published_rows,
    render_markdown,
    render_page,
    render_published,
    summarize,
    write_leaderboard,
)
from molbench.tasks import TASKS

REPO = Path(__file__).resolve().parent.parent


def result(method: str, config: str, seed: int | None, accuracy: float) -> dict:
    return {
        "dataset": {
            "name": "validity",
            "version": "1.0.0",
            "config": config,
            "split": "test",
            "content_hash": "sha256:abc",
            "parameters": {"size_ood_max_train_carbons": 3},
        },
        "headline": {
            "metric": "accuracy",
            "value": accuracy,
            "ci95": [0, 1],
            "higher_is_better": True,
        },
        "metrics": {"accuracy": accuracy, "balanced_accuracy": accuracy, "mcc": 0.5},
        "buckets": {"accuracy_by_n_carbons": {"2": accuracy, "4": accuracy}},
        "run": {
            "method": method,
            "recipe": f"recipes/validity/{method}.py",
            "seed": seed,
            "n_parameters": 10,
            "train_seconds": 2.0,
            "hardware": "CPU: test (2 cores)",
        },
    }


def test_summary_mean_and_unbiased_std_sorted_by_headline() -> None:
    rows = summarize(
        [
            result("a", "random", 0, 0.8),
            result("a", "random", 1, 0.9),
            result("b", "random", 0, 0.95),
            result("c", "random", None, 0.5),
        ]
    )
    assert [r["method"] for r in rows] == ["b", "a", "c"]
    mean, std = rows[1]["headline"]
    assert mean == pytest.approx(0.85) and std == pytest.approx(0.0707107, abs=1e-6)
    assert math.isnan(rows[0]["headline"][1])  # one run: no std
    assert rows[1]["n"] == 2 and rows[1]["seeds"] == [0, 1]


def test_markdown_has_a_section_per_config_and_marks_literature_separately() -> None:
    rows = summarize([result("a", "random", 0, 0.8), result("a", "size_ood", 0, 0.7)])
    page = render_markdown("validity", rows, [], "figures")
    assert "## `random`" in page and "## `size_ood`" in page
    assert "not reproduced here" in page and "0.8000" in page
    assert "[a.py](../recipes/validity/a.py)" in page
    assert "![validity random](figures/validity__random__accuracy.png)" in page


def with_rows(r: dict, correct: list[int]) -> dict:
    r["per_row"] = {"ids_sha256": "f" * 64, "n": len(correct), "accuracy": correct}
    r["headline"]["value"] = sum(correct) / len(correct)
    return r


def test_each_row_says_if_it_beats_the_next_and_why_not_when_it_cannot() -> None:
    coin = [1, 0] * 50
    rows = summarize(
        [
            with_rows(result("best", "random", None, 0), [1] * 100),
            with_rows(result("coin", "random", None, 0), coin),
            with_rows(result("same", "random", None, 0), coin),
            result("old", "random", 0, 0.1),  # recorded without per-row values
        ]
    )
    assert [r["method"] for r in rows] == ["best", "coin", "same", "old"]
    page = render_markdown("validity", rows, [], None)
    lines = {line.split(" | ")[1]: line for line in page.splitlines() if line.startswith("| ")}
    assert "| < 0.001 (McNemar) |" in lines["best"]  # right on every row coin misses
    assert "| 1.000 (McNemar) |" in lines["coin"]  # the same predictions: no evidence
    assert "| — |" in lines["same"]  # the next row has no per-row values
    assert "—: old: no per-row values (recorded before result JSONs kept them)" in page


def test_write_leaderboard_from_result_files(tmp_path: Path) -> None:
    results = tmp_path / "results" / "validity"
    results.mkdir(parents=True)
    for seed in (0, 1):
        (results / f"a__random__seed{seed}.json").write_text(
            json.dumps(result("a", "random", seed, 0.9))
        )
    stale = tmp_path / "figures" / "validity__gone__accuracy.png"
    stale.parent.mkdir()
    stale.write_bytes(b"")
    written = write_leaderboard("validity", tmp_path)
    assert [p.name for p in written] == ["validity.md", "validity__random__accuracy.png"]
    assert written[1].read_bytes()[:4] == b"\x89PNG"
    assert not stale.exists()  # a figure of a section that is gone goes too


@pytest.mark.parametrize("dataset", sorted(TASKS))
def test_committed_leaderboards_equal_their_regeneration(dataset: str) -> None:
    results_dir = REPO / "leaderboards" / "results" / dataset
    if not any(results_dir.glob("*.json")):
        pytest.skip(f"no committed results for {dataset} yet")
    published = load_results(results_dir / "published")
    page = render_page(dataset, load_results(results_dir), published)
    committed = (REPO / "leaderboards" / f"{dataset}.md").read_text(encoding="utf-8")
    assert committed == page, "run: molbench leaderboard (never edit the markdown by hand)"
    for figure in re.findall(r"\]\((figures/[^)]+)\)", page):
        assert (REPO / "leaderboards" / figure).is_file(), figure


def test_transfer_results_get_their_own_labelled_section_with_the_overlap() -> None:
    own = result("m", "uspto_mit", 0, 0.8)
    moved = result("m", "uspto_mit", 0, 0.3)
    moved["transfer"] = {
        "trained_on": "uspto_15k",
        "overlaps": {"uspto_15k/train reactions in uspto_mit/test": 836},
    }
    rows = summarize([own, moved])
    assert len(rows) == 2  # same method, config and content: not averaged together
    assert {r["trained_on"] for r in rows} == {"", "uspto_15k"}
    page = render_markdown("reactions", rows, [], None)
    transfer = page.split("trained on `uspto_15k` (transfer)", 1)[1]
    assert "836 uspto_15k/train reactions in uspto_mit/test" in transfer
    assert "**0.3000**" in transfer and "**0.8000**" not in transfer
    # a transfer run's clock ran through its scoring: its time is the training row's
    own_row = page.split("trained on `uspto_15k` (transfer)", 1)[0].split("| 1 | m |")[1]
    transfer_row = transfer.split("| 1 | m |")[1].split("\n")[0]
    assert " s" in own_row.split("\n")[0] and " s " not in transfer_row
    assert "training times are in the `uspto_15k` section" in transfer


def test_a_column_note_is_printed_once_under_each_table_that_shows_the_column() -> None:
    a, b = result("a", "random", 0, 0.8), result("b", "size_ood", 0, 0.7)
    a["metrics"] |= {"x_other": 0.5, "y_other": 0.4}
    metrics = ("accuracy", "x_other", "y_other")
    notes = {"x_other": "under the other rule", "y_other": "under the other rule"}
    page = render_markdown("validity", summarize([a, b], metrics), [], None, metrics, (), notes)
    assert page.count("`x_other`, `y_other`: under the other rule") == 1
    random, size_ood = page.split("## `size_ood`")
    assert "under the other rule" in random and "under the other rule" not in size_ood


def published(rule: str, top1: float, reported: dict) -> dict:
    r = result("wldn_published", "uspto_mit", None, top1)
    r["dataset"]["name"] = "reactions"
    r["headline"]["metric"] = "top1"
    r["metrics"] = {"top1": top1, "top3": 0.88}
    r["protocol"] = {"topk": "by_position", "rule": rule}
    r["source"] = {
        "kind": "published",
        "files": {"test.cbond": "ab" * 32},
        "published": {
            "model": "WLDN",
            "paper": "Jin et al. 2017",
            "repository": "wengong-jin/nips17-rexgen",
            "commit": "56b07e0a278e1a358f5530c520ab77818d49e7ae",
            "path": "USPTO/rank-diff-wln/test.cbond",
            "sha256": "70e7c741" + "0" * 56,
            "reported": reported,
            "note": f"scored under the {rule} rule",
        },
    }
    return r


def test_published_rows_sit_beside_the_paper_in_their_own_section() -> None:
    ours = result("wldn", "uspto_mit", 0, 0.7)
    rows = published_rows([ours, published("subset", 0.7957, {"top1": 0.796, "top3": 0.877})])
    assert len(rows) == 1 and rows[0]["scores"]["top1"] == (0.7957, 0.796)
    assert rows[0]["differs"] == {"top3": pytest.approx(0.003)}  # 0.7957 rounds to 79.6
    lines = render_published(rows)
    assert lines[0] == "## Published models, rescored by molbench"
    row = next(line for line in lines if line.startswith("| WLDN"))
    assert "top1 **0.7957** (0.796), top3 **0.8800** (0.877)" in row and "rule subset" in row
    assert any("differs from the paper by top3 +0.3 points" in line for line in lines)
    exact = published_rows([published("exact", 0.6, {})])[0]
    assert exact["scores"] == {"top1": (0.6, None)} and exact["differs"] == {}
    shown = published_rows([published("exact", 0.6, {})], ("top1", "top3", "top5"))[0]
    assert shown["scores"] == {"top1": (0.6, None), "top3": (0.88, None)}  # no top5 recorded


def test_a_gap_in_a_distance_is_not_written_as_points() -> None:
    r = published("exact", 0.6, {"levenshtein": 16.07, "exact_match": 0.311})
    r["metrics"] = {"levenshtein": 15.9573, "exact_match": 0.3182, "top1": 0.6}
    lines = render_published(published_rows([r]))
    assert any("levenshtein -0.11; exact_match +0.7 points" in line for line in lines)


def test_published_results_are_never_ranked_with_our_runs(tmp_path: Path) -> None:
    base = tmp_path / "results" / "reactions"
    (base / "published").mkdir(parents=True)
    ours = result("wldn", "uspto_mit", 0, 0.5)
    ours["dataset"]["name"] = "reactions"
    ours["headline"]["metric"] = "top1"
    ours["metrics"] = {"top1": 0.5}
    (base / "wldn__uspto_mit__seed0.json").write_text(json.dumps(ours))
    (base / "published" / "wldn_published__uspto_mit__subset.json").write_text(
        json.dumps(published("subset", 0.7957, {"top1": 0.796}))
    )
    write_leaderboard("reactions", tmp_path)
    page = (tmp_path / "reactions.md").read_text()
    ranked, rescored = page.split("## Published models, rescored by molbench")
    assert "wldn_published" not in ranked and "**0.5000**" in ranked
    assert "top1 **0.7957** (0.796)" in rescored
    assert "| protocol |" in rescored.split("## Reported in the literature")[1]
