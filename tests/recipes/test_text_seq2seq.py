"""Few-step CPU smoke runs of the name ↔ SMILES recipe, scored end to end by `molbench eval`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import molbench
from molbench.cli import main

pytest.importorskip("torch")
RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "text" / "name_seq2seq.py"
SMALL_NAMES = {"n_molecules": 200, "max_carbons": 10, "size_ood_max_train_carbons": 8}
FEW_STEPS = ["--steps=3", "--d-model=16", "--heads=2", "--max-output-length=24"]


@pytest.fixture(scope="module")
def names_build(tmp_path_factory: pytest.TempPathFactory) -> molbench.BuildResult:
    """A 200-row hydrocarbon_names build; tests must not modify it."""
    out = tmp_path_factory.mktemp("text_root")
    return molbench.build("text", SMALL_NAMES, out=out, workers=1)


def run_recipe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(RECIPE), *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    ("direction", "config", "metric"),
    [
        ("name2smiles", "hydrocarbon_names", "exact_match"),
        ("smiles2name", "hydrocarbon_names_size_ood", "name_exact_match"),
    ],
)
def test_recipe_trains_saves_and_is_scored_by_the_cli(
    names_build, tmp_path: Path, direction: str, config: str, metric: str
) -> None:
    out = tmp_path / "run"
    done = run_recipe(
        f"--direction={direction}",
        f"--config={config}",
        f"--data={names_build.path}",
        "--max-train-rows=100",
        f"--out={out}",
        *FEW_STEPS,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"test: {metric}" in done.stdout
    card = json.loads((out / "model" / "molbench_model.json").read_text())
    assert card["architecture"] == "text_name_seq2seq"
    assert card["hyperparameters"]["direction"] == direction
    assert card["task"]["config"] == config
    assert card["provenance"]["recipe"] == "recipes/text/name_seq2seq.py"
    assert card["provenance"]["method"] == f"seq2seq_{direction}"
    test_result = json.loads((out / "test.json").read_text())
    assert test_result["headline"]["metric"] == metric

    result_file = tmp_path / "eval.json"
    cli = CliRunner().invoke(
        main,
        [
            "eval",
            "--model",
            str(out / "model"),
            "--dataset",
            str(names_build.path),
            "--out",
            str(result_file),
        ],
    )
    assert cli.exit_code == 0, cli.stderr
    scored = json.loads(result_file.read_text())
    assert scored["dataset"]["config"] == config
    assert scored["source"]["kind"] == "model"
    assert 0.0 <= scored["metrics"][metric] <= 1.0
    assert scored["metrics"][metric] == test_result["metrics"][metric]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--direction=name2inchi", "direction must be one of name2smiles, smiles2name"),
        ("--smiles-order=random", "smiles_order must be one of canonical, condensed"),
        ("--d-model=30", "d_model 30 must split into 4 heads of even size"),
    ],
)
def test_recipe_rejects_what_the_model_cannot_be(option: str, message: str) -> None:
    done = run_recipe(option)
    assert done.returncode != 0
    assert message in done.stderr
