"""Forward reaction scores on hand-made predictions: what counts as the same product set."""

import math

import numpy as np
import pytest

from molbench.tasks.reaction_metrics import (
    canonical_molecules,
    first_correct_rank,
    parse_smiles,
    score_forward,
    topk_accuracy,
    topk_ci,
)


def test_equivalent_writings_share_one_canonical_form() -> None:
    ethanol = canonical_molecules("CCO")
    assert ethanol == ("CCO",)
    assert canonical_molecules("OCC") == ethanol
    assert canonical_molecules("C1=CC=CC=C1") == canonical_molecules("c1ccccc1")
    assert canonical_molecules("[CH3:1][CH2:2][OH:3]") == ethanol  # atom maps removed
    assert canonical_molecules("  CCO\n") == ethanol


def test_fragments_are_a_multiset_in_any_order() -> None:
    assert canonical_molecules("CCO.CC") == canonical_molecules("CC.OCC")
    assert canonical_molecules("CC.CC") != canonical_molecules("CC")
    assert canonical_molecules("C1.C1") == canonical_molecules("CC")  # ring bond across a dot


def test_invalid_smiles_are_none() -> None:
    for bad in ("", "   ", "C(C", "c1cccc1", "C(C)(C)(C)(C)C", "CC O", "not a smiles"):
        assert canonical_molecules(bad) is None, bad
        assert parse_smiles(bad) is None, bad


def test_stereo_is_kept() -> None:
    r, s = canonical_molecules("C[C@H](N)O"), canonical_molecules("C[C@@H](N)O")
    assert r != s
    assert r != canonical_molecules("CC(N)O")
    assert canonical_molecules("F/C=C/F") != canonical_molecules("F/C=C\\F")


TRUTH = ["CCO", "CC(=O)O.CCO", "c1ccccc1", "C[C@H](N)O", "CCN", "CCCl", "CC=O"]
PREDICTIONS = [
    ["OCC"],  # right at 1, other writing
    ["CCO.CC(O)=O", "CCO"],  # right at 1, other fragment order
    ["C(C", "CC", "C1=CC=CC=C1"],  # invalid first, right (Kekulé) at 3
    ["C[C@@H](N)O", "CC(N)O"],  # wrong stereo, missing stereo
    [],  # no predictions: wrong, not invalid
    ["CC", "CC", "C(C)", "CCCl"],  # repeats count once: right at distinct rank 2
    ["[CH3:1][CH:2]=[O:3]"],  # atom-mapped, right at 1
]


def test_score_forward_by_hand() -> None:
    scores = score_forward(TRUTH, PREDICTIONS)
    assert scores.rank.tolist() == [1, 1, 3, 0, 0, 2, 1]
    assert scores.topk[1] == pytest.approx(3 / 7)
    assert scores.topk[2] == pytest.approx(4 / 7)
    assert scores.topk[3] == pytest.approx(5 / 7)
    assert scores.topk[10] == pytest.approx(5 / 7)
    assert scores.invalid_top1 == pytest.approx(1 / 7)
    assert scores.mean_predictions == pytest.approx(13 / 7)
    assert scores.metrics()["top3"] == scores.topk[3]


def test_right_only_at_rank_three() -> None:
    scores = score_forward(["CCO"], [["CC", "CCC", "OCC"]], ks=(1, 2, 3))
    assert scores.topk == {1: 0.0, 2: 0.0, 3: 1.0}


def test_invalid_predictions_keep_their_slot_and_never_match() -> None:
    target = canonical_molecules("CCO")
    assert first_correct_rank([target], [[None, None, target]]).tolist() == [3]
    assert first_correct_rank([None], [[None]]).tolist() == [0]  # None never equals None


def test_topk_accuracy_on_canonical_forms() -> None:
    truth = [canonical_molecules(s) for s in ("CCO", "CCN")]
    preds = [[canonical_molecules("OCC")], [canonical_molecules("CC"), canonical_molecules("NCC")]]
    assert topk_accuracy(truth, preds, k=1) == pytest.approx(0.5)
    assert topk_accuracy(truth, preds, k=2) == pytest.approx(1.0)
    assert math.isnan(topk_accuracy([], [], k=1))


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="truth SMILES"):
        score_forward(["C(C"], [["CC"]])
    with pytest.raises(ValueError, match="rows"):
        score_forward(["CC"], [])
    with pytest.raises(ValueError, match="k >= 1"):
        score_forward(["CC"], [["CC"]], ks=(0,))


def test_empty_scoring_is_nan() -> None:
    scores = score_forward([], [])
    assert math.isnan(scores.topk[1])
    assert math.isnan(scores.invalid_top1)


def test_topk_ci_brackets_the_estimate() -> None:
    rank = np.random.default_rng(0).choice([0, 1, 2], size=400, p=[0.3, 0.5, 0.2])
    low, high = topk_ci(rank, k=1, seed=3)
    assert (low, high) == topk_ci(rank, k=1, seed=3)
    assert low < np.mean(rank == 1) < high
    assert topk_ci(rank, k=2, seed=3)[0] > high  # top-2 (~0.7) well above top-1 (~0.5)
