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
