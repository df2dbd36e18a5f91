"""Molecule graphs as plain lists, so GNN recipes on a GPU machine need no RDKit."""

from __future__ import annotations

from typing import Any

from rdkit import Chem

from molbench.chem.reaction_graph import ATOM_FEATURES


def atom_feature_rows(mol: Chem.Mol) -> list[list[int]]:
    """One integer row per atom, columns as in ``ATOM_FEATURES``."""
    return [
        [
            atom.GetAtomicNum(),
            atom.GetFormalCharge(),
            atom.GetTotalNumHs(),
            atom.GetDegree(),
            int(atom.GetIsAromatic()),
            int(atom.GetHybridization()),
            int(atom.IsInRing()),
            int(atom.GetChiralTag()),
        ]
        for atom in mol.GetAtoms()
    ]


def molecule_graph(mol: Chem.Mol) -> dict[str, Any]:
    """``n_atoms``, ``atom_features``, ``edge_index`` (each bond once, source < target) and
    ``bond_orders`` (1, 1.5, 2, 3) of one molecule, atoms in RDKit order."""
    src, dst, orders = [], [], []
    for bond in mol.GetBonds():
        a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        src.append(min(a, b))
        dst.append(max(a, b))
        orders.append(bond.GetBondTypeAsDouble())
    return {
        "n_atoms": mol.GetNumAtoms(),
        "atom_features": atom_feature_rows(mol),
        "edge_index": [src, dst],
        "bond_orders": orders,
    }


__all__ = ["ATOM_FEATURES", "atom_feature_rows", "molecule_graph"]
