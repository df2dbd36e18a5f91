"""Importers on tiny hand-written files in each released format."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from molbench.errors import ParameterError, PredictionFormatError
from molbench.importers import IMPORTERS, import_predictions

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "importers"


def _rows(n: int) -> pa.Table:
    return pa.table({"id": [f"r{i}" for i in range(n)]})


def _ranked(table: pa.Table) -> dict[str, list[str]]:
    return {row["id"]: row["predictions"] for row in table.to_pylist()}


def test_the_registry_names_every_format() -> None:
    assert {"opennmt", "csv-wide", "cbond"} <= set(IMPORTERS)
    with pytest.raises(PredictionFormatError, match="unknown predictions format 'onmt'"):
        import_predictions("onmt", FIXTURES / "tiny_opennmt.txt", _rows(2))
    with pytest.raises(ParameterError, match="takes n_best, not keep"):
        import_predictions("opennmt", FIXTURES / "tiny_opennmt.txt", _rows(2), keep="x")


def test_opennmt_joins_tokens_and_keeps_empty_lines_in_their_slot() -> None:
    table = import_predictions("opennmt", FIXTURES / "tiny_opennmt.txt", _rows(2))
    assert _ranked(table) == {
        "r0": ["CCO", "CC(=O)O", ""],  # n_best 3 inferred from 6 lines / 2 rows
        "r1": ["CCN", "CCN", "[Na+].[Cl-]"],
    }
    as_two = import_predictions("opennmt", FIXTURES / "tiny_opennmt.txt", _rows(3), n_best=2)
    assert _ranked(as_two)["r1"] == ["", "CCN"]
    with pytest.raises(PredictionFormatError, match="not a multiple of the split's 4 rows"):
        import_predictions("opennmt", FIXTURES / "tiny_opennmt.txt", _rows(4))
    with pytest.raises(PredictionFormatError, match="expected 2 rows x n_best 2 = 4"):
        import_predictions("opennmt", FIXTURES / "tiny_opennmt.txt", _rows(2), n_best=2)


def test_csv_wide_reads_columns_in_rank_order_and_keeps_empty_cells() -> None:
    table = import_predictions("csv-wide", FIXTURES / "tiny_wide.csv", _rows(2))
    assert _ranked(table) == {"r1": ["CCN", "", "CCN"], "r0": ["OCC", "CC", "CCO"]}


def test_csv_wide_without_ids_needs_the_split_order(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("prediction_1,prediction_2,target\nCCO,CC,x\nN,,y\n")
    assert _ranked(import_predictions("csv-wide", path, _rows(2))) == {
        "r0": ["CCO", "CC"],
        "r1": ["N", ""],
    }
    with pytest.raises(PredictionFormatError, match="no 'id' column and 2 rows"):
        import_predictions("csv-wide", path, _rows(3))
    path.write_text("prediction_1,prediction_3\nCCO,CC\n")
    with pytest.raises(PredictionFormatError, match="consecutive from 1"):
        import_predictions("csv-wide", path, _rows(1))


CBOND_ROWS = pa.table(
    {
        "id": ["r0", "r1", "r2"],
        "source_line": [1, 3, 2],  # r1 is the file's third line
        "mapped_rxn": [
            "[CH3:1][C:2](=[O:3])[Cl:4].[NH3:5].[OH2:6]>>[CH3:1][C:2](=[O:3])[NH2:5]",
            "[CH3:1][NH2:5].[Cl:8][CH2:9][CH3:10].[ClH:11]>>[CH3:1][NH:5][CH2:9][CH3:10].[ClH:11]",
            "[CH4:1]>>[CH4:1]",
        ],
        "atom_map": [[1, 2, 3, 4, 5, 6], [1, 5, 8, 9, 10, 11], [1]],
        "in_reactant": [[True] * 5 + [False], [True] * 6, [True]],  # water: a reagent
    }
)


def test_cbond_replays_each_edit_set_on_its_lines_mapped_reactants() -> None:
    mixture = _ranked(import_predictions("cbond", FIXTURES / "tiny.cbond", CBOND_ROWS))
    # acyl chloride + ammonia: C-Cl broken, C-N made; the chloride takes a hydrogen (HCl)
    assert mixture["r0"] == ["CC(N)=O.Cl.O", "CC(O)Cl.N.O", ""]  # empty candidate keeps its slot
    assert mixture["r1"] == ["CCNC.Cl.Cl"]
    assert mixture["r2"] == []  # an empty line: no candidates
    product = _ranked(
        import_predictions("cbond", FIXTURES / "tiny.cbond", CBOND_ROWS, keep="reactants")
    )
    # leaving group and reagent dropped; the untouched HCl reactant kept (an amine salt)
    assert product["r0"][0] == "CC(N)=O" and product["r1"] == ["CCNC.Cl"]
    largest = _ranked(
        import_predictions("cbond", FIXTURES / "tiny.cbond", CBOND_ROWS, keep="largest")
    )
    assert largest["r1"] == ["CCNC"]


def test_cbond_refuses_what_it_cannot_read() -> None:
    with pytest.raises(PredictionFormatError, match="edit '1-2-7' is not atom-atom-bond"):
        import_predictions("cbond", FIXTURES / "bad.cbond", CBOND_ROWS.slice(0, 1))
    with pytest.raises(PredictionFormatError, match="source lines up to 3"):
        import_predictions("cbond", FIXTURES / "bad.cbond", CBOND_ROWS)
    with pytest.raises(PredictionFormatError, match="keep must be one of mixture"):
        import_predictions("cbond", FIXTURES / "tiny.cbond", CBOND_ROWS, keep="all")
    with pytest.raises(PredictionFormatError, match="needs the split's source_line"):
        import_predictions("cbond", FIXTURES / "tiny.cbond", _rows(3))


def test_cbond_authors_replay_rebuilds_candidates_as_their_scorer() -> None:
    path = FIXTURES / "tiny.cbond"
    authors = _ranked(import_predictions("cbond", path, CBOND_ROWS, replay="authors"))
    # hydrogens from default valences; the trailing empty candidate stripped as they strip
    assert authors["r0"] == ["CC(N)=O.Cl.O", "CC(O)Cl.N.O"]
    # both chlorides kept: the subset rule counts copies, so two HCl need two
    assert authors["r1"] == ["CCNC.Cl.Cl"] and authors["r2"] == []
    with pytest.raises(PredictionFormatError, match="authors: keep mixture only"):
        import_predictions("cbond", path, CBOND_ROWS, keep="reactants", replay="authors")


IMIDAZOLONE = "[Cl:1][CH2:2][c:3]1[cH:4][nH:5][c:6](=[O:7])[nH:8]1.[CH3:9][NH:10][CH3:11]"
AUTHORS_ROWS = pa.table(
    {
        "id": ["a0", "a1", "a2"],
        "source_line": [1, 2, 3],
        "mapped_rxn": [
            IMIDAZOLONE + ">>[CH3:9][N:10]([CH3:11])[CH2:2][c:3]1[cH:4][nH:5][c:6](=[O:7])[nH:8]1",
            IMIDAZOLONE + ">>[CH3:9][NH:10][CH3:11]",  # a product the edits do not give
            CBOND_ROWS["mapped_rxn"][0].as_py(),
        ],
        "atom_map": [list(range(1, 12)), list(range(1, 12)), [1, 2, 3, 4, 5, 6]],
        "in_reactant": [[True] * 11, [True] * 11, [True] * 5 + [False]],
    }
)


def test_cbond_authors_replay_gives_the_first_candidate_their_two_tries() -> None:
    """Their scorer counts slot 1 right when the aromatic or the Kekulé replay holds the
    products, and drops empty candidates at the line's start (the slots shift up)."""
    path = FIXTURES / "authors.cbond"
    authors = _ranked(import_predictions("cbond", path, AUTHORS_ROWS, replay="authors"))
    kekule, aromatic = "CN(C)Cc1c[nH]c(=O)[nH]1.Cl", "CN(C)CC1=NC(=O)N=C1.Cl"
    # the aromatic replay loses the ring's NH hydrogens; the Kekulé one keeps them
    assert authors["a0"] == [kekule, kekule]  # later candidates: the Kekulé reactants only
    assert authors["a1"] == [aromatic]  # neither try holds the products: the first one kept
    assert authors["a2"] == ["CC(N)=O.Cl.O"]
    molbench = _ranked(import_predictions("cbond", path, AUTHORS_ROWS))
    assert molbench["a2"] == ["", "", "CC(N)=O.Cl.O", ""]  # by position, every slot kept


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("id,prediction_1,prediction_1\nr0,CCO,CC\nr1,CC,CCO\n", "prediction_1"),  # duplicate
        ("id,prediction_1\nr0,\"['CCO', 'CC']\"\nr1,CC\n", "list written as text"),
    ],
)
def test_csv_wide_refuses_duplicate_columns_and_list_literals(
    tmp_path: Path, text: str, why: str
) -> None:
    """The wide CSV gets the predictions files' checks: one line, never a silent zero."""
    path = tmp_path / "wide.csv"
    path.write_text(text)
    with pytest.raises(PredictionFormatError, match=why):
        import_predictions("csv-wide", path, _rows(2))
