"""Forward-prediction scoring on hand-made predictions."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest

from molbench.tasks.reactions import ReactionsTask, forward_ranks

TRUTH = ["CCO", "CC(=O)O.[Na+]", "c1ccccc1O", "C[CH2+](C)(C)C"]  # the last: RDKit rejects it


def _truth(products: list[str]) -> pa.Table:
    n = len(products)
    return pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "products": products,
            "reagents": ["" if i % 2 else "O" for i in range(n)],
            "edits": [[{"atom_a": 1, "atom_b": 2}]] * n,
            "reaction_key": [f"rxn{i}" for i in range(n)],
            "product_inchikey": [f"key{i}" for i in range(n)],
        }
    )


def _ranked(rows: list[list[str]]) -> np.ndarray:
    out = np.empty(len(rows), dtype=object)
    out[:] = rows
    return out


def test_right_at_rank_one_permuted_and_noncanonical() -> None:
    ranks, _, invalid = forward_ranks(
        TRUTH,
        [["OCC"], ["[Na+].CC(O)=O"], ["Oc1ccccc1"], ["C[CH2+](C)(C)C"]],
    )
    assert ranks.tolist() == [1, 1, 1, 1] and invalid == 0


def test_invalid_wrong_late_and_empty() -> None:
    ranks, _, invalid = forward_ranks(
        TRUTH, [["C1CC", "CCO"], ["CC"], ["CCC", "CCN", "OC1=CC=CC=C1"], []]
    )
    assert ranks.tolist() == [2, 0, 3, 0]
    assert invalid == 1  # only the first row's top-1 does not parse


def test_a_repeat_loses_its_slot_by_position() -> None:
    ranks, distinct, _ = forward_ranks(["CCO"], [["CCN", "NCC", "OCC"]])
    assert ranks.tolist() == [3]  # by position, as Molecular Transformer's scorer
    assert distinct.tolist() == [2]  # among distinct guesses


def test_score_records_protocol_per_row_ranks_and_both_top_k() -> None:
    truth = _truth(["CCO", "CCN", "CC.Cl"])
    preds = _ranked([["CC", "C(C)", "OCC"], ["CCN"], ["Cl.CC.O"]])
    scored = ReactionsTask().score(truth, {"predictions": preds}, seed=0)
    m = scored["metrics"]
    assert m["top2"] == pytest.approx(1 / 3) and m["top2_distinct"] == pytest.approx(2 / 3)
    assert m["top3"] == pytest.approx(2 / 3) and "top1_distinct" not in m
    assert scored["protocol"]["topk"] == "by_position" and scored["protocol"]["rule"] == "exact"
    rows = scored["per_row"]
    assert rows["rank"] == [3, 1, 0] and rows["rank_distinct"] == [2, 1, 0]
    assert rows["top1"] == [0, 1, 0] and rows["n"] == 3
    assert rows["ids_sha256"] == hashlib.sha256(b"r0\nr1\nr2").hexdigest()
    assert np.mean(rows[scored["headline"]["metric"]]) == scored["headline"]["value"]
    assert scored["buckets"]["top1_by_product_molecules"] == {"multi": 0.0, "single": 0.5}
    subset = ReactionsTask().score(truth, {"predictions": preds}, 0, {"rule": "subset"})
    assert subset["per_row"]["rank"] == [3, 1, 1] and subset["protocol"]["rule"] == "subset"
    assert subset["buckets"]["top1_by_product_molecules"]["multi"] == 1.0
    # an exact-rule result carries the subset rule's top-k too (a mixture is right there)
    assert m["top1_subset"] == pytest.approx(2 / 3) and m["top3_subset"] == pytest.approx(1.0)
    assert "top1_subset" not in subset["metrics"]


def test_the_subset_rule_scores_an_edit_models_mixtures_when_given() -> None:
    """``mixtures`` (whole edited mixtures) are what the subset rule scores; the exact rule
    and its headline keep scoring the products."""
    truth = _truth(["CCO", "CC.Cl"])
    products = _ranked([["CCN", "CCO"], ["CC"]])
    mixtures = _ranked([["CCO.N", "CCN.O"], ["CC.Cl.O"]])
    given = {"predictions": products, "mixtures": mixtures}
    scored = ReactionsTask().score(truth, given, seed=0)
    assert scored["per_row"]["rank"] == [2, 0]  # exact, on the products
    m = scored["metrics"]
    assert m["top1_subset"] == pytest.approx(1.0)  # on the mixtures: both right at once
    assert scored["protocol"]["subset_scores"] == "mixtures"
    subset = ReactionsTask().score(truth, given, 0, {"rule": "subset"})
    assert subset["per_row"]["rank"] == [1, 1]
    alone = ReactionsTask().score(truth, {"predictions": products}, seed=0)
    assert alone["metrics"]["top1_subset"] == pytest.approx(0.0)  # the products: CC only
    assert alone["protocol"]["subset_scores"] == "predictions"


def test_a_beam_longer_than_ten_is_scored_on_its_first_ten_with_a_warning() -> None:
    truth = _truth(["CCO", "CCN"])
    preds = _ranked([["C"] * 10 + ["CCO"], ["C"] * 9 + ["CCN"] + ["C"] * 5])
    scored = ReactionsTask().score(truth, {"predictions": preds}, seed=0)
    assert scored["per_row"]["rank"] == [0, 10]
    assert scored["warnings"] == [
        "2 rows have more than 10 predictions (up to 15): only the first 10 of each were scored"
    ]
    assert (
        ReactionsTask().score(_truth(["C"]), {"predictions": _ranked([["C"]])}, 0)["warnings"] == []
    )


def test_score_reports_topk_invalid_rate_and_clean_subsets() -> None:
    truth = _truth(TRUTH)
    preds = _ranked([["CCO"], ["CC"], ["CCC", "CCN", "Oc1ccccc1"], ["xx("]])
    train = pa.table({"reaction_key": ["rxn1", "rxn3", "other"], "product_inchikey": ["x"] * 3})
    scored = ReactionsTask().score(truth, {"predictions": preds}, seed=0, context={"train": train})
    m = scored["metrics"]
    assert m["top1"] == pytest.approx(0.25)
    assert m["top3"] == pytest.approx(0.5)
    assert m["invalid_top1"] == pytest.approx(0.25)
    assert m["top1_reaction_not_in_train"] == pytest.approx(0.5)  # rows 0 and 2
    assert m["top3_reaction_not_in_train"] == pytest.approx(1.0)
    assert m["n_product_not_in_train"] == 4
    low, high = scored["headline"]["ci95"]
    assert 0 <= low <= 0.25 <= high <= 1


def test_no_clean_subset_metric_without_train() -> None:
    scored = ReactionsTask().score(_truth(TRUTH[:2]), {"predictions": _ranked([["CCO"], []])}, 0)
    assert "top1_reaction_not_in_train" not in scored["metrics"]


@pytest.mark.parametrize("rule", ["exact", "subset"])
def test_parallel_rounds_give_the_serial_ranks(monkeypatch: pytest.MonkeyPatch, rule: str) -> None:
    import molbench.tasks.reactions as reactions

    rng = np.random.default_rng(0)
    pool = ["CCO", "OCC", "CC(=O)O", "c1ccccc1", "C1=CC=CC=C1", "CCN.Cl", "Cl.NCC", "CC", "C(", ""]
    products = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "C1CC1(", "[NH4+].[Cl-]"] * 5
    ranked = [list(rng.choice(pool, size=int(rng.integers(0, 6)))) for _ in products]
    serial = forward_ranks(products, ranked, rule, workers=1)
    seen: list[int] = []
    real_fill = reactions._fill_by_rounds

    def fill_always(cache, products_, ranked_, rule_, workers, min_smiles=0):  # type: ignore[no-untyped-def]
        real_fill(cache, products_, ranked_, rule_, workers, min_smiles=0)
        seen.append(len(cache))

    monkeypatch.setattr(reactions, "_fill_by_rounds", fill_always)
    parallel = forward_ranks(products, ranked, rule, workers=2)
    assert seen and seen[0] > 0  # the pool path ran and filled the cache
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a, b)
