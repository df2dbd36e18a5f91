from collections import Counter

import numpy as np
from rdkit import Chem

from molbench.chem.generate import (
    ERROR_TYPES,
    ISOMER_COUNTS,
    all_isomers,
    carbon_quotas,
    corruptions,
    double_bond_sets,
    random_double_bonds,
    random_isomer,
    skeletons,
)
from molbench.chem.hydrocarbon import saturated
from molbench.chem.notation import write

# OEIS A000602: number of alkane constitutional isomers C_nH_2n+2.
ALKANE_ISOMERS = [1, 1, 1, 2, 3, 5, 9, 18, 35, 75]


def test_skeleton_counts_match_the_alkane_isomer_sequence() -> None:
    assert [len(skeletons(n)) for n in range(1, 11)] == ALKANE_ISOMERS


def test_isomer_enumeration_is_complete_for_butenes() -> None:
    # butane, isobutane, but-1-ene, but-2-ene, isobutene, buta-1,2-diene, buta-1,3-diene,
    # butatriene
    expected = {"CCCC", "CC(C)C", "C=CCC", "CC=CC", "C=C(C)C", "C=C=CC", "C=CC=C", "C=C=C=C"}
    found = {Chem.MolToSmiles(Chem.MolFromSmiles(write(m).smiles)) for m in all_isomers(4)}
    assert found == expected


def test_enumerated_isomers_are_valid_and_distinct_by_rdkit() -> None:
    for n in range(1, 8):
        isomers = all_isomers(n)
        canon = {Chem.MolToSmiles(Chem.MolFromSmiles(write(m).smiles)) for m in isomers}
        assert len(canon) == len(isomers)
        assert all(m.is_valid() and m.is_tree() for m in isomers)


def test_random_double_bonds_are_uniform_over_valid_sets() -> None:
    edges = ((0, 1), (1, 2), (2, 3), (1, 4))  # isopentane skeleton
    valid_sets = list(double_bond_sets(5, edges))
    rng = np.random.default_rng(1)
    draws = Counter(random_double_bonds(5, edges, rng) for _ in range(6000))
    assert set(draws) == set(valid_sets)
    expected = 6000 / len(valid_sets)
    assert all(abs(c - expected) < 5 * expected**0.5 for c in draws.values())


def test_random_isomers_reach_every_isomer_and_only_valid_ones() -> None:
    rng = np.random.default_rng(2)
    seen = {random_isomer(6, rng).canonical_key for _ in range(4000)}
    assert seen == {m.canonical_key for m in all_isomers(6)}
    big = [random_isomer(30, rng) for _ in range(50)]
    assert all(m.is_valid() and m.is_tree() and m.n_carbons == 30 for m in big)


def test_corruptions_are_one_edit_and_invalid() -> None:
    mol = saturated(4, [(0, 1), (1, 2), (2, 3)], {0})  # but-1-ene
    options = corruptions(mol)
    assert set(options) == set(ERROR_TYPES)
    for variants in options.values():
        for bad in variants:
            assert not bad.is_valid()
            assert bad.n_carbons == mol.n_carbons
            h_edits = sum(a != b for a, b in zip(bad.h_counts, mol.h_counts, strict=True))
            bond_edits = sum(a != b for a, b in zip(bad.bonds, mol.bonds, strict=True))
            assert (h_edits, bond_edits) in {(1, 0), (2, 0), (0, 1), (0, 2)}


def test_methane_can_only_gain_or_lose_a_hydrogen() -> None:
    assert set(corruptions(all_isomers(1)[0])) == {
        "carbon_valence_over_4",
        "carbon_valence_under_4",
    }


def test_quotas_fill_small_carbon_counts_exhaustively() -> None:
    quotas = carbon_quotas(1000, 12)
    assert quotas[1] == 1 and quotas[2] == 2 and quotas[3] == 3 and quotas[4] == 8
    assert sum(quotas.values()) == 1000
    assert quotas[7] == 131  # all isomers of C7: fewer than an equal share
    assert max(quotas.values()) - min(q for n, q in quotas.items() if n >= 8) <= 1


def test_quota_isomer_counts_are_the_enumerated_ones() -> None:
    assert tuple(len(all_isomers(n)) for n in range(1, 11)) == ISOMER_COUNTS
