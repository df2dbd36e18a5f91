"""RDKit's independent verdict on a bracket SMILES: the check that labels are right.

molbench decides validity by its own valence rule when it generates molecules; this module
asks RDKit instead, so a bug in one is caught by the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")

VALID = "valid"
OVER_VALENCE = "over_valence"  # RDKit refuses to sanitise: an atom has too many bonds
UNDER_VALENCE = "under_valence"  # RDKit sanitises, but a carbon is left with radical electrons
UNPARSEABLE = "unparseable"


@dataclass(frozen=True)
class Verdict:
    """What RDKit says about one SMILES, and its canonical form for structure-level audits."""

    status: str
    canonical_smiles: str | None


def judge(smiles: str) -> Verdict:
    """Classify one SMILES as valid, over- or under-valent, keeping a canonical form for all.

    Invalid molecules are written with every hydrogen count in brackets: RDKit's default
    output drops the count of an unsanitised atom (``[C]`` and ``[CH]`` both become ``C``),
    which would merge different structures.
    """
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return Verdict(UNPARSEABLE, None)
    problems = Chem.DetectChemistryProblems(mol)
    if problems:
        mol.UpdatePropertyCache(strict=False)
        status = (
            OVER_VALENCE
            if all(p.GetType() == "AtomValenceException" for p in problems)
            else UNPARSEABLE
        )
        return Verdict(status, Chem.MolToSmiles(mol, allHsExplicit=True))
    Chem.SanitizeMol(mol)
    if any(a.GetNumRadicalElectrons() or a.GetFormalCharge() for a in mol.GetAtoms()):
        return Verdict(UNDER_VALENCE, Chem.MolToSmiles(mol, allHsExplicit=True))
    return Verdict(VALID, Chem.MolToSmiles(Chem.RemoveHs(mol)))


def judge_many(smiles: list[str]) -> list[Verdict]:
    """Batch form of :func:`judge`, the unit of work sent to worker processes."""
    return [judge(s) for s in smiles]
