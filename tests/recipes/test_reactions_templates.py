"""The template and largest-reactant baselines on a tiny reactions build, with a transfer
run to USPTO-MIT, their prediction files scored end to end by `molbench eval`."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import molbench
from molbench.cli import main
from tests.conftest import FIXTURE_COUNTS, RAW, pinned_reaction_sources

pytest.importorskip("rdchiral")

from molbench.chem.templates import canonical

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "reactions"


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory: pytest.TempPathFactory) -> molbench.BuildResult:
    """USPTO-15K and USPTO-MIT fixture reactions, every split (built once for the module)."""
    from molbench.builders import reactions

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reactions, "SOURCES", pinned_reaction_sources(RAW))
        counts = {g: FIXTURE_COUNTS[g] for g in ("uspto_mit", "uspto_15k")}
        patch.setattr(reactions, "PUBLISHED_COUNTS", counts)
        return molbench.build(
            "reactions",
            {"splits": "train,validation,test"},
            configs=["uspto_15k", "uspto_mit"],
            out=tmp_path_factory.mktemp("root"),
            workers=1,
            source=RAW,
        )


def _run(script: str, built: molbench.BuildResult, out: Path, *extra: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            str(RECIPES / script),
            f"--data={built.path}",
            f"--out={out}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _eval(built: molbench.BuildResult, predictions: Path, config: str, out: Path) -> dict:
    cli = CliRunner().invoke(
        main,
        [
            "eval",
            "--predictions",
            str(predictions),
            "--dataset",
            str(built.path),
            "--config",
            config,
            "--split",
            "test",
            "--out",
            str(out),
        ],
    )
    assert cli.exit_code == 0, cli.output
    return json.loads(out.read_text())


def test_template_recipe_extracts_ranks_and_is_scored_by_the_cli(tiny_build, tmp_path) -> None:
    out = tmp_path / "run"
    stdout = _run("templates.py", tiny_build, out, "--transfer-config=uspto_mit")
    library = json.loads((out / "templates.json").read_text())
    stats = library["stats"]
    assert stats["n_train_reactions"] == 30
    assert stats["n_with_template"] + stats["n_without_template"] == 30
    assert sum(stats["failures"].values()) == stats["n_without_template"]
    assert stats["n_with_template"] >= 25 and stats["self_consistency"] >= 0.9
    counts = [n for _, n in library["templates"]]
    assert counts == sorted(counts, reverse=True) and sum(counts) == stats["n_with_template"]

    test = json.loads((out / "test.json").read_text())
    assert test["n_rows"] == 10 and test["run"]["seed"] is None
    assert test["run"]["templates"] == stats
    predictions = pq.read_table(out / "test_predictions_uspto_15k.parquet")
    ranked = predictions["predictions"].to_pylist()
    assert all(len(r) <= 10 and len(set(r)) == len(r) for r in ranked)
    assert any(ranked)  # some test reaction is matched by a training template
    scored = _eval(
        tiny_build, out / "test_predictions_uspto_15k.parquet", "uspto_15k", tmp_path / "e.json"
    )
    assert scored["metrics"]["top1"] == test["metrics"]["top1"]
    assert scored["metrics"]["top10"] == test["metrics"]["top10"]
    assert "uspto_15k/test: top1" in stdout

    transfer = json.loads((out / "test_on_uspto_mit.json").read_text())
    assert transfer["n_rows"] == 14 and transfer["transfer"]["trained_on"] == "uspto_15k"
    mit = _eval(
        tiny_build, out / "test_predictions_uspto_mit.parquet", "uspto_mit", tmp_path / "m.json"
    )
    assert mit["metrics"]["top10"] == transfer["metrics"]["top10"]


def test_a_test_reaction_seen_in_train_is_recovered(tiny_build, tmp_path) -> None:
    """USPTO-MIT (mapped products): the fixture's test reaction that is also a train one."""
    out = tmp_path / "run"
    _run("templates.py", tiny_build, out, "--config=uspto_mit")
    rows = molbench.open_dataset(tiny_build.path).table("uspto_mit", "test")
    predictions = pq.read_table(out / "test_predictions_uspto_mit.parquet")
    in_train = rows["reaction_in_train"].to_pylist()
    for seen, product, ranked in zip(
        in_train, rows["products"].to_pylist(), predictions["predictions"].to_pylist(), strict=True
    ):
        if seen:
            assert canonical(product) in ranked
    assert sum(in_train) == 1
    test = json.loads((out / "test.json").read_text())
    assert test["metrics"]["top10"] >= 1 / 14

    # rules seen at least twice: fewer of them, and never more right answers
    fewer = tmp_path / "min2"
    _run("templates.py", tiny_build, fewer, "--config=uspto_mit", "--min-count=2")
    strict = json.loads((fewer / "test.json").read_text())
    used = strict["run"]["templates"]["n_templates_used"]
    assert used < test["run"]["templates"]["n_templates_used"]
    assert strict["metrics"]["top10"] <= test["metrics"]["top10"]


def test_largest_reactant_predicts_one_reactant(tiny_build, tmp_path) -> None:
    out = tmp_path / "run"
    _run("largest_reactant.py", tiny_build, out, "--transfer-config=uspto_mit")
    rows = molbench.open_dataset(tiny_build.path).table("uspto_15k", "test")
    predictions = pq.read_table(out / "test_predictions_uspto_15k.parquet")
    assert predictions["id"].to_pylist() == rows["id"].to_pylist()
    for reactants, ranked in zip(
        rows["reactants"].to_pylist(), predictions["predictions"].to_pylist(), strict=True
    ):
        assert len(ranked) == 1 and ranked[0] in reactants.split(".")
    test = json.loads((out / "test.json").read_text())
    scored = _eval(
        tiny_build, out / "test_predictions_uspto_15k.parquet", "uspto_15k", tmp_path / "e.json"
    )
    assert scored["metrics"]["top1"] == test["metrics"]["top1"] == test["metrics"]["top10"]
    assert (out / "test_on_uspto_mit.json").exists()


def test_template_ranker_trains_ranks_within_coverage_and_reuses_its_cache(
    tiny_build, tmp_path
) -> None:
    """On USPTO-MIT's fixture (its USPTO-15K fixture leaves no training choice to learn)."""
    cache = tmp_path / "cache"
    out = tmp_path / "run"
    args = ("--config=uspto_mit", f"--cache={cache}", "--epochs=2", "--hidden=16", "--bits=256")
    stdout = _run("template_ranker.py", tiny_build, out, *args, "--transfer-config=uspto_15k")
    assert (out / "model" / "model.safetensors").exists()
    card = json.loads((out / "model" / "molbench_model.json").read_text())
    assert card["architecture"] == "template_ranker" and card["n_parameters"] > 0
    test = json.loads((out / "test.json").read_text())
    assert test["n_rows"] == 14 and test["run"]["seed"] == 0
    coverage = test["run"]["candidates"]["coverage"]
    assert 0 < test["metrics"]["top10"] <= coverage and not test["run"]["candidates"]["cached"]
    stats = test["run"]["templates"]
    assert 0 < stats["train_coverage_loo"] < 1 and stats["n_train_examples"] >= 1
    assert "2 steps" in stdout  # one example, one step per epoch
    assert test["per_row"] and test["protocol"]["topk"] == "by_position"
    predictions = out / "test_predictions_uspto_mit.parquet"
    ranked = pq.read_table(predictions)["predictions"].to_pylist()
    assert all(len(r) <= 10 and len(set(r)) == len(r) for r in ranked)
    scored = _eval(tiny_build, predictions, "uspto_mit", tmp_path / "e.json")
    assert scored["metrics"]["top1"] == test["metrics"]["top1"]
    transfer = json.loads((out / "test_on_uspto_15k.json").read_text())
    assert transfer["n_rows"] == 10 and transfer["transfer"]["trained_on"] == "uspto_mit"
    assert "uspto_15k/test (trained on uspto_mit)" in stdout

    # the same seed again: the candidates come from the cache, the predictions are the same
    again = tmp_path / "again"
    _run("template_ranker.py", tiny_build, again, *args)
    assert json.loads((again / "test.json").read_text())["run"]["candidates"]["cached"]
    repeated = pq.read_table(again / "test_predictions_uspto_mit.parquet")["predictions"]
    assert repeated.to_pylist() == ranked
