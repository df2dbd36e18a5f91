import json

import pytest
from rdkit import Chem

from molbench.chem.reaction import (
    ATOM_FEATURES,
    RawReaction,
    ReactionParseError,
    parse_15k_line,
    parse_mit_line,
    process,
)
from molbench.chem.reaction_valence import atom_states

# Lines copied verbatim from the raw files (file:line in the comment).
# USPTO-MIT valid.txt:1 (also the example in the data's SOURCE.md)
MIT_SULFINATE = (
    "[CH3:15][C:16](=[O:17])[CH3:18].[CH3:3][O:4][c:5]1[cH:6][cH:7][c:8]([S:11](=[O:12])"
    "(=[O:13])[Cl:14])[cH:9][cH:10]1.[I-:1].[Na+:2]>>[CH3:3][O:4][c:5]1[cH:6][cH:7][c:8]"
    "([S:11](=[O:12])[O-:13])[cH:9][cH:10]1.[Na+:2] 11-14;11-13"
)
# USPTO-MIT test.txt:1 (SNAr with NaH in THF)
MIT_SNAR = (
    "[CH2:23]1[O:24][CH2:25][CH2:26][CH2:27]1.[F:1][c:2]1[c:3]([N+:10](=[O:11])[O-:12])"
    "[cH:4][c:5]([F:9])[c:6]([F:8])[cH:7]1.[H-:22].[NH2:13][c:14]1[s:15][cH:16][cH:17]"
    "[c:18]1[C:19]#[N:20].[Na+:21]>>[c:2]1([NH:13][c:14]2[s:15][cH:16][cH:17][c:18]2"
    "[C:19]#[N:20])[c:3]([N+:10](=[O:11])[O-:12])[cH:4][c:5]([F:9])[c:6]([F:8])[cH:7]1 1-2;2-13"
)
# USPTO-MIT test.txt:3827 (2-methoxypyridine -> 2-pyridone: the ring N gains an H)
MIT_PYRIDONE = (
    "[BrH:11].[NH2:1][CH2:2][c:3]1[n:4][c:5]([O:9][CH3:10])[cH:6][cH:7][cH:8]1>>[BrH:11]"
    ".[NH2:1][CH2:2][c:3]1[nH:4][c:5](=[O:9])[cH:6][cH:7][cH:8]1 9-10;5-9"
)
# USPTO-MIT valid.txt:7563 (pyridine N-oxide: n -> [n+][O-])
MIT_N_OXIDE = (
    "[C:1](#[N:2])[c:3]1[cH:4][n:5][cH:6][cH:7][cH:8]1.[CH3:11][C:12](=[O:13])[OH:14]."
    "[OH:9][OH:10]>>[C:1](#[N:2])[c:3]1[cH:4][n+:5]([O-:9])[cH:6][cH:7][cH:8]1 9-10;5-9"
)
# USPTO-MIT test.txt:1768 (the product protonates O8, which no edit touches)
MIT_UNEDITED_PROTON = (
    "[ClH:10].[OH:1][CH:2]([CH:3]([CH3:4])[Br:5])[P:6]([O-:7])([O-:8])=[O:9]>>[OH:1][CH:2]"
    "([CH:3]([CH3:4])[Br:5])[P:6](=[O:7])([OH:8])[OH:9] 6-9;6-7"
)
# USPTO-MIT test.txt:24647 (a reactant RDKit cannot sanitise: pentavalent [CH2+])
MIT_UNSANITIZABLE = (
    "[CH2:12]([CH3:13])[N:14]1[CH2+:15]([S:30][CH3:31])[S:16][C:17](=[C:20]2[S:21][c:22]3"
    "[c:23]([cH:26][cH:27][cH:28][cH:29]3)[N:24]2[CH3:25])[C:18]1=[O:19].[NH2:32][c:33]1"
    "[cH:34][c:35]2[cH:36][cH:37][cH:38][n:39][c:40]2[cH:41][cH:42]1.[c:1]1([CH3:2])[cH:3]"
    "[cH:4][c:5]([S:6]([O-:7])(=[O:8])=[O:9])[cH:10][cH:11]1>>[CH2:12]([CH3:13])[N:14]1"
    "[C:15](=[N:32][c:33]2[cH:34][c:35]3[cH:36][cH:37][cH:38][n:39][c:40]3[cH:41][cH:42]2)"
    "[S:16][C:17](=[C:20]2[S:21][c:22]3[c:23]([cH:26][cH:27][cH:28][cH:29]3)[N:24]2[CH3:25])"
    "[C:18]1=[O:19] 15-30;15-32"
)
# USPTO-15K train.txt:1 (oxime -> nitrile; C29 loses an H)
K15_NITRILE = (
    "[CH3:1][C:2]([CH3:3])([CH3:4])[c:5]1[nH:6][c:7]2[cH:8][cH:9][c:10]([NH:11][C:12]"
    "(=[O:13])[C:14]3([c:15]4[cH:16][cH:17][c:18]5[c:19]([cH:20]4)[O:21][CH2:22][O:23]5)"
    "[CH2:24][CH2:25]3)[cH:26][c:27]2[c:28]1[CH:29]=[N:30][OH:31]>>CC(C)(C)c1[nH]c2ccc"
    "(NC(=O)C3(c4ccc5c(c4)OCO5)CC3)cc2c1C#N 29;;29-30-2.0,30-31-1.0;29-30-3.0"
)
# USPTO-15K valid.txt:1 (carbamate from ethyl chloroformate; pyridine is a reagent)
K15_CARBAMATE = (
    "[CH3:18][CH2:19][O:20][C:21](=[O:22])[Cl:23].[CH3:1][O:2][c:3]1[cH:4][c:5]2[n:6][c:7]"
    "([NH2:8])[c:9]([O:10][CH3:11])[n:12][c:13]2[cH:14][c:15]1[O:16][CH3:17].[cH:24]1[cH:25]"
    "[cH:26][n:27][cH:28][cH:29]1>>CCOC(=O)Nc1nc2cc(OC)c(OC)cc2nc1OC 8;;21-23-1.0;21-8-1.0"
)
# USPTO-15K train.txt:5043 (no bond edit at all: only O9 loses its proton)
K15_PROTON = (
    "[CH3:1][c:2]1[cH:3][cH:4][c:5]([S:6](=[O:7])(=[O:8])[OH:9])[cH:10][cH:11]1>>"
    "Cc1ccc(S(=O)(=O)[O-])cc1 9;;;"
)
MIT_LINES = [MIT_SULFINATE, MIT_SNAR, MIT_PYRIDONE, MIT_N_OXIDE, MIT_UNEDITED_PROTON]
MIT_LINES.append(MIT_UNSANITIZABLE)
K15_LINES = [K15_NITRILE, K15_CARBAMATE, K15_PROTON]
ALL_RECORDS = [(parse_mit_line, line) for line in MIT_LINES] + [
    (parse_15k_line, line) for line in K15_LINES
]


def canonical(smiles: str) -> str:
    return ".".join(sorted(Chem.MolToSmiles(Chem.MolFromSmiles(smiles)).split(".")))


def test_parse_mit_line_keeps_the_pairs_as_given() -> None:
    raw = parse_mit_line(MIT_SULFINATE + "\n")
    assert raw.mapped_rxn == MIT_SULFINATE.split()[0]
    assert raw.core == ((11, 14), (11, 13))
    assert raw.new_orders is None
    assert raw.hydrogen_changes is None


@pytest.mark.parametrize(
    "line",
    [
        "",
        "[CH3:1][OH:2]>>[CH3:1][OH:2]",  # one field
        "[CH3:1][OH:2]>>[CH3:1][OH:2] 1-2 extra",
        "[CH3:1][OH:2].[CH3:1] 1-2",  # no '>>'
        ">>[CH3:1] 1-2",
        "[CH3:1][OH:2]>>[CH3:1][OH:2] 1-x",
        "[CH3:1][OH:2]>>[CH3:1][OH:2] 1-2-1.0",
        "[CH3:1][OH:2]>>[CH3:1][OH:2] 0-2",
        "[CH3:1][OH:2]>>[CH3:1][OH:2] 1-2;",
    ],
)
def test_parse_mit_line_rejects(line: str) -> None:
    with pytest.raises(ReactionParseError):
        parse_mit_line(line)


def test_parse_15k_line_reads_the_four_groups() -> None:
    raw = parse_15k_line(K15_NITRILE)
    # group 3 (29-30 was double, 30-31 single) then group 4 (29-30 becomes triple)
    assert raw.core == ((29, 30), (30, 31))
    assert raw.new_orders == (3.0, 0.0)
    assert raw.hydrogen_changes == ((29, -1),)  # group 1: C29 loses one hydrogen


def test_parse_15k_line_counts_each_hydrogen() -> None:
    lost_two = parse_15k_line("[NH2:1][CH3:2]>>N=C 1,1,2;;;")
    assert lost_two.hydrogen_changes == ((1, -2), (2, -1))
    moved_back = parse_15k_line("[NH2:1][CH3:2]>>NC 1;1;;")
    assert moved_back.hydrogen_changes == ()


@pytest.mark.parametrize(
    "edits",
    ["1;;1-2-1.0", ";;1-2;", ";;1-2-x;", ";;1-2-2.5;", "a;;;", ";;;1-2-0.0", ";;;;"],
)
def test_parse_15k_line_rejects(edits: str) -> None:
    with pytest.raises(ReactionParseError):
        parse_15k_line("[NH2:1][CH3:2]>>NC " + edits)


def test_reactants_and_reagents_by_hand() -> None:
    # Na+ is in the product ([Na+:2]) so, by the rule, it is a reactant; I- and acetone
    # contribute nothing to the product.
    record = process(parse_mit_line(MIT_SULFINATE))
    assert record["reactants"] == "COc1ccc(S(=O)(=O)Cl)cc1.[Na+]"
    assert record["reagents"] == "CC(C)=O.[I-]"
    assert record["products"] == "COc1ccc(S(=O)[O-])cc1.[Na+]"
    assert record["precursors_mixed"] == "CC(C)=O.COc1ccc(S(=O)(=O)Cl)cc1.[I-].[Na+]"
    assert record["reaction_key"] == record["reactants"] + ">>" + record["products"]

    snar = process(parse_mit_line(MIT_SNAR))
    assert snar["reactants"] == "N#Cc1ccsc1N.O=[N+]([O-])c1cc(F)c(F)cc1F"
    assert snar["reagents"] == "C1CCOC1.[H-].[Na+]"  # the two ions of NaH are two molecules


@pytest.mark.parametrize(("parse", "line"), ALL_RECORDS)
def test_canonical_columns_are_idempotent(parse, line) -> None:
    record = process(parse(line))
    for column in ("reactants", "reagents", "products", "precursors_mixed"):
        if record[column] and record["rdkit_sanitizes"]:
            assert canonical(record[column]) == record[column], column
    assert sorted(record["precursors_mixed"].split(".")) == sorted(
        filter(None, record["reactants"].split(".") + record["reagents"].split("."))
    )


def test_new_orders_come_from_the_mapped_product() -> None:
    record = process(parse_mit_line(MIT_PYRIDONE))
    # C5-O9 single -> double (the pyridone C=O); O9-C10 (the methyl) broken.
    assert record["edits"] == [[5, 9, 2.0], [9, 10, 0.0]]
    assert record["old_orders"] == [1.0, 1.0]
    # reproduced although the edits do not say that ring N4 gains a hydrogen
    assert record["edits_reproduce_product"], record["edit_check_error"]
    assert record["reactants"] == "Br.COc1cccc(CN)n1"  # HBr stays in the product


@pytest.mark.parametrize("line", [MIT_SULFINATE, MIT_SNAR, MIT_N_OXIDE])
def test_edits_reproduce_product(line: str) -> None:
    record = process(parse_mit_line(line))
    assert record["edits_reproduce_product"]
    assert record["edit_check_error"] == ""


def test_wrong_edits_do_not_reproduce_product() -> None:
    raw = parse_mit_line(MIT_SNAR)
    broken = RawReaction(raw.mapped_rxn, raw.core[:1], None)  # the C-N bond never forms
    record = process(broken)
    assert not record["edits_reproduce_product"]
    assert record["edit_check_error"]


def test_unedited_change_is_reported() -> None:
    record = process(parse_mit_line(MIT_UNEDITED_PROTON))
    assert not record["edits_reproduce_product"]
    assert record["edit_check_error"] == "product changes charges or hydrogens of unedited atoms 8"


def test_unsanitizable_reaction_is_kept() -> None:
    record = process(parse_mit_line(MIT_UNSANITIZABLE))
    assert record["rdkit_sanitizes"] is False
    assert "[CH2+]" in record["sanitize_error"]
    assert "valence" in record["sanitize_error"]
    assert record["reactants"] == "CCN1C(=O)C(=C2Sc3ccccc3N2C)S[CH2+]1SC.Nc1ccc2ncccc2c1"
    assert record["reagents"] == "Cc1ccc(S(=O)(=O)[O-])cc1"
    assert record["edits"] == [[15, 30, 0.0], [15, 32, 2.0]]
    assert record["edits_reproduce_product"]
    carbon = record["atom_map"].index(15)  # [CH2+:15], kept as written
    assert record["atom_features"][carbon][:3] == [6, 1, 2]
    assert record["atom_features"][carbon][3] == 3  # degree


def test_sanitized_reaction_has_no_error() -> None:
    record = process(parse_mit_line(MIT_SNAR))
    assert record["rdkit_sanitizes"] is True
    assert record["sanitize_error"] == ""


def test_15k_mapping_is_recovered_from_the_edits() -> None:
    record = process(parse_15k_line(K15_CARBAMATE))
    assert record["edits"] == [[8, 21, 1.0], [21, 23, 0.0]]
    assert record["old_orders"] == [0.0, 1.0]
    assert record["edits_reproduce_product"], record["edit_check_error"]
    assert record["products"] == "CCOC(=O)Nc1nc2cc(OC)c(OC)cc2nc1OC"
    assert record["reactants"] == "CCOC(=O)Cl.COc1cc2nc(N)c(OC)nc2cc1OC"
    assert record["reagents"] == "c1ccncc1"
    pyridine = {a for a, m in enumerate(record["atom_map"]) if m >= 24}
    assert all(not record["in_reactant"][a] for a in pyridine)
    assert all(record["in_reactant"][a] for a in range(record["n_atoms"]) if a not in pyridine)


def test_15k_edit_orders_come_from_the_groups() -> None:
    record = process(parse_15k_line(K15_NITRILE))
    assert record["edits"] == [[29, 30, 3.0], [30, 31, 0.0]]
    assert record["old_orders"] == [2.0, 1.0]
    assert record["edits_reproduce_product"], record["edit_check_error"]
    assert record["reagents"] == ""


def test_15k_hydrogen_groups_reproduce_a_pure_proton_transfer() -> None:
    raw = parse_15k_line(K15_PROTON)
    assert raw.core == ()
    assert process(raw)["edits_reproduce_product"]
    without_groups = RawReaction(raw.mapped_rxn, raw.core, raw.new_orders)
    assert not process(without_groups)["edits_reproduce_product"]


def test_product_inchikey() -> None:
    record = process(parse_mit_line(MIT_SULFINATE))
    expected = Chem.MolToInchiKey(Chem.MolFromSmiles(record["products"]))
    assert record["product_inchikey"] == expected
    assert len(expected) == 27


@pytest.mark.parametrize(
    "rxn",
    [
        RawReaction("[CH3:1][OH:2]>>[CH3:1][OH:2]", ((1, 3),), None),  # no atom 3
        RawReaction("[CH3:1][OH:1]>>[CH3:1][OH:2]", ((1, 2),), None),  # map used twice
        RawReaction("[CH3:1]1[OH:2]>>[CH3:1][OH:2]", ((1, 2),), None),  # unclosed ring
        RawReaction("[CH3:1][OH:2]>>[CH3:1][OH:5]", ((1, 2),), None),  # 5 not a reactant
        RawReaction("[CH3:1][OH:2]", ((1, 2),), None),  # no '>>'
        RawReaction("[CH3:1][OH:2]>>[CH3:1].[OH2:2]", ((1, 2),), (2.5,)),  # no such order
    ],
)
def test_process_rejects_unusable_reactions(rxn: RawReaction) -> None:
    with pytest.raises(ReactionParseError):
        process(rxn)


@pytest.mark.parametrize(("parse", "line"), ALL_RECORDS)
def test_graph_arrays_are_consistent(parse, line) -> None:
    record = process(parse(line))
    json.dumps(record)  # plain Python values only
    n = record["n_atoms"]
    left = line.split()[0].split(">>")[0]
    mol = Chem.MolFromSmiles(left, sanitize=False)
    assert n == mol.GetNumAtoms()
    assert record["atom_map"] == [a.GetAtomMapNum() for a in mol.GetAtoms()]
    assert [row[0] for row in record["atom_features"]] == [a.GetAtomicNum() for a in mol.GetAtoms()]
    assert all(len(row) == len(ATOM_FEATURES) for row in record["atom_features"])
    assert all(isinstance(v, int) for row in record["atom_features"] for v in row)
    src, dst = record["edge_index"]
    assert len(src) == len(dst) == len(record["bond_orders"]) == mol.GetNumBonds()
    assert all(0 <= a < b < n for a, b in zip(src, dst, strict=True))
    assert set(record["bond_orders"]) <= {1.0, 1.5, 2.0, 3.0}
    component = record["component"]
    assert len(component) == len(record["in_reactant"]) == n
    assert all(component[a] == component[b] for a, b in zip(src, dst, strict=True))
    firsts = [component.index(k) for k in range(max(component) + 1)]
    assert firsts == sorted(firsts)  # numbered by first atom
    assert max(component) + 1 == len(left.split("."))  # disjoint molecules, one each
    for k in range(max(component) + 1):
        flags = {record["in_reactant"][a] for a in range(n) if component[a] == k}
        assert len(flags) == 1
    a_list, b_list = record["edit_index"]
    assert len(a_list) == len(b_list) == len(record["edits"]) == len(record["edit_orders"])
    for (map_a, map_b, order), a, b, edit_order in zip(
        record["edits"], a_list, b_list, record["edit_orders"], strict=True
    ):
        assert (record["atom_map"][a], record["atom_map"][b]) == (map_a, map_b)
        assert map_a < map_b
        assert order == edit_order
        assert record["in_reactant"][a] or record["in_reactant"][b]
    assert record["edits"] == sorted(record["edits"])
    assert len(record["old_orders"]) == len(record["edits"])


def test_edit_states_prefer_neutral_atoms() -> None:
    """Nitro reduction: the N that lost three bond orders becomes NH2, not NH3+."""
    nitro = Chem.MolFromSmiles("C[N+](=O)[O-]").GetAtomWithIdx(1)
    _, charge, hydrogens = atom_states(nitro, 3.0, 1.0, 0)[0]
    assert (charge, hydrogens) == (0, 2)
    # a pyridine N that gains a bond and has no H to lose: the neutral form is impossible
    # as pyridine-type, so its options are the pyrrole-type n and the pyridinium n+
    pyridine_n = Chem.MolFromSmiles("c1ccncc1").GetAtomWithIdx(3)
    assert {(q, h) for _, q, h in atom_states(pyridine_n, -1.0, 1.0, 2)} >= {(0, 0), (1, 0)}


def _uncached(side_smiles: str):
    """The side as read with the per-molecule caches empty (and so bypassed)."""
    from molbench.chem import reaction_graph, reaction_smiles

    reaction_smiles._CANONICAL.clear()
    reaction_graph._MOLECULE_FEATURES.clear()
    side = reaction_smiles.read_side(side_smiles, "reactants")
    return side, reaction_graph.graph_arrays(side, [True] * len(side.fragments), [], [])


@pytest.mark.parametrize(
    ("warm", "side_smiles"),
    [
        # the same molecules written alike, in other positions and with other maps
        ("[CH3:1][OH:2].[Na+:3].c1cc[cH:4]cc1", "[Na+:7].[cH:9]1ccccc1.[CH3:5][OH:6]"),
        # chirality present in one molecule only; ring closures numbered across molecules
        ("C[C@H](N)O.C1CC1", "C1CC1.C2CC2.C[C@H](N)O"),
        # every molecule cached: no writer call for the side at all
        ("[OH:1][CH2:2]C.C1CC1", "C1CC1.[OH:8][CH2:9]C"),
        # a ring bond across '.' is one molecule: no per-piece caching at all
        ("C1CC1.CCO", "C1.C1CCO"),
    ],
)
def test_per_molecule_caches_are_exact(warm: str, side_smiles: str) -> None:
    """Canonical SMILES and graph arrays from the per-molecule caches equal a cold read."""
    from molbench.chem import reaction_graph, reaction_smiles

    cold_side, cold_arrays = _uncached(side_smiles)
    _uncached(warm)  # fills the caches with the warm side's molecules
    hot_side = reaction_smiles.read_side(side_smiles, "reactants")
    hot_arrays = reaction_graph.graph_arrays(hot_side, [True] * len(hot_side.fragments), [], [])
    assert hot_side.smiles == cold_side.smiles
    assert hot_arrays == cold_arrays
