"""Few-step CPU smoke runs of every validity recipe, scored end to end by `molbench eval`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from molbench.cli import main

pytest.importorskip("torch")
RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "validity"


def run_recipe(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(RECIPES / name), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize(
    ("script", "architecture", "few_steps"),
    [
        ("gin.py", "validity_gine", ["--epochs=1", "--hidden=16", "--layers=2"]),
        ("char_transformer.py", "validity_char_transformer", ["--steps=3", "--d-model=16"]),
    ],
)
def test_recipe_trains_saves_and_is_scored_by_the_cli(
    small_build, tmp_path: Path, script: str, architecture: str, few_steps: list[str]
) -> None:
    out = tmp_path / "run"
    stdout = run_recipe(
        script, f"--data={small_build.path}", "--max-train-rows=200", f"--out={out}", *few_steps
    )
    assert "test: accuracy" in stdout
    card = json.loads((out / "model" / "molbench_model.json").read_text())
    assert card["architecture"] == architecture
    assert card["provenance"]["dataset_content_hash"] == small_build.manifest["content_hash"]
    assert card["provenance"]["recipe"] == f"recipes/validity/{script}"
    assert set(card["provenance"]) >= {"seed", "train_seconds", "hardware", "git_commit"}
    test_result = json.loads((out / "test.json").read_text())
    assert test_result["run"]["method"] in script

    result_file = tmp_path / "eval.json"
    cli = CliRunner().invoke(
        main,
        [
            "eval",
            "--model",
            str(out / "model"),
            "--dataset",
            str(small_build.path),
            "--out",
            str(result_file),
        ],
    )
    assert cli.exit_code == 0, cli.stderr
    assert "accuracy" in cli.stdout
    scored = json.loads(result_file.read_text())
    assert scored["metrics"]["accuracy"] == test_result["metrics"]["accuracy"]
    assert scored["source"]["kind"] == "model"


def test_shortcut_recipe_scores_all_baselines(small_build) -> None:
    stdout = run_recipe("shortcuts.py", f"--data={small_build.path}", "--config=size_ood")
    for method in (
        "majority_class",
        "length_only",
        "bag_of_characters_logreg",
        "unsaturation_rule",
    ):
        assert method in stdout


def test_recipe_rejects_unknown_options() -> None:
    done = subprocess.run(
        [sys.executable, str(RECIPES / "gin.py"), "--epoch=3"], capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "unknown option --epoch" in done.stderr
