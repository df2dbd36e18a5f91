"""Text-task scoring on hand-made embeddings, molecules and names."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from molbench.errors import PredictionFormatError
from molbench.tasks.text import TextTask

SMILES = ["CCO", "c1ccccc1", "CC(=O)O", "CCN"]


def _truth(with_names: bool = False) -> pa.Table:
    columns = {"id": [f"m{i}" for i in range(4)], "smiles": SMILES}
    if with_names:
        columns["name"] = ["ethanol", "benzene", "acetic acid", "ethanamine"]
    return pa.table(columns)


def test_perfect_embeddings_score_one_and_constant_ones_score_worst() -> None:
    eye = np.eye(4, dtype=np.float32)
    scored = TextTask().score(_truth(), {"text_embedding": eye, "mol_embedding": eye}, seed=0)
    assert scored["metrics"]["t2m_mrr"] == 1.0 and scored["metrics"]["m2t_hits_at_1"] == 1.0
    assert scored["headline"]["metric"] == "t2m_mrr"
    flat = np.ones((4, 3), dtype=np.float32)
    worst = TextTask().score(_truth(), {"text_embedding": flat, "mol_embedding": flat}, seed=0)
    assert worst["metrics"]["t2m_mean_rank"] == 4.0  # ties count against the model


def test_whole_corpus_ranking_uses_the_candidates() -> None:
    eye = np.eye(4, dtype=np.float32)
    corpus_ids = ["x0", "m0", "m1", "m2", "m3"]
    corpus = np.vstack([np.ones((1, 4), dtype=np.float32), eye])
    scored = TextTask().score(
        _truth(),
        {"text_embedding": eye, "mol_embedding": eye},
        seed=0,
        context={"candidates": (corpus_ids, corpus)},
    )
    # x0 (all ones) is as similar to every text as its own molecule? cos = 0.5 < 1: rank 1
    assert scored["metrics"]["t2m_corpus_mrr"] == 1.0
    assert scored["metrics"]["corpus_size"] == 5


def test_results_state_their_protocol_and_the_text2mol_corpus_gap() -> None:
    eye = np.eye(4, dtype=np.float32)
    # ChEBI-20's corpus size: the result says Text2Mol's has two more molecules.
    corpus = np.vstack([np.full((33_004, 4), -1.0, dtype=np.float32), eye])
    ids = [f"x{i}" for i in range(33_004)] + [f"m{i}" for i in range(4)]
    scored = TextTask().score(
        _truth(),
        {"text_embedding": eye, "mol_embedding": eye, "smiles": np.array(SMILES, dtype=object)},
        seed=0,
        context={"candidates": (ids, corpus)},
    )
    protocol = scored["protocol"]
    assert set(protocol) == {"retrieval", "corpus", "generation"}
    assert protocol["corpus"]["candidates"] == 33_008
    assert protocol["corpus"]["text2mol_candidates"] == 33_010
    assert len(protocol["corpus"]["not_in_molbench"]) == 2
    effect = protocol["corpus"]["effect_of_text2mol_extra_candidates"]
    assert effect["worst_drop"]["hits_at_1"] == 1.0  # every text at rank 1 could lose it
    assert effect["expected_drop"]["mrr"] == 0.0  # a typical candidate never beats rank 1
    small = TextTask().score(_truth(), {"text_embedding": eye, "mol_embedding": eye}, seed=0)
    assert set(small["protocol"]) == {"retrieval"}


def test_generation_and_names() -> None:
    preds = {
        "smiles": np.array(["OCC", "C1=CC=CC=C1", "not a smiles", "CCC"], dtype=object),
        "name": np.array(["Ethanol", "benzene", "vinegar", "ethanamine "], dtype=object),
    }
    scored = TextTask().score(_truth(with_names=True), preds, seed=0)
    m = scored["metrics"]
    assert m["exact_match"] == pytest.approx(0.5)
    assert m["validity"] == pytest.approx(0.75)
    assert m["name_exact_match"] == pytest.approx(0.75)
    assert scored["headline"]["metric"] == "exact_match"
    # per-row values, split order, whose means are the metrics (molbench compare pairs them)
    per_row = scored["per_row"]
    assert per_row["exact_match"] == [1, 1, 0, 0] and per_row["name_exact_match"] == [1, 1, 0, 1]
    assert per_row["n"] == 4 and len(per_row["ids_sha256"]) == 64


def test_per_row_reciprocal_ranks_average_to_the_mrr() -> None:
    text = np.eye(4, dtype=np.float32)
    mol = text.copy()
    mol[2:, 2:] = [[0.6, 0.8], [0.8, 0.6]]  # texts 2 and 3 find the other's molecule first
    scored = TextTask().score(_truth(), {"text_embedding": text, "mol_embedding": mol}, seed=0)
    assert scored["per_row"]["t2m_mrr"] == [1.0, 1.0, 0.5, 0.5]
    assert np.mean(scored["per_row"]["t2m_mrr"]) == pytest.approx(scored["metrics"]["t2m_mrr"])


def test_string_metrics_read_the_smiles_as_published() -> None:
    truth = pa.table({"id": ["a"], "smiles": ["CCCCCCO"], "smiles_as_published": ["OCCCCCC"]})
    m = TextTask().score(truth, {"smiles": np.array(["OCCCCCC"], dtype=object)}, seed=0)
    assert m["metrics"]["levenshtein"] == 0.0 and m["metrics"]["bleu"] == 1.0


def test_mismatched_dimensions_and_half_retrieval_are_errors() -> None:
    with pytest.raises(PredictionFormatError, match="dimension"):
        TextTask().score(
            _truth(), {"text_embedding": np.eye(4), "mol_embedding": np.ones((4, 2))}, seed=0
        )
    with pytest.raises(PredictionFormatError, match="both"):
        TextTask().score(_truth(), {"text_embedding": np.eye(4)}, seed=0)


def test_hydrocarbon_rows_are_bucketed_by_chain_length() -> None:
    truth = pa.table(
        {
            "id": ["a", "b", "c"],
            "smiles": ["CC", "CCC", "CCCC"],
            "name": ["ethane", "propane", "butane"],
            "n_carbons": [2, 3, 3],
        }
    )
    scored = TextTask().score(
        truth, {"name": np.array(["ethane", "propane", "butene"], dtype=object)}, seed=0
    )
    assert scored["buckets"] == {"name_exact_match_by_n_carbons": {"2": 1.0, "3": 0.5}}
    assert TextTask().score(_truth(True), {"name": np.array(["x"] * 4)}, seed=0)["buckets"] == {}


def _reranked(lists: list[list[str]]) -> np.ndarray:
    values = np.empty(len(lists), dtype=object)
    values[:] = lists
    return values


def test_a_reranked_head_replaces_the_cosine_top_and_the_retriever_is_kept() -> None:
    # by cosine texts 0 and 1 each find the other's molecule first (0.9 > 0.8, 0.6 > 0.44);
    # the re-ranker puts their own first
    text = np.eye(4, dtype=np.float32)
    mol = np.eye(4, dtype=np.float32)
    mol[0] = [0.8, 0.6, 0.0, 0.0]
    mol[1] = [0.9, np.sqrt(1 - 0.81), 0.0, 0.0]
    heads = _reranked([["m0", "m1"], ["m1"], ["m2"], ["m3"]])
    predictions = {"text_embedding": text, "mol_embedding": mol, "t2m_reranked": heads}
    scored = TextTask().score(_truth(), predictions, seed=0)
    m = scored["metrics"]
    assert m["t2m_hits_at_1"] == 1.0 and m["t2m_retriever_hits_at_1"] == 0.5
    assert m["t2m_rerank_depth"] == 2
    assert "reranked" in scored["protocol"]
    assert scored["per_row"]["t2m_mrr"][0] == 1.0
    # molecule-to-text stays the cosine ranking
    plain = TextTask().score(_truth(), {"text_embedding": text, "mol_embedding": mol}, seed=0)
    assert m["m2t_mrr"] == plain["metrics"]["m2t_mrr"]
    assert plain["metrics"]["t2m_hits_at_1"] == 0.5 and "t2m_rerank_depth" not in plain["metrics"]


def test_reranked_lists_of_other_ids_or_without_embeddings_are_refused() -> None:
    eye = np.eye(4, dtype=np.float32)
    bad = _reranked([["m0", "x9"], ["m1", "m1"], [], []])
    with pytest.raises(PredictionFormatError) as e:
        TextTask().score(
            _truth(), {"text_embedding": eye, "mol_embedding": eye, "t2m_reranked": bad}, seed=0
        )
    assert "1 t2m_reranked list(s) name ids outside the split (ids m0)" in str(e.value)
    assert "1 t2m_reranked list(s) repeat an id (ids m1)" in str(e.value)
    good = _reranked([["m0"], ["m1"], ["m2"], ["m3"]])
    with pytest.raises(PredictionFormatError, match="need `text_embedding`"):
        TextTask().score(_truth(), {"t2m_reranked": good}, seed=0)
    with pytest.raises(PredictionFormatError, match="--candidates"):
        TextTask().score(
            _truth(),
            {"text_embedding": eye, "mol_embedding": eye, "t2m_reranked": good},
            seed=0,
            context={"candidates": (["m0", "m1", "m2", "m3"], eye)},
        )
