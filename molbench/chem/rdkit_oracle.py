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


_SANITISED = Chem.SanitizeFlags.SANITIZE_NONE
_PROPERTIES = Chem.SanitizeFlags.SANITIZE_PROPERTIES
# the characters of a bracket hydrocarbon SMILES, deleted: what is left names another element
_HYDROCARBON_TEXT = str.maketrans("", "", "[]CH0123456789()=#")


def judge(smiles: str, expected: str | None = None) -> Verdict:
    """Classify one SMILES as valid, over- or under-valent, keeping a canonical form for all.

    Invalid molecules are written with every hydrogen count in brackets: RDKit's default
    output drops the count of an unsanitised atom (``[C]`` and ``[CH]`` both become ``C``),
    which would merge different structures.

    One sanitisation decides: it fails at the property (valence) step for an over-valent
    molecule, and the problems are listed only then. A sanitised molecule is
    under-valent when an atom keeps radical electrons or a charge; RDKit writes such atoms
    in brackets, so only SMILES with a bracket need the atom-by-atom look. (The input has
    no hydrogen atoms of its own, so the canonical SMILES needs no ``RemoveHs`` copy.)

    ``expected`` (a verdict the caller believes) only orders the checks so that the
    expected case writes one SMILES, not two; the verdict never depends on it.
    """
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return Verdict(UNPARSEABLE, None)
    failed = Chem.SanitizeMol(mol, catchErrors=True)
    if failed != _SANITISED:
        if failed == _PROPERTIES and not smiles.translate(_HYDROCARBON_TEXT):
            # before the valence step only clean-up ran, which changes no hydrocarbon
            problems: tuple = ()
        else:
            mol = Chem.MolFromSmiles(smiles, sanitize=False)  # untouched by the failed attempt
            problems = Chem.DetectChemistryProblems(mol)
        status = (
            OVER_VALENCE
            if all(p.GetType() == "AtomValenceException" for p in problems)
            else UNPARSEABLE
        )
        mol.UpdatePropertyCache(strict=False)
        return Verdict(status, Chem.MolToSmiles(mol, allHsExplicit=True))
    if expected == UNDER_VALENCE:
        if _radical_or_charged(mol):
            return Verdict(UNDER_VALENCE, Chem.MolToSmiles(mol, allHsExplicit=True))
        return Verdict(VALID, Chem.MolToSmiles(mol))
    canonical = Chem.MolToSmiles(mol)
    if "[" in canonical and _radical_or_charged(mol):
        return Verdict(UNDER_VALENCE, Chem.MolToSmiles(mol, allHsExplicit=True))
    return Verdict(VALID, canonical)


def _radical_or_charged(mol: Chem.Mol) -> bool:
    return any(a.GetNumRadicalElectrons() or a.GetFormalCharge() for a in mol.GetAtoms())


def judge_many(smiles: list[str]) -> list[Verdict]:
    """Batch form of :func:`judge`, the unit of work sent to worker processes."""
    return [judge(s) for s in smiles]
