import pytest

from molbench.chem import opsin
from molbench.chem.generate import all_isomers
from molbench.chem.iupac import name
from molbench.chem.notation import write
from molbench.chem.opsin import canonical, opsin_available, round_trip
from tests.chem.test_iupac import CURATED, YNES, from_smiles

needs_opsin = pytest.mark.skipif(opsin_available() is not None, reason=str(opsin_available()))


@needs_opsin
def test_every_name_up_to_c7_and_the_curated_list_parse_back() -> None:
    """One OPSIN batch: each generated name must denote exactly the structure it was made from."""
    isomers = [m for n in range(1, 8) for m in all_isomers(n)]
    curated = [from_smiles(s) for s, _ in CURATED + YNES]
    mols = isomers + curated
    names = [name(m) for m in mols] + ["2-methylpropane", "not a chemical name"]
    expected = [write(m).smiles for m in mols] + ["CCCC", "C"]
    result = round_trip(names, expected)
    assert result.checked == len(mols) + 2
    assert result.agreed == len(mols), result.disagreements[:5]
    # The two planted misses prove the comparison can fail: a wrong structure, no parse.
    assert [(n, got) for n, _, got in result.disagreements] == [
        ("2-methylpropane", "CC(C)C"),
        ("not a chemical name", ""),
    ]
    assert result.rate == pytest.approx(len(mols) / (len(mols) + 2))
    assert result.opsin_version


def test_round_trip_checks_lengths_before_starting_java() -> None:
    with pytest.raises(ValueError):
        round_trip(["methane"], [])


def test_canonical_smiles() -> None:
    assert canonical("[CH3][CH3]") == canonical("CC") == "CC"
    assert canonical("") == canonical("C(") == ""


def test_missing_java_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opsin.shutil, "which", lambda _: None)
    assert "Java not found" in str(opsin_available())
    with pytest.raises(opsin.OpsinError, match="Java not found"):
        opsin.parse_names(["methane"])
