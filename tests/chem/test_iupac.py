import pytest
from rdkit import Chem

from molbench.chem.generate import all_isomers
from molbench.chem.hydrocarbon import Hydrocarbon
from molbench.chem.iupac import chain_root, name, numeral
from molbench.chem.notation import parse_condensed


def from_smiles(smiles: str) -> Hydrocarbon:
    """The Hydrocarbon of an all-carbon SMILES (hydrogens implicit, as RDKit counts them)."""
    mol = Chem.MolFromSmiles(smiles)
    bonds = sorted(
        (*sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx())), int(b.GetBondTypeAsDouble()))
        for b in mol.GetBonds()
    )
    return Hydrocarbon(tuple(a.GetTotalNumHs() for a in mol.GetAtoms()), tuple(bonds))


# Preferred IUPAC names (2013). Each structure also round-trips through OPSIN in test_opsin.
CURATED = [
    ("C", "methane"),
    ("CC", "ethane"),
    ("C=C", "ethene"),
    ("C=CC", "prop-1-ene"),  # P-14.3.4: PINs cite the locant ("propene" is not the PIN)
    ("C=CCC", "but-1-ene"),
    ("CC=CC", "but-2-ene"),
    ("CC(C)C", "2-methylpropane"),
    ("C=C(C)C", "2-methylprop-1-ene"),
    ("CC(C)(C)C", "2,2-dimethylpropane"),
    ("CCC(C)CC", "3-methylpentane"),
    ("C=CC=C", "buta-1,3-diene"),  # "a" added before the consonant of "diene"
    ("C=C=C", "propa-1,2-diene"),
    ("C=C=CC", "buta-1,2-diene"),
    ("C=C=C=CC", "penta-1,2,3-triene"),
    ("C=CC=CC=C", "hexa-1,3,5-triene"),
    ("CC(C)C=C", "3-methylbut-1-ene"),
    ("CC=C(C)C", "2-methylbut-2-ene"),
    ("C=C(C)CC", "2-methylbut-1-ene"),  # equal chains: the one with the double bond
    ("C=CC(C)(C)C", "3,3-dimethylbut-1-ene"),
    ("C=CC(C)=C", "2-methylbuta-1,3-diene"),
    ("C=C(C)C(C)=C", "2,3-dimethylbuta-1,3-diene"),
    ("CC(C)C(C)C", "2,3-dimethylbutane"),
    ("CC(C)CC(C)(C)C", "2,2,4-trimethylpentane"),
    ("CCC(CC)C(C)C", "3-ethyl-2-methylpentane"),  # alphabetical, not by locant
    ("CC(C)(C)CC(CC)CC", "4-ethyl-2,2-dimethylhexane"),  # di- ignored in ordering
    ("CC(C)C(CC)CCC", "3-ethyl-2-methylhexane"),  # P-45.2.1: more prefixes than 3-(propan-2-yl)
    ("CCCC(CC(C)C)(CC(C)C)CCC", "2,6-dimethyl-4,4-dipropylheptane"),  # four prefixes win
    ("CC(C)CC(C)C(C)C", "2,3,5-trimethylhexane"),  # {2,3,5} beats {2,4,5}
    ("CC(C)CCCCC(C)C(C)CC", "2,7,8-trimethyldecane"),  # first point of difference, not sum
    ("CCC(CC)CC(C)CC", "3-ethyl-5-methylheptane"),  # tie: first-cited prefix gets 3
    ("CCC(C)CC(CCCC)C(CCC)CC(CC)CC", "5-butyl-8-ethyl-3-methyl-6-propyldecane"),  # P-45.2.3
    ("CCCCC(C(C)C)CCCC", "5-(propan-2-yl)nonane"),  # not isopropyl or (1-methylethyl)
    ("CCCCC(CC(C)C)CCCC", "5-(2-methylpropyl)nonane"),
    ("CCCCC(C(C)CC)CCCC", "5-(butan-2-yl)nonane"),  # longest chain from the free valence
    ("CCCC(C(C)(C)C)CCC", "4-tert-butylheptane"),  # the retained preferred prefix
    ("CCCC(C(C)(C)C)(C(C)(C)C)CCC", "4,4-di-tert-butylheptane"),
    ("CCCCC(C(C)C)(C(C)C)CCCC", "5,5-di(propan-2-yl)nonane"),  # unsubstituted: di
    ("CCCCC(CC(C)C)(CC(C)C)CCCC", "5,5-bis(2-methylpropyl)nonane"),  # substituted: bis
    ("CCCC(CC)CC(CC(C)(C)C)CCCC", "6-(2,2-dimethylpropyl)-4-ethyldecane"),  # "d" before "e"
    ("CC(C(CCC)C)C(CC(CCCC)CC)CCCCCC", "5-ethyl-7-(3-methylhexan-2-yl)tridecane"),
    ("C=C(CC)CCCC", "3-methylideneheptane"),  # 2013: longest chain first (not 2-ethylhex-1-ene)
    ("C=CC(CCC)CCC", "4-ethenylheptane"),  # 2013: not 3-propylhex-1-ene
    ("C=CC(CC)CCC", "3-ethylhex-1-ene"),  # equal lengths: more multiple bonds
    ("CC=C(CCC)CCC", "4-ethylideneheptane"),
    ("CC(C)=C(CCC)CCC", "4-(propan-2-ylidene)heptane"),
    ("CCCCC(C(C)=C)CCCC", "5-(prop-1-en-2-yl)nonane"),
    ("CCCCC(CC=C)CCCC", "5-(prop-2-en-1-yl)nonane"),  # free valence lowest, then the ene
    ("C=CCC(C=C)CC=C", "4-ethenylhepta-1,6-diene"),
    ("C=CC(=C)C=C", "3-methylidenepenta-1,4-diene"),
    ("C=CCC(C)C", "4-methylpent-1-ene"),  # the double bond decides the direction
    ("CC=CCC(C)C", "5-methylhex-2-ene"),
    ("CC(C(CC=C)C=C(C)C)=CC", "5-methyl-4-(2-methylprop-1-en-1-yl)hepta-1,5-diene"),  # P-45.2.2
    (
        "C(C)C(C(CC=CC=C)C(C)C(C=C)CC)C(C=C)C",  # Blue Book P-45.2.3
        "7-ethyl-6-(3-ethylpent-4-en-2-yl)-8-methyldeca-1,3,9-triene",
    ),
    ("C" * 20, "icosane"),  # 2013 spelling, not eicosane
    ("C" * 21, "henicosane"),
    ("CC(C)" + "C" * 19, "2-methylhenicosane"),
    ("C" * 22, "docosane"),
    ("C" * 31, "hentriacontane"),
    ("C" * 60, "hexacontane"),
]

# Triple bonds do not occur in the dataset but are named.
YNES = [
    ("C#C", "ethyne"),
    ("CC=CC#C", "pent-3-en-1-yne"),  # Blue Book P-44.4.1.1: multiple bonds together first
    ("C#CC=C", "but-1-en-3-yne"),  # a tie: the double bond gets the lower locant
    ("CCCCC(C#C)CCCC", "5-ethynylnonane"),
]


@pytest.mark.parametrize(("smiles", "expected"), CURATED + YNES)
def test_curated_names(smiles: str, expected: str) -> None:
    assert name(from_smiles(smiles)) == expected


@pytest.mark.parametrize(
    ("condensed", "expected"),
    [
        ("CH3CH(CH3)CH=CH2", "3-methylbut-1-ene"),
        ("CH3C(CH3)2CH3", "2,2-dimethylpropane"),
        ("CH2=C(CH2CH3)CH2CH2CH2CH3", "3-methylideneheptane"),
    ],
)
def test_condensed_formulae(condensed: str, expected: str) -> None:
    assert name(parse_condensed(condensed)) == expected


def test_name_does_not_depend_on_atom_order() -> None:
    a = from_smiles("CC(C)C(CC)CCC")
    b = from_smiles("CCCC(CC)C(C)C")
    assert a.canonical_key == b.canonical_key
    assert name(a) == name(b) == "3-ethyl-2-methylhexane"


def test_every_small_isomer_gets_a_distinct_name() -> None:
    for n in range(1, 9):
        isomers = all_isomers(n)
        names = [name(m) for m in isomers]
        assert len(set(names)) == len(isomers), f"C{n}: two isomers share a name"
        assert all(s.endswith(("ane", "ene")) for s in names)


@pytest.mark.parametrize(
    "mol",
    [
        parse_condensed("CH4CH3"),  # five bonds at one carbon
        parse_condensed("CH2CH3"),  # three bonds
        Hydrocarbon((3, 3, 3), ((0, 1, 1),)),  # two fragments
        Hydrocarbon((), ()),
        Hydrocarbon((0, 0), ((0, 1, 4),)),  # a "quadruple" bond has four bonds but no name
    ],
)
def test_invalid_molecules_raise(mol: Hydrocarbon) -> None:
    with pytest.raises(ValueError):
        name(mol)


@pytest.mark.parametrize(
    ("n", "root"),
    [
        (1, "meth"),
        (4, "but"),
        (9, "non"),
        (11, "undec"),
        (12, "dodec"),
        (20, "icos"),
        (21, "henicos"),
        (22, "docos"),
        (30, "triacont"),
        (31, "hentriacont"),
        (42, "dotetracont"),
        (60, "hexacont"),
    ],
)
def test_chain_roots(n: int, root: str) -> None:
    assert chain_root(n) == root


def test_numerals_out_of_range_raise() -> None:
    assert numeral(23) == "tricosa"
    with pytest.raises(ValueError):
        numeral(100)
