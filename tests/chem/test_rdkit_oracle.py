import pytest

from molbench.chem.rdkit_oracle import (
    OVER_VALENCE,
    UNDER_VALENCE,
    UNPARSEABLE,
    VALID,
    judge,
)


@pytest.mark.parametrize(
    ("smiles", "status", "canonical"),
    [
        ("[CH4]", VALID, "C"),
        ("[CH2]=[C]=[CH2]", VALID, "C=C=C"),
        ("[CH3][CH4]", OVER_VALENCE, "[CH3][CH4]"),
        ("[CH3]=[CH3]", OVER_VALENCE, "[CH3]=[CH3]"),
        ("[CH2][CH3]", UNDER_VALENCE, "[CH2][CH3]"),
        ("[CH3][CH3", UNPARSEABLE, None),
    ],
)
def test_verdicts(smiles: str, status: str, canonical: str | None) -> None:
    verdict = judge(smiles)
    assert verdict.status == status
    assert verdict.canonical_smiles == canonical


def test_invalid_forms_keep_every_hydrogen_count() -> None:
    """RDKit's default writer merges [C] and [CH] of unsanitised atoms; ours must not."""
    a = judge("[CH2]=[CH][C]([CH3])=[C]=[C][C]([CH3])=[CH3]").canonical_smiles
    b = judge("[CH2]=[CH][C]([CH3])=[C]=[CH][C](=[CH3])[CH3]").canonical_smiles
    assert a != b


def _reference_judge(smiles: str) -> tuple[str, str | None]:
    """The verdict by its definition: every problem listed, every atom looked at."""
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return UNPARSEABLE, None
    problems = Chem.DetectChemistryProblems(mol)
    if problems:
        mol.UpdatePropertyCache(strict=False)
        valence = all(p.GetType() == "AtomValenceException" for p in problems)
        return (OVER_VALENCE if valence else UNPARSEABLE), Chem.MolToSmiles(mol, allHsExplicit=True)
    Chem.SanitizeMol(mol)
    if any(a.GetNumRadicalElectrons() or a.GetFormalCharge() for a in mol.GetAtoms()):
        return UNDER_VALENCE, Chem.MolToSmiles(mol, allHsExplicit=True)
    return VALID, Chem.MolToSmiles(Chem.RemoveHs(mol))


def test_one_sanitisation_gives_the_verdict_of_the_full_check() -> None:
    """The shortcuts in ``judge`` (one sanitisation, atoms looked at only when the SMILES
    has a bracket) agree with the definition on every kind of input, the dataset's
    molecules and their corruptions included."""
    from molbench.chem.generate import all_isomers, corruptions
    from molbench.chem.notation import write

    smiles = [
        "[CH3-]",  # a charge, no radical: under-valent by the rule
        "[CH4+]",
        "[CH3][C@H]([CH3])[CH2][CH3]",  # a bracket for chirality only: still valid
        "c1cccc1",  # cannot be kekulised: not a valence problem
        "[CH3][CH3",
        "[CH2]",
        "[C]",
        "[CH3]N(=O)=O.[CH5]",  # clean-up rewrites the nitro group, then valence fails
    ]
    for mol in all_isomers(6):
        smiles.append(write(mol).smiles)
        smiles.extend(write(v).smiles for vs in corruptions(mol).values() for v in vs)
    verdicts = {s: _reference_judge(s) for s in smiles}
    assert {status for status, _ in verdicts.values()} == {
        VALID,
        OVER_VALENCE,
        UNDER_VALENCE,
        UNPARSEABLE,
    }
    for s, expected in verdicts.items():
        for hint in (None, VALID, OVER_VALENCE, UNDER_VALENCE):  # the order of checks only
            verdict = judge(s, expected=hint)
            assert (verdict.status, verdict.canonical_smiles) == expected, (s, hint)
