"""Candidate features: the edit words of a hand-checked amide coupling, stable ids."""

import pytest

pytest.importorskip("rdchiral")

from rdkit import Chem

from molbench.chem.template_features import (
    N_DENSE,
    Featurizer,
    _edits,
    candidate_features,
    featurize_all,
)
from molbench.chem.templates import TemplateLibrary, extract_forward_template
from tests.chem.test_templates import AMIDE, ESTER

REACTANTS = "CCCN.CCCO.O=C(Cl)c1ccccc1"


def _library() -> TemplateLibrary:
    return TemplateLibrary.from_templates(
        [extract_forward_template(AMIDE, []), extract_forward_template(ESTER, [])]
    )


def test_edit_words_name_the_new_bond_the_leaving_group_and_the_hydrogen_lost() -> None:
    mol = Chem.MolFromSmiles(REACTANTS)
    amide = next(c for c in _library().candidates(REACTANTS) if "N" in c.product)
    product = Chem.MolFromSmiles(amide.mapped)
    by_map = {a.GetAtomMapNum(): a.GetIdx() for a in product.GetAtoms()}
    words = _edits(mol, product, list(amide.changed), by_map)
    assert sorted(words) == ["atom N H2>1 q0>0", "bond C-N 0>1", "leave C-Cl 1"]


def test_features_tell_the_two_products_apart_and_stay_in_their_spaces() -> None:
    mol = Chem.MolFromSmiles(REACTANTS)
    bits = 256
    found = [candidate_features(mol, c, bits) for c in _library().candidates(REACTANTS)]
    (a, dense_a), (b, dense_b) = found
    assert a != b and len(dense_a) == len(dense_b) == N_DENSE
    for sparse in (a, b):
        assert all(0 <= i < 3 * bits for i in sparse) and all(v > 0 for v in sparse.values())
        assert any(i < bits for i in sparse) and any(bits <= i < 2 * bits for i in sparse)
        assert any(i >= 2 * bits for i in sparse)  # the edit words
    assert found == [candidate_features(mol, c, bits) for c in _library().candidates(REACTANTS)]


def test_featurizer_rows_in_parallel_match_serial_rows() -> None:
    featurizer = Featurizer(_library(), bits=256, context_bits=128)
    inputs = [REACTANTS, "CCCC", "not a smiles", "CCCN.O=C(Cl)c1ccccc1"]
    serial = list(featurize_all(featurizer, inputs, workers=1))
    assert list(featurize_all(featurizer, inputs, workers=2)) == serial
    assert [len(r["products"]) for r in serial] == [2, 0, 0, 1]
    assert serial[2]["context_ids"] == [] and serial[1]["context_ids"]
    assert all(len(r["ids"]) == len(r["dense"]) == len(r["templates"]) for r in serial)
