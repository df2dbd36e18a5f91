"""The molt5 importer on a hand-written caption2smiles file (4 rows, not in split order)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import molbench
from molbench import store
from molbench.errors import PredictionFormatError
from molbench.evaluate import evaluate_table
from molbench.importers import IMPORTERS
from molbench.importers.molt5 import read
from molbench.tasks.text import TextTask

FIXTURE = Path(__file__).parents[1] / "fixtures" / "importers" / "molt5_caption2smiles.tsv"
HEADER = "description\tground truth\toutput\n"
# The split, in its own order; the fixture lists butene first, with its backslash doubled.
SPLIT = {
    "id": ["m0", "m1", "m2", "m3"],
    "description": [
        "The molecule is ethanol.",
        "The molecule is acetic acid.",
        "The molecule is an alkene, (Z)-but-2-ene.",
        "The molecule is benzene.",
    ],
    "smiles": ["CCO", "CC(=O)O", "C/C=C\\C", "c1ccccc1"],
    "smiles_as_published": ["CCO", "CC(=O)O", "C/C=C\\C", "c1ccccc1"],
}


def _rows(**changes: list) -> pa.Table:
    return pa.table(SPLIT | changes)


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "caption2smiles.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_come_back_in_split_order_with_outputs_as_written() -> None:
    table = IMPORTERS["molt5"](FIXTURE, _rows())
    assert table.column_names == ["id", "smiles"]
    assert table["id"].to_pylist() == ["m0", "m1", "m2", "m3"]
    # the empty output and "SMILES plus a word" are kept: validity decides what they are worth
    assert table["smiles"].to_pylist() == ["OCC", "", "C/C=C/C", "c1ccccc1 benzene"]


def test_imported_file_scores_with_molbench_validity_and_molt5s() -> None:
    table = read(FIXTURE, _rows())
    scored = TextTask().score(
        _rows(), {"smiles": np.array(table["smiles"].to_pylist(), dtype=object)}, seed=0
    )
    m = scored["metrics"]
    assert m["exact_match"] == 0.25  # ethanol only: the alkene's stereo is flipped
    assert m["validity"] == 0.5  # "" and "c1ccccc1 benzene" are invalid here ...
    assert m["validity_molt5"] == 1.0  # ... and valid for MolT5
    # Levenshtein against the published strings: 2 (OCC/CCO), 7 (""), 1 (/ for \), 8
    assert m["levenshtein"] == pytest.approx((2 + 7 + 1 + 8) / 4)


def test_a_repeated_description_in_the_split_is_told_apart_by_the_ground_truth(
    tmp_path: Path,
) -> None:
    rows = _rows(description=["same"] * 2 + SPLIT["description"][2:])
    butene, _, benzene, _ = _fixture_lines()
    lines = ["same\tCC(=O)O\tCC(=O)O", "same\tCCO\tCCO", butene, benzene]
    path = _file(tmp_path, HEADER + "\n".join(lines) + "\n")
    assert read(path, rows)["smiles"].to_pylist()[:2] == ["CCO", "CC(=O)O"]


def _fixture_lines() -> list[str]:
    return FIXTURE.read_text(encoding="utf-8").splitlines()[1:]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ls: ls[:3], "outputs for 3 of the split's 4 rows"),
        (lambda ls: [*ls, ls[1]], "1 rows repeat the description of an earlier row"),
        (lambda ls: [*ls[:3], "The molecule is vinegar.\tCC(=O)O\tCC"], "match no row"),
        (lambda ls: [*ls[:3], "The molecule is acetic acid.\tCCN\tCC"], "`ground truth` is not"),
        (lambda ls: [*ls[:3], "The molecule is acetic acid.\tCC(=O)O"], "exactly 3 tab-sep"),
    ],
)
def test_unmatched_repeated_or_broken_rows_are_one_line_errors(
    tmp_path: Path, edit: Callable[[list[str]], list[str]], message: str
) -> None:
    path = _file(tmp_path, HEADER + "\n".join(edit(_fixture_lines())) + "\n")
    with pytest.raises(PredictionFormatError, match=message) as error:
        read(path, _rows())
    assert "\n" not in str(error.value)


def test_wrong_header_and_wrong_config_are_errors(tmp_path: Path) -> None:
    with pytest.raises(PredictionFormatError, match="expected the molt5 header"):
        read(_file(tmp_path, "id\tsmiles\nm0\tCCO\n"), _rows())
    with pytest.raises(PredictionFormatError, match="use a chebi20 config"):
        read(FIXTURE, pa.table({"id": [1], "smiles": ["CC"], "name": ["ethane"]}))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe" + HEADER.encode())
    with pytest.raises(PredictionFormatError, match="not UTF-8"):
        read(binary, _rows())


def test_a_file_in_molt5s_released_form_scores_against_a_real_build(
    raw_fixtures: Path, tmp_path: Path
) -> None:
    built = store.BuiltDataset(
        molbench.build(
            "text",
            {"splits": "validation,test"},
            configs=["chebi20"],
            out=tmp_path,
            source=raw_fixtures,
            workers=1,
        ).path
    )
    with gzip.open(raw_fixtures / "chebi20" / "test.txt.gz", "rt", encoding="utf-8") as f:
        raw = [line.rstrip("\n").split("\t") for line in f][1:]  # CID, SMILES, description
    assert any("\\\\" in smiles for _, smiles, _ in raw)  # the upstream doubled backslashes
    # Reversed, no CID; ground truth as the raw file writes it (doubled) on even lines,
    # collapsed (as MolT5's released files do) on odd ones. Outputs: 6 right (as published),
    # one empty, one "SMILES words", four wrong molecules.
    outputs = [s.replace("\\\\", "\\") for _, s, _ in raw[:6]] + ["", "CCO ethanol"]
    outputs += ["C" * (k + 1) for k in range(len(raw) - 8)]
    lines = [
        f"{d}\t{s if k % 2 else s.replace(chr(92) * 2, chr(92))}\t{o}"
        for k, ((_, s, d), o) in enumerate(zip(raw, outputs, strict=True))
    ]
    path = _file(tmp_path, HEADER + "\n".join(reversed(lines)) + "\n")
    test = built.table("chebi20", "test")
    table = IMPORTERS["molt5"](path, test)
    by_cid = dict(zip([f"chebi20_{c}" for c, _, _ in raw], outputs, strict=True))
    assert table["smiles"].to_pylist() == [by_cid[i] for i in test["id"].to_pylist()]
    result = evaluate_table(table, built, "chebi20", "test", str(path))
    m = result["metrics"]
    assert m["exact_match"] == pytest.approx(6 / 12)
    assert m["validity"] == pytest.approx(10 / 12) and m["validity_molt5"] == pytest.approx(1.0)
    assert result["protocol"]["generation"]["references"].startswith("smiles_as_published")
