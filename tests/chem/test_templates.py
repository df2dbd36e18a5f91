"""Forward templates on hand-checked reactions: extraction, application, ranking, failures."""

import re

import pytest

pytest.importorskip("rdchiral")

from rdkit import Chem

from molbench.chem.templates import (
    Extraction,
    TemplateError,
    TemplateLibrary,
    apply_template,
    canonical,
    check_extraction,
    extract_forward_template,
    map_product,
    predict_all,
)

# benzoyl chloride + propylamine -> N-propylbenzamide
AMIDE = (
    "[cH:1]1[cH:2][cH:3][cH:4][cH:5][c:6]1[C:7](=[O:8])[Cl:9].[NH2:10][CH2:11][CH2:12][CH3:13]"
    ">>[cH:1]1[cH:2][cH:3][cH:4][cH:5][c:6]1[C:7](=[O:8])[NH:10][CH2:11][CH2:12][CH3:13]"
)
# ethyl benzoate -> benzoic acid (water, a reagent, gives no atom to the product)
HYDROLYSIS = (
    "[cH:1]1[cH:2][cH:3][cH:4][cH:5][c:6]1[C:7](=[O:8])[O:9][CH2:10][CH3:11].[OH2:12]"
    ">>[cH:1]1[cH:2][cH:3][cH:4][cH:5][c:6]1[C:7](=[O:8])[OH:9]"
)
# benzoyl chloride + propanol -> propyl benzoate
ESTER = (
    "[cH:1]1[cH:2][cH:3][cH:4][cH:5][c:6]1[C:7](=[O:8])[Cl:9].[OH:10][CH2:11][CH2:12][CH3:13]"
    ">>[cH:1]1[cH:2][cH:3][cH:4][cH:5][c:6]1[C:7](=[O:8])[O:10][CH2:11][CH2:12][CH3:13]"
)
AMIDE_EDITS = [
    {"atom_a": 7, "atom_b": 9, "new_order": 0.0},
    {"atom_a": 7, "atom_b": 10, "new_order": 1.0},
]


def test_amide_template_applies_to_other_acid_chlorides_and_amines() -> None:
    template = extract_forward_template(AMIDE, [])
    assert "Cl" in template.split(">>")[0] and "Cl" not in template.split(">>")[1]
    assert apply_template(template, "NCCc1ccccc1.O=C(Cl)c1ccc(C)cc1") == [
        canonical("Cc1ccc(C(=O)NCCc2ccccc2)cc1")
    ]
    assert apply_template(template, "OCCc1ccccc1.O=C(Cl)c1ccc(C)cc1") == []  # no amine


def test_hydrolysis_template_keeps_only_the_acid_and_its_whole_leaving_group() -> None:
    template = extract_forward_template(HYDROLYSIS, [])
    assert "." not in template.split(">>")[0]  # water gives no atom: not in the rule
    assert apply_template(template, "CCOC(=O)c1ccc(Cl)cc1") == [canonical("O=C(O)c1ccc(Cl)cc1")]
    # the leaving group is written out atom by atom: a methyl ester is another rule
    assert apply_template(template, "COC(=O)c1ccc(Cl)cc1") == []


def test_unmapped_product_gets_its_maps_from_the_edits() -> None:
    left = AMIDE.partition(">>")[0]
    mapped = map_product(left, AMIDE_EDITS, "CCCNC(=O)c1ccccc1")
    assert sorted(map(int, re.findall(r":(\d+)\]", mapped))) == [*range(1, 9), *range(10, 14)]
    assert mapped == Chem.MolToSmiles(Chem.MolFromSmiles(AMIDE.partition(">>")[2]))
    unmapped = f"{left}>>CCCNC(=O)c1ccccc1"
    assert extract_forward_template(unmapped, AMIDE_EDITS) == extract_forward_template(AMIDE, [])


def test_failures_are_reported_with_a_reason() -> None:
    with pytest.raises(TemplateError, match="no template"):
        extract_forward_template("[CH3:1][OH:2]>>[CH3:1][OH:2]", [])  # nothing changes
    left = AMIDE.partition(">>")[0]
    with pytest.raises(TemplateError, match="matches the product"):
        map_product(left, [], "CCCNC(=O)c1ccccc1")  # without the edits there is no amide
    failed = check_extraction("[CH3:1][OH:2]>>[CH3:1][OH:2]", [], "CO", "CO")
    assert failed == Extraction("", failed.error) and failed.error
    ok = check_extraction(AMIDE, [], "CCCN.O=C(Cl)c1ccccc1", "CCCNC(=O)c1ccccc1")
    assert ok.template and ok.self_consistent is True


def test_library_counts_and_orders_by_frequency_then_text() -> None:
    library = TemplateLibrary.from_templates(["b", "a", "", "b", "c"])
    assert library.templates == ("b", "a", "c") and library.counts == (2, 1, 1)
    assert TemplateLibrary.from_templates(["b", "a", "b"], min_count=2).templates == ("b",)


@pytest.mark.parametrize("ester_count", [1, 3])
def test_products_are_ranked_by_the_count_of_their_rule(ester_count: int) -> None:
    amide, ester = extract_forward_template(AMIDE, []), extract_forward_template(ESTER, [])
    library = TemplateLibrary.from_templates([amide, amide] + [ester] * ester_count)
    reactants = "CCCN.CCCO.O=C(Cl)c1ccccc1"
    amide_product, ester_product = canonical("CCCNC(=O)c1ccccc1"), canonical("CCCOC(=O)c1ccccc1")
    expected = [amide_product, ester_product]
    if ester_count > 2:
        expected.reverse()
    assert library.predict(reactants) == expected
    assert library.predict(reactants, top_k=1) == expected[:1]
    assert library.predict("CCCC") == [] and library.predict("not a smiles") == []


def test_parallel_prediction_keeps_input_order() -> None:
    amide, ester = extract_forward_template(AMIDE, []), extract_forward_template(ESTER, [])
    library = TemplateLibrary.from_templates([amide, ester, ester])
    inputs = ["CCCN.O=C(Cl)c1ccccc1", "CCCC", "CCCO.O=C(Cl)c1ccccc1", "CCCN.CCCO.O=C(Cl)c1ccccc1"]
    serial = list(predict_all(library, inputs, 10, workers=1))
    assert list(predict_all(library, inputs, 10, workers=2)) == serial
    assert [len(p) for p in serial] == [1, 0, 1, 2]


@pytest.mark.parametrize("reactants", ["CCCN.CCCO.O=C(Cl)c1ccccc1", "CCOC(=O)c1ccccc1.O", "CCCC"])
def test_the_screen_drops_no_product_unscreened_application_finds(reactants: str) -> None:
    templates = [extract_forward_template(r, []) for r in (AMIDE, HYDROLYSIS, ESTER)]
    library = TemplateLibrary.from_templates(templates)
    unscreened = {p for t in templates for p in apply_template(t, reactants)}
    assert set(library.predict(reactants)) == unscreened


def test_candidates_are_every_product_in_frequency_order_with_their_rules() -> None:
    amide, ester = extract_forward_template(AMIDE, []), extract_forward_template(ESTER, [])
    library = TemplateLibrary.from_templates([ester, ester, amide])
    reactants = "CCCN.CCCO.O=C(Cl)c1ccccc1"
    found = library.candidates(reactants)
    assert [c.product for c in found] == library.predict(reactants)
    assert [c.templates for c in found] == [[0], [1]]
    # the mapped form numbers reactant atom i as i + 1; the changed atoms are the new bond's
    mol = Chem.MolFromSmiles(reactants)
    mapped = Chem.MolFromSmiles(found[1].mapped)
    for atom in mapped.GetAtoms():
        assert atom.GetSymbol() == mol.GetAtomWithIdx(atom.GetAtomMapNum() - 1).GetSymbol()
        atom.SetAtomMapNum(0)
    assert Chem.MolToSmiles(mapped) == found[1].product
    new_bond = {mol.GetAtomWithIdx(m - 1).GetSymbol() for m in found[1].changed}
    assert new_bond == {"C", "N"}
    assert [c.product for c in library.candidates(reactants, max_templates=1)] == [found[0].product]
    assert library.candidates("CCCC") == [] and library.candidates("not a smiles") == []


def test_a_radius_0_rule_drops_the_neighbours_and_applies_more_widely() -> None:
    specific = extract_forward_template(AMIDE, [])
    general = extract_forward_template(AMIDE, [], radius=0)
    assert "c" not in general.split(">>")[0] and "[c:" in specific  # no aromatic neighbour
    aliphatic = "CCCN.CC(=O)Cl"
    assert apply_template(specific, aliphatic) == []
    assert apply_template(general, aliphatic) == [canonical("CCCNC(C)=O")]
    assert extract_forward_template(AMIDE, []) == specific  # rdchiral's own radius is back
