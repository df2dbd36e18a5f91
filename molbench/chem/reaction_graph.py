"""The "one big graph" of a reaction's precursors: plain lists a GPU recipe reads without RDKit.

All precursor molecules (reactants and reagents) are disjoint components of one graph whose
atoms are in the order of the mapped reactant-side SMILES, so atom ``i`` of every per-atom
list is atom ``i`` of ``mapped_rxn``'s left side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rdkit import Chem

from molbench.chem.reaction_smiles import Side, forget_if_full

# Per-atom integer features, in this order. hybridization and chiral_tag are the integer
# values of RDKit's HybridizationType (0 unspecified, 1 s, 2 sp, 3 sp2, 4 sp3, 5 sp2d,
# 6 sp3d, 7 sp3d2, 8 other) and ChiralType (0 unspecified, 1 CW, 2 CCW, 3 other, ...).
ATOM_FEATURES = (
    "atomic_num",
    "formal_charge",
    "total_num_hs",
    "degree",
    "is_aromatic",
    "hybridization",
    "is_in_ring",
    "chiral_tag",
)


def graph_arrays(
    side: Side,
    reactant_fragments: Sequence[bool],
    edit_atoms: Sequence[tuple[int, int]],
    edit_orders: Sequence[float],
) -> dict[str, Any]:
    """Graph columns of the precursor side (sanitised or partially sanitised).

    ``reactant_fragments`` flags the reactants among ``side.fragments``; ``edit_atoms`` are
    the atom indices of each edit.
    """
    mol = side.mol
    n_atoms = mol.GetNumAtoms()
    if side.pieces is None:
        features = _atom_features(mol, range(n_atoms), side.chiral)
    else:
        features = []
        for written, fragment in zip(side.pieces, side.fragments, strict=True):
            if written not in _MOLECULE_FEATURES:
                forget_if_full(_MOLECULE_FEATURES)
                _MOLECULE_FEATURES[written] = _atom_features(mol, fragment, "@" in written)
            features += _MOLECULE_FEATURES[written]
    # Bonds in the mixture's own order (RDKit adds ring closures after all chain bonds, by
    # ring number), so they are read from the mixture, not assembled per molecule.
    bonds = list(map(mol.GetBondWithIdx, range(mol.GetNumBonds())))
    begin = list(map(Chem.Bond.GetBeginAtomIdx, bonds))
    end = list(map(Chem.Bond.GetEndAtomIdx, bonds))
    component = [0] * n_atoms
    for k, fragment in enumerate(side.fragments):
        for i in fragment:
            component[i] = k
    return {
        "n_atoms": n_atoms,
        "atom_features": features,
        "edge_index": [list(map(min, begin, end)), list(map(max, begin, end))],
        "bond_orders": list(map(Chem.Bond.GetBondTypeAsDouble, bonds)),
        "component": component,
        "atom_map": list(side.maps),
        "in_reactant": [reactant_fragments[k] for k in component],
        "edit_index": [[a for a, _ in edit_atoms], [b for _, b in edit_atoms]],
        "edit_orders": list(edit_orders),
    }


# Per process: atom features of each molecule as written (maps stripped). They depend only
# on the molecule itself, so the cache is exact; reagents and solvents recur in thousands
# of reactions. Atoms of a molecule are contiguous in the mixture (SMILES order).
_MOLECULE_FEATURES: dict[str, list[list[int]]] = {}


def _atom_features(mol: Chem.Mol, atom_indices: Sequence[int], chiral: bool) -> list[list[int]]:
    """``ATOM_FEATURES`` of the given atoms of ``mol``, one list per atom."""
    atoms = [mol.GetAtomWithIdx(i) for i in atom_indices]
    atom = Chem.Atom
    columns = [
        map(atom.GetAtomicNum, atoms),
        map(atom.GetFormalCharge, atoms),
        map(atom.GetTotalNumHs, atoms),
        map(atom.GetDegree, atoms),
        map(int, map(atom.GetIsAromatic, atoms)),
        map(int, map(atom.GetHybridization, atoms)),
        map(int, map(atom.IsInRing, atoms)),
        map(int, map(atom.GetChiralTag, atoms)) if chiral else [0] * len(atoms),
    ]
    return list(map(list, zip(*columns, strict=True)))
