"""The re-ranking recipe composes two saved models (random weights here: what is checked is
the plumbing) into one model that `molbench eval` scores the same way."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import molbench
from molbench.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("torch_geometric")
pytest.importorskip("transformers")

from molbench.models import ModelCard, save_model  # noqa: E402
from molbench.nn.name_seq2seq import NameSeq2Seq  # noqa: E402
from molbench.nn.text_contrastive import ContrastiveGIN  # noqa: E402
from molbench.nn.text_encoder import identify  # noqa: E402
from tests.nn.test_text_encoder import write_tiny_bert  # noqa: E402

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "text" / "rerank.py"
SMALL_NAMES = {"n_molecules": 200, "max_carbons": 10, "size_ood_max_train_carbons": 8}
CONFIG = "hydrocarbon_names"


@pytest.fixture(scope="module")
def names_build(tmp_path_factory: pytest.TempPathFactory) -> molbench.BuildResult:
    out = tmp_path_factory.mktemp("text_root")
    return molbench.build("text", SMALL_NAMES, out=out, workers=1, progress=False)


def saved(directory: Path, module, architecture: str, hp: dict, built, seconds: float) -> Path:
    """A model directory as its recipe would leave it (provenance trimmed to what is read)."""
    dataset = molbench.open_dataset(built.path)
    card = ModelCard(
        directory,
        architecture,
        {"dataset": "text", "version": dataset.version, "config": CONFIG},
        hp,
        {
            "method": {"text_contrastive_gin": "contrastive_gin"}.get(architecture, "seq2seq"),
            "seed": 0,
            "git_commit": "0" * 40,
            "train_seconds": seconds,
            "train_cpu_seconds": seconds,
            "dataset_content_hash": dataset.config_hash(CONFIG),
        },
        sum(p.numel() for p in module.parameters()),
    )
    save_model(directory, module, card)
    return directory


def components(tmp_path: Path, built, direction: str = "name2smiles") -> tuple[Path, Path]:
    torch.manual_seed(0)
    encoder = identify(str(write_tiny_bert(tmp_path / "tiny_bert", max_positions=64)))
    retriever_hp = {
        "hidden": 16, "layers": 2, "dim": 16, "text_hidden": 32, "text_layers": 2,
        "pool": "sum", "text_input": "tokens", "text_heads": 2, **encoder.as_hyperparameters(),
        "char_width": 16, "char_layers": 1, "char_heads": 2, "char_max_length": 64,
        "char_counts": 8, "char_units": "morphemes_v1",
    }  # fmt: skip
    retriever = ContrastiveGIN.from_hyperparameters(retriever_hp)
    order = "condensed" if direction == "name2smiles" else "canonical"
    reranker_hp = {
        "direction": direction, "d_model": 16, "heads": 2, "encoder_layers": 1,
        "decoder_layers": 1, "smiles_order": order, "max_output_length": 40,
    }  # fmt: skip
    reranker = NameSeq2Seq.from_hyperparameters(reranker_hp)
    return (
        saved(tmp_path / "r", retriever, "text_contrastive_gin", retriever_hp, built, 10.0),
        saved(tmp_path / "n", reranker, "text_name_seq2seq", reranker_hp, built, 5.0),
    )


def run_recipe(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(RECIPE), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_recipe_composes_tunes_records_both_cards_and_is_scored_by_the_cli(
    names_build, tmp_path: Path
) -> None:
    retriever, reranker = components(tmp_path, names_build)
    out = tmp_path / "run"
    done = run_recipe(
        f"--data={names_build.path}", f"--retriever={retriever}", f"--reranker={reranker}",
        f"--out={out}", "--top-k=4", "--weights=0,0.5",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("<- chosen") == 1 and "test: t2m_mrr" in done.stdout
    card = json.loads((out / "model" / "molbench_model.json").read_text())
    assert card["architecture"] == "text_retrieve_rerank"
    hp = card["hyperparameters"]
    assert hp["top_k"] == 4 and hp["rerank_weight"] in (0.0, 0.5)
    assert hp["retriever"]["char_units"] == "morphemes_v1" and hp["reranker"]["d_model"] == 16
    assert "retriever" not in hp["training"] and "reranker" not in hp["training"]  # paths
    provenance = card["provenance"]
    assert provenance["method"] == "contrastive_gin_rerank"
    assert [c["architecture"] for c in provenance["components"]] == [
        "text_contrastive_gin",
        "text_name_seq2seq",
    ]
    assert provenance["train_seconds"] >= 15.0  # the components' time is part of it
    test = json.loads((out / "test.json").read_text())
    assert test["metrics"]["t2m_rerank_depth"] == 4
    assert "t2m_retriever_hits_at_1" in test["metrics"] and "reranked" in test["protocol"]

    result_file = tmp_path / "eval.json"
    cli = CliRunner().invoke(
        main,
        ["eval", "--model", str(out / "model"), "--dataset", str(names_build.path),
         "--config", CONFIG, "--out", str(result_file)],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.stderr
    scored = json.loads(result_file.read_text())
    assert scored["metrics"] == test["metrics"]


def test_a_name_writing_reranker_or_a_missing_model_is_refused_in_one_line(
    names_build, tmp_path: Path
) -> None:
    retriever, reranker = components(tmp_path, names_build, direction="smiles2name")
    data = f"--data={names_build.path}"
    done = run_recipe(data, f"--retriever={retriever}", f"--reranker={reranker}")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith("the re-ranker must write SMILES")
    done = run_recipe(data, f"--retriever={tmp_path / 'none'}", f"--reranker={reranker}")
    assert done.returncode == 2 and "no contrastive_gin model at" in done.stderr
    done = run_recipe(data, f"--retriever={reranker}", f"--reranker={reranker}")
    assert done.returncode == 2 and "holds a text_name_seq2seq model" in done.stderr
    done = run_recipe(data, f"--retriever={retriever}", f"--reranker={reranker}", "--seed=1")
    assert done.returncode == 2 and "trained with seed 0, not --seed=1" in done.stderr
    for bad, says in (("--weights=0,nan", "in 0..1e6"), ("--top-k=2000", "between 1 and 1000")):
        done = run_recipe(data, f"--retriever={retriever}", bad)
        assert done.returncode == 2 and says in done.stderr, done.stderr[-300:]
