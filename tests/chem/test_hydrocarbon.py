import numpy as np
import pytest

from molbench.chem.hydrocarbon import Hydrocarbon, formula
from molbench.chem.notation import parse_condensed


def relabel(mol: Hydrocarbon, perm: list[int]) -> Hydrocarbon:
    """The same molecule with carbon i renamed perm[i]."""
    h = [0] * mol.n_carbons
    for i, new in enumerate(perm):
        h[new] = mol.h_counts[i]
    bonds = tuple(
        sorted((min(perm[i], perm[j]), max(perm[i], perm[j]), o) for i, j, o in mol.bonds)
    )
    return Hydrocarbon(tuple(h), bonds)


@pytest.mark.parametrize(
    "condensed", ["CH3CH(CH3)CH=CH2", "CH2=C=CHCH(CH2CH3)C(CH3)2CH=CH2", "CH4CH3", "CH3CH2=CH2"]
)
def test_canonical_key_ignores_atom_numbering(condensed: str) -> None:
    mol = parse_condensed(condensed)
    rng = np.random.default_rng(0)
    for _ in range(20):
        perm = rng.permutation(mol.n_carbons).tolist()
        assert relabel(mol, perm).canonical_key == mol.canonical_key


def test_canonical_key_separates_isomers_and_hydrogen_counts() -> None:
    keys = {
        parse_condensed(s).canonical_key
        for s in ["CH3CH2CH2CH3", "CH3CH(CH3)CH3", "CH2=CHCH2CH3", "CH3CH=CHCH3", "CH3CH2CH2CH2"]
    }
    assert len(keys) == 5


def test_formula_uses_hill_order() -> None:
    assert formula(parse_condensed("CH4")) == "CH4"
    assert formula(parse_condensed("CH3CH=CH2")) == "C3H6"
    assert formula(parse_condensed("CH4CH3")) == "C2H7"
    assert formula(parse_condensed("C")) == "C"


def test_valence_rule() -> None:
    assert parse_condensed("CH2=C=CH2").is_valid()
    assert not parse_condensed("CH4CH3").is_valid()
    assert not parse_condensed("CH2CH3").is_valid()
    assert parse_condensed("CH3C(CH3)2CH3").is_tree()
