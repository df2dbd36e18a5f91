"""Scoring predictions files and model directories against a build."""

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import molbench
from molbench.builders import resolve_dataset
from molbench.errors import DatasetNotFoundError, ParameterError, PredictionFormatError
from molbench.evaluate import evaluate_predictions


def perfect_predictions(build: molbench.BuildResult, config: str = "random") -> pa.Table:
    test = molbench.open_dataset(build.path).table(config, "test")
    return pa.table({"id": test["id"], "label": test["label"]})


def test_perfect_predictions_score_one(small_build, tmp_path: Path) -> None:
    path = tmp_path / "preds.parquet"
    pq.write_table(perfect_predictions(small_build), path)
    result = evaluate_predictions(path, str(small_build.path), "random", "test")
    assert result["metrics"]["accuracy"] == 1.0 and result["metrics"]["mcc"] == 1.0
    assert "auroc" not in result["metrics"]  # labels only: no scores to rank
    assert result["headline"] == {
        "metric": "accuracy",
        "value": 1.0,
        "ci95": [1.0, 1.0],
        "higher_is_better": True,
    }
    assert set(result["buckets"]["recall_by_error"].values()) == {1.0}
    assert result["dataset"]["content_hash"] == small_build.manifest["content_hash"]
    assert len(result["source"]["files"]["preds.parquet"]) == 64


def test_result_keeps_per_row_correctness_with_the_row_ids_hash(small_build, tmp_path) -> None:
    table = perfect_predictions(small_build)
    labels = table["label"].to_pylist()
    labels[0] = 1 - labels[0]  # one wrong row
    path = tmp_path / "preds.parquet"
    pq.write_table(pa.table({"id": table["id"], "label": labels}), path)
    result = evaluate_predictions(path, str(small_build.path), "random", "test")
    per_row = result["per_row"]
    ids = "\n".join(map(str, table["id"].to_pylist())).encode()  # ids in split order
    assert per_row["ids_sha256"] == hashlib.sha256(ids).hexdigest()
    assert per_row["n"] == len(labels) == len(per_row["accuracy"])
    assert per_row["accuracy"][:2] == [0, 1] and sum(per_row["accuracy"]) == len(labels) - 1
    assert sum(per_row["accuracy"]) / len(labels) == result["headline"]["value"]


def test_scores_are_thresholded_and_ranked(small_build, tmp_path: Path) -> None:
    table = perfect_predictions(small_build)
    scores = [0.49 if y else 0.51 for y in table["label"].to_pylist()]  # all wrong side
    path = tmp_path / "preds.csv"
    pa.csv.write_csv(pa.table({"id": table["id"], "score": scores}), path)
    result = evaluate_predictions(path, str(small_build.path), "random", "test")
    assert result["metrics"]["accuracy"] == 0.0
    assert result["metrics"]["auroc"] == 0.0


def test_a_broken_predictions_file_is_refused(small_build, tmp_path: Path) -> None:
    table = perfect_predictions(small_build).to_pylist()
    table[1] = dict(table[0])  # duplicate of row 0; row 1's id goes missing
    table[2]["label"] = None
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist(table), path)
    with pytest.raises(PredictionFormatError, match=r"duplicated.*missing.*NaN"):
        evaluate_predictions(path, str(small_build.path), "random", "test")


def test_dataset_resolution(small_build, tmp_path) -> None:
    assert resolve_dataset(str(small_build.path)) == small_build.path
    with pytest.raises(DatasetNotFoundError, match="run: molbench build validity"):
        resolve_dataset("validity", root=tmp_path)
    with pytest.raises(DatasetNotFoundError, match="neither"):
        resolve_dataset(str(tmp_path / "nothing"))


def test_result_is_json_serialisable(small_build, tmp_path) -> None:
    path = tmp_path / "preds.parquet"
    pq.write_table(perfect_predictions(small_build, "size_ood"), path)
    result = evaluate_predictions(path, str(small_build.path), "size_ood", "test")
    assert json.loads(json.dumps(result))["dataset"]["config"] == "size_ood"


def test_a_model_trained_on_other_data_is_flagged(small_build, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from molbench.evaluate import evaluate_model
    from molbench.models import ModelCard, save_model
    from molbench.nn.validity import GINE

    torch.manual_seed(0)
    module = GINE.from_hyperparameters({"hidden": 8, "layers": 1})
    card = ModelCard(
        tmp_path / "model",
        "validity_gine",
        {"dataset": "validity", "version": "1.0.0", "config": "random"},
        {"hidden": 8, "layers": 1},
        {"method": "gin", "seed": 3, "dataset_content_hash": "sha256:other"},
        10,
    )
    save_model(card.path, module, card)
    result = evaluate_model(card.path, str(small_build.path), split="validation")
    assert result["trained_on_content_hash"] == "sha256:other"
    assert "not comparable" in result["warnings"][0]
    assert result["run"]["method"] == "gin" and result["run"]["seed"] == 3
    assert result["dataset"]["split"] == "validation"
    assert 0.0 <= result["metrics"]["accuracy"] <= 1.0


def test_cuda_without_a_gpu_is_a_clear_error(small_build, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from molbench.errors import MolbenchError
    from molbench.evaluate import evaluate_model

    with pytest.raises(MolbenchError, match="CUDA is not available"):
        evaluate_model(tmp_path, str(small_build.path), device="cuda")


def test_a_rule_is_refused_by_a_task_that_has_none(small_build, tmp_path: Path) -> None:
    path = tmp_path / "preds.parquet"
    pq.write_table(perfect_predictions(small_build), path)
    with pytest.raises(ParameterError, match="the validity task offers none"):
        evaluate_predictions(path, str(small_build.path), "random", "test", rule="subset")
    with pytest.raises(PredictionFormatError, match="unknown predictions format 'mt'"):
        evaluate_predictions(path, str(small_build.path), "random", "test", format="mt")
