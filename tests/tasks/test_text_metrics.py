"""Retrieval ranks on hand-made embeddings; generation and name scores on hand-made molecules."""

import math

import numpy as np
import pytest
from rdkit import Chem

import molbench.tasks.text_metrics as tm
from molbench.tasks.text_metrics import (
    character_bleu,
    extra_candidate_effect,
    generation_metrics,
    levenshtein,
    name_exact_match,
    retrieval_metrics,
    retrieval_ranks,
    same_molecule,
    validity_molt5,
)

IDENTITY = np.eye(4, dtype=np.float32)
DIAGONAL = np.arange(4)


def test_identity_embeddings_rank_first() -> None:
    ranks = retrieval_ranks(IDENTITY, IDENTITY, DIAGONAL)
    assert ranks.tolist() == [1, 1, 1, 1]
    assert retrieval_metrics(ranks)["mrr"] == 1.0


def test_reversed_order_gives_the_worst_rank() -> None:
    # Candidate j sits at angle j*30 degrees; query i at (3-i)*30, true candidate is i.
    angles = np.radians(np.arange(4) * 30.0)
    candidates = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    queries = candidates[::-1]
    # Query 0 (90 deg) -> true cand 0 (0 deg) is the farthest: rank 4. Query 1 (60 deg) ->
    # cand 1 (30 deg) is behind cand 2 (60) and ties cand 3 (90) at 30 deg away: rank 3.
    assert retrieval_ranks(queries, candidates, DIAGONAL).tolist() == [4, 3, 3, 4]


def test_ties_are_pessimistic() -> None:
    same = np.ones((5, 8))
    assert retrieval_ranks(same, same, np.arange(5)).tolist() == [5] * 5
    zeros = np.zeros((3, 8))
    assert retrieval_ranks(zeros, zeros, np.arange(3)).tolist() == [3] * 3


def test_near_ties_count_only_below_float32_precision() -> None:
    # Candidate 1 trails the true candidate 0 by ~1.1e-6 in cosine: ~9 float32 ulps at 1.0,
    # a real difference, ranked behind. Candidate 2 trails by ~5e-9, below float32
    # resolution (its unit vector rounds to the true one's): a tie, counted against.
    candidates = np.array([[1.0, 0.0], [1.0, 1.5e-3], [1.0, 1e-4]])
    query = np.array([[1.0, 0.0]])
    assert retrieval_ranks(query, candidates[:2], np.array([0])).tolist() == [1]
    assert retrieval_ranks(query, candidates[[0, 2]], np.array([0])).tolist() == [2]
    assert retrieval_ranks(query, candidates, np.array([0])).tolist() == [2]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_a_5e_6_margin_at_64_dimensions_ranks_first() -> None:
    # The fixed 1e-5 tolerance of molbench <= 0.1 ranked this truly better candidate 2nd.
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(64, 3)))  # three orthonormal directions
    query = basis[:, 0]
    true = 0.8 * basis[:, 0] + 0.6 * basis[:, 1]
    close = 0.8 - 5e-6
    behind = close * basis[:, 0] + np.sqrt(1 - close**2) * basis[:, 2]
    assert query @ true - query @ behind == pytest.approx(5e-6, rel=1e-6)
    candidates = np.stack([true, behind]).astype(np.float32)
    queries = query[None].astype(np.float32)
    assert retrieval_ranks(queries, candidates, np.array([0])).tolist() == [1]
    assert retrieval_ranks(queries, candidates, np.array([1])).tolist() == [2]
    # An exact copy of the true candidate is a real tie: rank 2, whatever its position.
    copied = np.stack([true, behind, true]).astype(np.float32)
    assert retrieval_ranks(queries, copied, np.array([0])).tolist() == [2]
    assert retrieval_ranks(queries, copied, np.array([2])).tolist() == [2]


def test_random_embeddings_get_their_exact_rank() -> None:
    # No two random similarities tie: each rank must be 1 + the number of candidates that
    # are strictly more similar (float64). The 1e-5 tolerance added ~1.8 to the mean rank here.
    rng = np.random.default_rng(3)
    queries = rng.normal(size=(50, 512)).astype(np.float32)
    candidates = rng.normal(size=(20_000, 512)).astype(np.float32)
    truth = rng.integers(0, 20_000, 50)
    q = queries / np.linalg.norm(queries.astype(np.float64), axis=1, keepdims=True)
    c = candidates / np.linalg.norm(candidates.astype(np.float64), axis=1, keepdims=True)
    sims = q @ c.T
    exact = 1 + np.count_nonzero(sims > sims[np.arange(50), truth][:, None], axis=1)
    ranks = retrieval_ranks(queries, candidates, truth)
    assert ranks.tolist() == exact.tolist()
    assert ranks.mean() == exact.mean()


def test_effect_of_extra_candidates_by_hand() -> None:
    # Ranks 1, 2, 10 among 11 candidates; 2 extra candidates. Worst case: each rank + 2.
    effect = extra_candidate_effect(np.array([1, 2, 10]), 11, 2)
    worst, expected = effect["worst_drop"], effect["expected_drop"]
    assert worst["mrr"] == pytest.approx((2 / 3 + 1 / 4 + 1 / 60) / 3)
    assert worst["hits_at_1"] == pytest.approx(1 / 3) and worst["hits_at_10"] == pytest.approx(
        1 / 3
    )
    # Expected: an extra candidate is above rank r with p = (r-1)/10 (0, .1, .9), so the
    # number above is Binomial(2, p): rank 2 -> E[1/r'] = .81/2 + .18/3 + .01/4 = .4675;
    # rank 10 -> .01/10 + .18/11 + .81/12. Rank 1 stays first.
    e10 = 0.01 / 10 + 0.18 / 11 + 0.81 / 12
    assert expected["mrr"] == pytest.approx((0.5 - 0.4675 + 0.1 - e10) / 3)
    assert expected["hits_at_1"] == 0.0
    assert expected["hits_at_10"] == pytest.approx(0.99 / 3)
    assert extra_candidate_effect(np.array([]), 11, 2) == {}


def test_zero_vectors_have_similarity_zero() -> None:
    candidates = np.array([[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]])
    # For query (1, 0): similarities 1, 0, -1. For a zero query everything ties at 0.
    queries = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    assert retrieval_ranks(queries, candidates, np.array([1, 2, 0])).tolist() == [2, 3, 3]


def test_cosine_ignores_scale() -> None:
    rng = np.random.default_rng(0)
    q, c = rng.normal(size=(20, 6)), rng.normal(size=(30, 6))
    truth = rng.integers(0, 30, 20)
    base = retrieval_ranks(q, c, truth)
    scaled = retrieval_ranks(q * 1e3, c * rng.uniform(0.01, 100, size=(30, 1)), truth)
    assert base.tolist() == scaled.tolist()
    assert not np.all(base == 1)  # random embeddings: the test can see a change


def test_three_by_three_by_hand() -> None:
    q = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    c = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    # cosines: q0 -> [1, .707, 0]; q1 -> [0, .707, 1]; q2 -> [.707, 1, .707]
    truth = np.array([1, 2, 0])
    ranks = retrieval_ranks(q, c, truth)
    assert ranks.tolist() == [2, 1, 3]  # q2's true (.707) ties with cand 2 and trails cand 1
    m = retrieval_metrics(ranks)
    assert m["mrr"] == pytest.approx((1 / 2 + 1 + 1 / 3) / 3)
    assert m["hits_at_1"] == pytest.approx(1 / 3)
    assert m["hits_at_5"] == 1.0
    assert m["mean_rank"] == pytest.approx(2.0)
    assert m["median_rank"] == 2.0


def test_chunking_does_not_change_ranks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    q, c = rng.normal(size=(50, 16)), rng.normal(size=(40, 16))
    truth = rng.integers(0, 40, 50)
    whole = retrieval_ranks(q, c, truth)
    monkeypatch.setattr(tm, "_CHUNK_ELEMENTS", 100)  # 2 query rows per chunk
    assert retrieval_ranks(q, c, truth).tolist() == whole.tolist()


def test_retrieval_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="dimensions"):
        retrieval_ranks(np.ones((2, 3)), np.ones((2, 4)), np.arange(2))
    with pytest.raises(ValueError, match="true_index outside"):
        retrieval_ranks(np.ones((2, 3)), np.ones((2, 3)), np.array([0, 2]))
    with pytest.raises(ValueError, match="NaN"):
        retrieval_ranks(np.full((2, 3), np.nan), np.ones((2, 3)), np.arange(2))
    with pytest.raises(ValueError, match="1-based"):
        retrieval_metrics(np.array([0, 1]))
    assert math.isnan(retrieval_metrics(np.array([]))["mrr"])


def test_generation_by_hand() -> None:
    truth = ["CCO", "c1ccccc1", "C[C@H](N)O", "CC(=O)O"]
    predicted = ["OCC", "C1=CC=CC=C1", "C[C@@H](N)O", "C(C"]
    m = generation_metrics(truth, predicted)
    assert m["exact_match"] == pytest.approx(2 / 4)  # stereo differs; last one invalid
    assert m["validity"] == pytest.approx(3 / 4)
    # Enantiomers have the same 2-D fingerprints: all three valid pairs score 1.
    for fp in ("maccs", "rdk", "morgan", "morgan_count"):
        assert m[f"{fp}_fts"] == pytest.approx(1.0)
        assert m[f"{fp}_fts_all_rows"] == pytest.approx(3 / 4)


def test_exact_match_is_inchi_equality() -> None:
    # Standard InChI merges these tautomers (2-hydroxypyridine / 2-pyridone), so MolT5 does.
    assert generation_metrics(["Oc1ccccn1"], ["O=c1cccc[nH]1"])["exact_match"] == 1.0


def test_similarity_of_different_molecules_matches_molt5_calls() -> None:
    # Reference values from the calls MolT5's evaluation makes (MACCSkeys.GenMACCSKeys,
    # Chem.RDKFingerprint, AllChem.GetMorganFingerprint(m, 2)) and, for the 2048-bit Morgan,
    # AllChem.GetMorganFingerprintAsBitVect(m, 2, 2048).
    m = generation_metrics(["CCCCCCO"], ["CCCCCCN"])
    assert m["exact_match"] == 0.0
    assert m["maccs_fts"] == pytest.approx(0.5769230769)
    assert m["rdk_fts"] == pytest.approx(0.2941176471)
    assert m["morgan_count_fts"] == pytest.approx(7 / 12)
    assert m["morgan_fts"] == pytest.approx(4 / 9)


def test_no_valid_prediction_gives_nan_valid_mean_and_zero_all_rows_mean() -> None:
    m = generation_metrics(["CCO"], ["xyz"])
    assert m["validity"] == 0.0
    assert math.isnan(m["maccs_fts"])
    assert m["maccs_fts_all_rows"] == 0.0
    assert math.isnan(generation_metrics([], [])["exact_match"])


def test_same_molecule_uses_inchi_with_a_smiles_fallback() -> None:
    mol = Chem.MolFromSmiles
    assert same_molecule(mol("F/C=C/F"), mol("F/C=C/F"))
    assert not same_molecule(mol("F/C=C/F"), mol("F/C=C\\F"))
    assert same_molecule(mol("Oc1ccccn1"), mol("O=c1cccc[nH]1"))  # InChI merges tautomers
    # '*' has no InChI: two different dummy-atom molecules must not match on empty InChIs.
    assert not same_molecule(mol("*CC"), mol("*CCC"))
    assert same_molecule(mol("*CC"), mol("CC*"))


def test_bleu_is_character_level_corpus_bleu_by_hand() -> None:
    # Every character n-gram (n <= 4) of both hypotheses is in its reference: all four
    # corpus precisions are 1 and only the brevity penalty is left. Hypothesis length
    # 5 + 8 = 13 characters, reference 6 + 8 = 14: BP = exp(1 - 14/13).
    refs, hyps = ["CCCCCC", "c1ccccc1"], ["CCCCC", "c1ccccc1"]
    assert character_bleu(refs, hyps) == pytest.approx(math.exp(1 - 14 / 13))
    # Corpus, not mean of sentences: the first pair alone is exp(1 - 6/5).
    assert character_bleu(refs[:1], hyps[:1]) == pytest.approx(math.exp(-0.2))
    # "CCCCCN" against "CCCCCO": the n-grams ending in N miss, precisions 5/6, 4/5, 3/4,
    # 2/3 (product 1/3), same length so BP = 1.
    assert character_bleu(["CCCCCO"], ["CCCCCN"]) == pytest.approx((1 / 3) ** 0.25)
    assert math.isnan(character_bleu([], []))


def test_levenshtein_and_molt5_validity_by_hand() -> None:
    assert levenshtein(["CCO", "CCO", "CCO"], ["CCN", "OCC", ""]).tolist() == [1, 2, 3]
    # MolT5 counts an empty string and "SMILES plus words" valid; molbench counts neither.
    predicted = ["", "CCO is ethanol", "C(C", "CCO"]
    assert validity_molt5(predicted) == 3 / 4
    m = generation_metrics(["CCO"] * 4, predicted)
    assert m["validity"] == 1 / 4 and m["validity_molt5"] == 3 / 4
    assert m["exact_match"] == 1 / 4  # "CCO is ethanol" is no exact match here
    assert m["levenshtein"] == pytest.approx((3 + 11 + 2 + 0) / 4)


def test_string_metrics_compare_with_the_reference_strings() -> None:
    # The truth parses from canonical SMILES; BLEU and Levenshtein read the published string.
    m = generation_metrics(["CCCCCCO"], ["OCCCCCC"], reference_strings=["OCCCCCC"])
    assert m["bleu"] == 1.0 and m["levenshtein"] == 0.0 and m["exact_match"] == 1.0
    m = generation_metrics(["CCCCCCO"], ["OCCCCCC"])
    assert m["levenshtein"] == 2.0 and m["exact_match"] == 1.0


def test_generation_rejects_bad_truth_and_lengths() -> None:
    with pytest.raises(ValueError, match="truth SMILES"):
        generation_metrics(["C(C"], ["CC"])
    with pytest.raises(ValueError, match="predictions"):
        generation_metrics(["CC"], [])


def test_name_exact_match() -> None:
    truth = ["2-methylpropane", "but-1-ene", "hexane"]
    assert name_exact_match(truth, [" 2-Methylpropane\n", "but-2-ene", "hexane"]) == pytest.approx(
        2 / 3
    )
    assert math.isnan(name_exact_match([], []))
    with pytest.raises(ValueError):
        name_exact_match(truth, truth[:2])


def test_a_reranked_head_ranks_first_and_the_rest_follow_by_cosine() -> None:
    # Candidates along one arc: query 0's cosine order is 0, 1, 2, 3 (query = candidate 0).
    angles = np.radians(np.arange(4) * 20.0)
    candidates = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    queries = candidates[[0, 0, 0, 0]]
    true = np.array([0, 2, 3, 1])
    heads = [[1, 0], [2], [1, 2], []]
    # query 0: true 0 second in its head; 1: true 2 first; 2: true 3 not listed, so after
    # the two listed, ranked among 0 and 3 by cosine (0 is closer): 2 + 2; 3: no head
    assert retrieval_ranks(queries, candidates, true, heads).tolist() == [2, 1, 4, 2]
    assert retrieval_ranks(queries, candidates, true).tolist() == [1, 3, 4, 2]


def test_reranked_heads_are_checked() -> None:
    with pytest.raises(ValueError, match="outside"):
        retrieval_ranks(IDENTITY, IDENTITY, DIAGONAL, [[4], [], [], []])
    with pytest.raises(ValueError, match="twice"):
        retrieval_ranks(IDENTITY, IDENTITY, DIAGONAL, [[1, 1], [], [], []])
    with pytest.raises(ValueError, match="4 lists"):
        retrieval_ranks(IDENTITY, IDENTITY, DIAGONAL, [[1]])
