import numpy as np
import pytest
from rdkit import Chem

from molbench.chem.generate import (
    all_isomers,
    corrupt,
    corruption_sites,
    corruptions,
    random_isomer,
)
from molbench.chem.hydrocarbon import Hydrocarbon
from molbench.chem.notation import NotationError, parse_condensed, write

from . import reference_notation


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("CH4", "CH4"),
        ("CH3CH3", "CH3CH3"),
        ("CH3CH(CH3)CH3", "CH3CH(CH3)2"),  # isobutane, multiplier notation
        ("CH3C(CH3)2CH3", "CH3C(CH3)3"),  # neopentane
        ("CH3CH2CH(CH3)CH2CH3", "CH3CH2CH(CH3)CH2CH3"),  # 3-methylpentane: no folding
        ("CH3CH=CH2", "CH2=CHCH3"),  # propene, written from the double-bond end
        ("CH3C(=CH2)CH3", "CH2=C(CH3)2"),  # isobutene: written from the double bond
        ("CH3CH(=CH2)", "CH2=CHCH3"),  # a double bond written as a branch
        ("CH2=C=CH2", "CH2=C=CH2"),  # allene
        ("CH4CH3", "CH3CH4"),  # the invalid example keeps its wrong count
    ],
)
def test_textbook_condensed_formulae(given: str, canonical: str) -> None:
    assert write(parse_condensed(given)).condensed == canonical


def test_smiles_is_explicit_hydrogen_bracket_form() -> None:
    assert write(parse_condensed("CH3CH(CH3)CH=CH2")).smiles == "[CH2]=[CH][CH]([CH3])[CH3]"
    assert write(parse_condensed("CH4CH3")).smiles == "[CH3][CH4]"


def test_every_small_isomer_and_corruption_round_trips() -> None:
    for n in range(1, 8):
        for mol in all_isomers(n):
            variants = [mol] + [v for vs in corruptions(mol).values() for v in vs]
            for variant in variants:
                written = write(variant)
                assert parse_condensed(written.condensed).canonical_key == variant.canonical_key
                assert written.mol.canonical_key == variant.canonical_key


def test_graph_order_matches_both_strings() -> None:
    """Atom i of the renumbered graph is the i-th bracket atom of the SMILES RDKit reads."""
    for mol in all_isomers(7)[:200]:
        written = write(mol)
        rd = Chem.MolFromSmiles(written.smiles)
        assert [a.GetTotalNumHs() for a in rd.GetAtoms()] == list(written.mol.h_counts)
        rd_bonds = sorted(
            (
                min(b.GetBeginAtomIdx(), b.GetEndAtomIdx()),
                max(b.GetBeginAtomIdx(), b.GetEndAtomIdx()),
                int(b.GetBondTypeAsDouble()),
            )
            for b in rd.GetBonds()
        )
        assert rd_bonds == list(written.mol.bonds)
        assert parse_condensed(written.condensed) == written.mol


def test_same_structure_gives_same_strings_whatever_the_input_order() -> None:
    a = write(parse_condensed("CH3CH(CH2CH3)CH=CH2"))
    b = write(parse_condensed("CH2=CHCH(CH3)CH2CH3"))
    assert (a.condensed, a.smiles) == (b.condensed, b.smiles)


@pytest.mark.parametrize("bad", ["", "CH3(", "CH3X", "H", "CH3)CH3", "CH3CH(CH3"])
def test_unreadable_condensed_formula_is_a_clear_error(bad: str) -> None:
    with pytest.raises(NotationError):
        parse_condensed(bad)


def _fresh(mol: Hydrocarbon) -> Hydrocarbon:
    """The same molecule with nothing computed (no shape lent by a parent molecule)."""
    return Hydrocarbon(mol.h_counts, mol.bonds)


def test_layout_and_key_equal_the_reference_definition() -> None:
    """Branch tables and shared skeletons change how the strings are computed, not what
    they are: every small isomer and corruption, and random larger ones with a random
    corruption each, give the reference's bytes, with and without a lent shape."""
    rng = np.random.default_rng(11)
    molecules = []
    for n in range(1, 7):
        for mol in all_isomers(n):
            molecules.append(mol)
            molecules.extend(v for vs in corruptions(mol).values() for v in vs)
    for n in (11, 14, 17, 20, 27, 40):
        for _ in range(60):
            mol = random_isomer(n, rng)
            molecules.append(mol)
            for error, sites in corruption_sites(mol).items():
                molecules.append(corrupt(mol, error, sites[rng.integers(len(sites))]))
    for mol in molecules:
        expected = reference_notation.write(_fresh(mol))
        for variant in (mol, _fresh(mol)):
            written = write(variant)
            assert (written.condensed, written.smiles, written.mol) == expected
            assert variant.canonical_key == reference_notation.canonical_key(_fresh(mol))
