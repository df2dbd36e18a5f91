"""The text reference rows (random floor, OPSIN ceiling): a run on a small names build whose
predictions files `molbench eval` scores to the same numbers."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import molbench
from molbench.chem import opsin
from molbench.cli import main

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "text" / "references.py"
SMALL_NAMES = {"n_molecules": 200, "max_carbons": 10, "size_ood_max_train_carbons": 8}


@pytest.fixture(scope="module")
def names_build(tmp_path_factory: pytest.TempPathFactory) -> molbench.BuildResult:
    return molbench.build("text", SMALL_NAMES, out=tmp_path_factory.mktemp("names"), workers=1)


def _eval(build: molbench.BuildResult, predictions: Path, out: Path) -> dict:
    cli = CliRunner().invoke(
        main,
        ["eval", "--predictions", str(predictions), "--dataset", str(build.path),
         "--config", "hydrocarbon_names", "--out", str(out)],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    return json.loads(out.read_text())


def test_random_floor_and_opsin_ceiling_are_scored_by_the_cli(names_build, tmp_path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, str(RECIPE), f"--data={names_build.path}", f"--out={out}", "--seeds=0,1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    floor = [_eval(names_build, out / f"random_embeddings_seed{k}_test.parquet", tmp_path / f"r{k}")
             for k in (0, 1)]  # fmt: skip
    n = floor[0]["n_rows"]
    for result in floor:  # random ranks: MRR near the harmonic mean of 1..n, far from 1
        assert result["metrics"]["t2m_mrr"] < 0.5
    assert floor[0]["metrics"]["t2m_mrr"] != floor[1]["metrics"]["t2m_mrr"]  # seeds differ
    assert f"seed 0: test t2m_mrr {floor[0]['metrics']['t2m_mrr']:.4f}" in done.stdout
    if opsin.opsin_available() is None:
        ceiling = _eval(names_build, out / "opsin_deterministic_test.parquet", tmp_path / "o")
        assert ceiling["metrics"]["exact_match"] == 1.0 and ceiling["n_rows"] == n
    else:
        assert "opsin row skipped" in done.stdout
