"""A few-step CPU run of the WLDN recipe on a tiny USPTO-15K build, scored end to end by
`molbench eval --model`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdkit import Chem

import molbench
from molbench.cli import main
from molbench.models import load_model

pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "reactions" / "wldn.py"
TINY = ["--hidden=16", "--depth=2", "--rank-hidden=16", "--rank-depth=1", "--candidates=20"]


def test_recipe_trains_saves_and_is_scored_by_the_cli(raw_fixtures, tmp_path: Path) -> None:
    built = molbench.build(
        "reactions",
        {},
        configs=["uspto_15k"],
        out=tmp_path / "root",
        workers=1,
        source=raw_fixtures,
    )
    out = tmp_path / "run"
    steps = ["--center-steps=20", "--rank-steps=10", "--batch-size=8", "--lr=3e-3"]
    done = subprocess.run(
        [
            sys.executable,
            str(RECIPE),
            f"--data={built.path}",
            f"--out={out}",
            "--context=budget",
            "--k=2",
            *TINY,
            *steps,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "30 training reactions" in done.stdout
    assert "test: top1" in done.stdout
    card = json.loads((out / "model" / "molbench_model.json").read_text())
    assert card["architecture"] == "reaction_wldn"
    assert card["provenance"]["method"] == "wldn_budget_k2"  # a leaderboard row per k
    assert card["hyperparameters"]["context"] == "budget"
    assert card["provenance"]["recipe"] == "recipes/reactions/wldn.py"
    test_result = json.loads((out / "test.json").read_text())
    metrics = test_result["metrics"]
    assert test_result["n_rows"] == 10
    assert 0 <= metrics["top1"] <= metrics["top10"] <= 1
    assert metrics["invalid_top1"] == 0
    assert test_result["protocol"]["subset_scores"] == "mixtures"  # its whole mixtures

    # every test reaction gets distinct products that RDKit reads back
    module, _ = load_model(out / "model")
    rows = molbench.open_dataset(built.path).table("uspto_15k", "test")
    predicted = module.predict(rows)
    ranked = predicted["predictions"]
    assert len(ranked) == 10 and all(1 <= len(r) <= 10 for r in ranked)
    assert len(predicted["mixtures"]) == 10 and all(len(set(r)) == len(r) for r in ranked)
    assert all(len(set(r)) == len(r) for r in ranked)
    assert all(Chem.MolFromSmiles(smiles) is not None for r in ranked for smiles in r)

    result_file = tmp_path / "eval.json"
    cli = CliRunner().invoke(
        main,
        [
            "eval",
            "--model",
            str(out / "model"),
            "--dataset",
            str(built.path),
            "--config",
            "uspto_15k",
            "--out",
            str(result_file),
        ],
    )
    assert cli.exit_code == 0, cli.output
    scored = json.loads(result_file.read_text())
    for name in ("top1", "top3", "top10", "invalid_top1"):
        assert scored["metrics"][name] == metrics[name]

    # the GPU-machine path: the network half without RDKit, the RDKit half here, same scores
    outputs = tmp_path / "test_outputs.parquet"
    block_rdkit = (
        "import sys; sys.modules['rdkit'] = None; from molbench.outputs import predict_to_file; "
        "predict_to_file(sys.argv[1], sys.argv[2], 'uspto_15k', 'test', 'cpu', None, sys.argv[3])"
    )
    predicted = subprocess.run(
        [sys.executable, "-c", block_rdkit, str(out / "model"), str(built.path), str(outputs)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    from_outputs = tmp_path / "from_outputs.json"
    cli = CliRunner().invoke(
        main,
        ["eval", "--model", str(out / "model"), "--outputs", str(outputs),
         "--dataset", str(built.path), "--config", "uspto_15k", "--out", str(from_outputs)],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    rescored = json.loads(from_outputs.read_text())
    assert rescored["metrics"] == scored["metrics"]
    # where each half ran is recorded: the network half's machine is the result's hardware
    assert rescored["environment"]["hardware"] == rescored["outputs"]["hardware"]
    assert "finished_on" in rescored["environment"]
    assert rescored["source"]["files"]["outputs"]
    wrong_split = CliRunner().invoke(
        main,
        ["eval", "--model", str(out / "model"), "--outputs", str(outputs),
         "--dataset", str(built.path), "--config", "uspto_15k", "--split", "validation"],
    )  # fmt: skip
    assert wrong_split.exit_code != 0 and "made on another split" in wrong_split.output
