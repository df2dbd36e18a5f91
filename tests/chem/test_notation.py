import pytest
from rdkit import Chem

from molbench.chem.generate import all_isomers, corruptions
from molbench.chem.notation import NotationError, parse_condensed, write


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
