"""Few-step CPU smoke runs of the reaction transformer recipe, scored end to end by the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import molbench
from molbench.cli import main
from tests.conftest import FIXTURE_COUNTS, RAW, pinned_reaction_sources

pytest.importorskip("torch")
RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "reactions" / "transformer.py"
FEW_STEPS = [
    "--steps=4",
    "--d-model=16",
    "--heads=2",
    "--encoder-layers=1",
    "--decoder-layers=1",
    "--d-ff=32",
    "--beam-size=3",
    "--max-output-length=16",
    "--eval-rows=5",
    "--warmup-steps=2",
]


@pytest.fixture(scope="module")
def reactions_build(tmp_path_factory: pytest.TempPathFactory) -> molbench.BuildResult:
    """Tiny uspto_15k and uspto_mit builds from the committed fixtures; read-only."""
    from molbench.builders import reactions

    counts = {g: FIXTURE_COUNTS[g] for g in ("uspto_mit", "uspto_15k")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reactions, "SOURCES", pinned_reaction_sources(RAW))
        patch.setattr(reactions, "PUBLISHED_COUNTS", counts)
        return molbench.build(
            "reactions",
            {},
            configs=["uspto_15k", "uspto_mit"],
            out=tmp_path_factory.mktemp("rx"),
            workers=1,
            source=RAW,
        )


def run_recipe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(RECIPE), *args], capture_output=True, text=True, timeout=300
    )


def test_recipe_with_augmented_rows_trains_saves_transfers_and_is_scored_by_the_cli(
    reactions_build, tmp_path: Path
) -> None:
    augmented = tmp_path / "aug.parquet"
    made = CliRunner().invoke(
        main,
        [
            *("augment", "reactions", "--dataset", str(reactions_build.path)),
            *("--copies", "2", "--out", str(augmented)),
        ],
    )
    assert made.exit_code == 0, made.output
    out = tmp_path / "run"
    done = run_recipe(
        f"--data={reactions_build.path}",
        "--max-train-rows=20",
        f"--augmented={augmented}",
        "--inputs=mixed",
        "--transfer-config=uspto_mit",
        f"--out={out}",
        *FEW_STEPS,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "40 augmented rows (2 copies)" in done.stdout  # only the 20 rows trained on
    assert "4 steps in" in done.stdout and "test: top1" in done.stdout
    assert "test on uspto_mit: top1" in done.stdout
    card = json.loads((out / "model" / "molbench_model.json").read_text())
    assert card["architecture"] == "reaction_transformer"
    assert card["hyperparameters"]["inputs"] == "mixed"
    assert card["hyperparameters"]["beam_size"] == 3
    assert card["hyperparameters"]["training"]["augmented"] == str(augmented)
    assert card["provenance"]["recipe"] == "recipes/reactions/transformer.py"
    assert card["provenance"]["method"] == "molecular_transformer_mixed"
    test_result = json.loads((out / "test.json").read_text())
    assert test_result["n_rows"] == 10 and test_result["headline"]["metric"] == "top1"
    transfer = json.loads((out / "test_on_uspto_mit.json").read_text())
    assert transfer["dataset"]["config"] == "uspto_mit" and transfer["n_rows"] == 14
    assert transfer["transfer"]["trained_on"] == "uspto_15k"

    result_file = tmp_path / "eval.json"
    cli = CliRunner().invoke(
        main,
        [
            *("eval", "--model", str(out / "model")),
            *("--dataset", str(reactions_build.path), "--out", str(result_file)),
        ],
    )
    assert cli.exit_code == 0, cli.output
    scored = json.loads(result_file.read_text())
    assert scored["dataset"]["config"] == "uspto_15k" and scored["source"]["kind"] == "model"
    for k in (1, 3):
        assert 0.0 <= scored["metrics"][f"top{k}"] <= 1.0
        assert scored["metrics"][f"top{k}"] == test_result["metrics"][f"top{k}"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--inputs=both", "inputs must be one of separated, mixed"),
        ("--beam-size=20", "beam_size must be 1 to 10"),
        ("--d-model=30", "d_model 30 must split into 4 heads of even size"),
    ],
)
def test_recipe_rejects_what_the_model_cannot_be(option: str, message: str) -> None:
    done = run_recipe(option)
    assert done.returncode != 0
    assert message in done.stderr


def test_recipe_refuses_a_file_molbench_did_not_augment(reactions_build, tmp_path: Path) -> None:
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"id": ["15k_train_000001"]}), plain)
    done = run_recipe(f"--data={reactions_build.path}", f"--augmented={plain}", *FEW_STEPS)
    assert done.returncode != 0
    assert "is not a file written by 'molbench augment reactions'" in done.stderr


def test_recipe_refuses_a_transfer_config_the_build_lacks(reactions_build) -> None:
    done = run_recipe(f"--data={reactions_build.path}", "--transfer-config=uspto_50k", *FEW_STEPS)
    assert done.returncode != 0
    assert "has no uspto_50k/test to transfer to" in done.stderr
    assert "steps in" not in done.stdout  # refused before training
    same_rows = run_recipe(f"--data={reactions_build.path}", "--transfer-config=uspto_15k")
    assert same_rows.returncode != 0 and "not a transfer" in same_rows.stderr


BLOCK_RDKIT = (
    "import runpy, sys; sys.modules['rdkit'] = None; sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def test_trains_without_rdkit_and_is_scored_and_recorded_later(
    reactions_build, tmp_path: Path
) -> None:
    """A GPU machine has no RDKit: the recipe trains and saves; the CPU side scores, records."""
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_RDKIT, str(RECIPE), f"--data={reactions_build.path}",
         f"--out={out}", "--transfer-config=uspto_mit", *FEW_STEPS],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "molbench eval --model" in done.stdout and "--outputs" in done.stdout
    assert "--config uspto_15k" in done.stdout and "--config uspto_mit" in done.stdout
    assert not (out / "test.json").exists()
    written = sorted(p.name for p in out.glob("*_outputs_*.parquet"))
    assert written == [
        "test_outputs_uspto_15k.parquet",
        "test_outputs_uspto_mit.parquet",
        "validation_outputs_uspto_15k.parquet",
    ]
    records = tmp_path / "results"
    for config in ("uspto_15k", "uspto_mit"):
        cli = CliRunner().invoke(
            main,
            ["eval", "--model", str(out / "model"), "--dataset", str(reactions_build.path),
             "--outputs", str(out / f"test_outputs_{config}.parquet"),
             "--config", config, "--record", str(records)],
        )  # fmt: skip
        assert cli.exit_code == 0, cli.output
    # `molbench predict` runs where RDKit is missing, and repeats the recipe's outputs
    no_rdkit_cli = "import sys; sys.modules['rdkit'] = None; from molbench.cli import main; main()"
    again = subprocess.run(
        [sys.executable, "-c", no_rdkit_cli, "predict", "--model", str(out / "model"),
         "--dataset", str(reactions_build.path), "--config", "uspto_15k",
         "--out", str(tmp_path / "again.parquet")],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    build_without_rdkit = subprocess.run(
        [sys.executable, "-c", no_rdkit_cli, "build", "validity"], capture_output=True, text=True
    )
    assert build_without_rdkit.returncode != 0
    assert "building needs RDKit" in build_without_rdkit.stderr
    assert "Traceback" not in build_without_rdkit.stderr
    assert pq.read_table(tmp_path / "again.parquet")["predictions"].equals(
        pq.read_table(out / "test_outputs_uspto_15k.parquet")["predictions"]
    )
    own = json.loads(
        (records / "molecular_transformer_separated__uspto_15k__seed0.json").read_text()
    )
    assert "transfer" not in own and own["dataset"]["config"] == "uspto_15k"
    moved = records / "molecular_transformer_separated__uspto_mit__from_uspto_15k__seed0.json"
    transfer = json.loads(moved.read_text())["transfer"]
    assert transfer["trained_on"] == "uspto_15k"
    assert (
        transfer["trained_on_content_hash"]
        == reactions_build.manifest["configs"]["uspto_15k"]["content_hash"]
    )
