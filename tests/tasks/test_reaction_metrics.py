"""Forward reaction scores on hand-made predictions: what counts as the same product set."""

import numpy as np
import pytest

from molbench.tasks.reaction_metrics import (
    canonical_molecules,
    first_correct_ranks,
    is_right,
    parse_smiles,
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


def _ranks(truth: list[str], rows: list[list[str]], rule: str = "exact") -> tuple[list, list]:
    rank, distinct = first_correct_ranks(
        [canonical_molecules(t) for t in truth],
        [[canonical_molecules(p) for p in row] for row in rows],
        rule,
    )
    return rank.tolist(), distinct.tolist()


def test_repeats_lose_their_slot_by_position_but_not_among_distinct_guesses() -> None:
    # CC twice (two writings), then the truth: slot 3 by position, 2nd distinct guess.
    # Molecular Transformer's score_predictions.py gives rank 3 (top-2 wrong, top-3 right).
    assert _ranks(["CCCl"], [["CC", "C(C)", "CCCl"]]) == ([3], [2])
    # an invalid guess is never merged with another: both keep their slots
    assert _ranks(["CCO"], [["C(C", "C(C", "OCC"]]) == ([3], [3])
    assert _ranks(["CCO"], [["CC", "CC", "CC"]]) == ([0], [0])


def test_top1_is_the_same_under_both_protocols() -> None:
    rng = np.random.default_rng(0)
    pool = ["CC", "CCO", "OCC", "C(C", "CCN"]
    rows = [list(rng.choice(pool, size=rng.integers(0, 5))) for _ in range(300)]
    rank, distinct = _ranks(["CCO"] * 300, rows)
    assert [r == 1 for r in rank] == [d == 1 for d in distinct]
    assert all(d <= r for r, d in zip(rank, distinct, strict=True))
    assert 0 < sum(r == 1 for r in rank) < 300 and rank != distinct


def test_subset_rule_accepts_leftover_molecules_exact_does_not() -> None:
    truth = ["CCO", "CCO.Cl"]
    rows = [["CCO.CC(=O)O"], ["Cl.OCC.O"]]  # the edited mixture: product plus leftovers
    assert _ranks(truth, rows, "exact") == ([0, 0], [0, 0])
    assert _ranks(truth, rows, "subset") == ([1, 1], [1, 1])
    # a multiset: the truth's two molecules need two in the prediction
    assert _ranks(["CC.CC"], [["CC.O", "CC.CC.O"]], "subset") == ([2], [2])
    assert is_right(("CCO",), ("CCO",), "exact") and not is_right(None, ("CCO",), "subset")
    with pytest.raises(ValueError, match="unknown rule"):
        is_right(("C",), ("C",), "superset")


def test_invalid_predictions_keep_their_slot_and_never_match() -> None:
    target = canonical_molecules("CCO")
    rank, distinct = first_correct_ranks([target], [[None, None, target]])
    assert rank.tolist() == [3] and distinct.tolist() == [3]
    assert first_correct_ranks([None], [[None]])[0].tolist() == [0]  # None never equals None


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="rows"):
        first_correct_ranks([("CC",)], [])
    with pytest.raises(ValueError, match="unknown rule"):
        first_correct_ranks([], [], "superset")


def test_topk_ci_brackets_the_estimate() -> None:
    rank = np.random.default_rng(0).choice([0, 1, 2], size=400, p=[0.3, 0.5, 0.2])
    low, high = topk_ci(rank, k=1, seed=3)
    assert (low, high) == topk_ci(rank, k=1, seed=3)
    assert low < np.mean(rank == 1) < high
    assert topk_ci(rank, k=2, seed=3)[0] > high  # top-2 (~0.7) well above top-1 (~0.5)
