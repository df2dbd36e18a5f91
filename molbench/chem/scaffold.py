"""Bemis-Murcko scaffolds: the grouping key of scaffold splits."""

from __future__ import annotations

from rdkit import Chem, RDLogger
from rdkit.Chem.Scaffolds import MurckoScaffold

RDLogger.DisableLog("rdApp.*")


def murcko_scaffold(smiles: str) -> str:
    """Canonical Bemis-Murcko scaffold of a (possibly multi-fragment) molecule.

    '' for acyclic molecules. Unparsable input is parsed without sanitisation so a
    reaction RDKit rejects still gets a key (its scaffold is then computed as written).
    """
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None:
            return ""
        mol.UpdatePropertyCache(strict=False)
        Chem.GetSymmSSSR(mol)
    return scaffold_of(mol)


def scaffold_of(mol: Chem.Mol) -> str:
    """Canonical Bemis-Murcko scaffold of a parsed molecule ('' if acyclic or it fails)."""
    try:
        core = MurckoScaffold.GetScaffoldForMol(mol)
        return Chem.MolToSmiles(core)
    except (RuntimeError, ValueError):
        return ""
