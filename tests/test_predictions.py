"""Strict predictions validation: every problem named at once, in one line."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from molbench.errors import PredictionFormatError
from molbench.predictions import align, read_predictions

TRUTH = pa.chunked_array([pa.array([10, 11, 12, 13], type=pa.int64())])
COLUMNS = {"score": "probability", "label": "binary"}
REQUIRED = (("score", "label"),)


def check(table: pa.Table) -> dict[str, np.ndarray]:
    return align(table, TRUTH, COLUMNS, "preds.csv", REQUIRED)


def test_good_predictions_are_reordered_to_the_split() -> None:
    aligned = check(pa.table({"id": [13, 10, 12, 11], "score": [0.3, 0.0, 0.2, 0.1]}))
    assert aligned["score"].tolist() == [0.0, 0.1, 0.2, 0.3]


def test_duplicated_missing_unknown_and_nan_are_reported_together() -> None:
    table = pa.table({"id": [10, 10, 12, 99], "score": [0.5, 0.5, float("nan"), 0.2]})
    with pytest.raises(PredictionFormatError) as caught:
        check(table)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in (
        "1 duplicated id(s) (first: 10)",
        "1 unknown id(s) (first: 99)",
        "2 missing id(s) (first: 11, 13)",
        "1 NaN/empty score(s) (ids 12)",
    ):
        assert fragment in message


def test_out_of_range_scores_and_non_binary_labels() -> None:
    with pytest.raises(PredictionFormatError, match=r"2 score\(s\) outside 0..1"):
        check(pa.table({"id": [10, 11, 12, 13], "score": [1.5, -0.1, 0.2, 0.3]}))
    with pytest.raises(PredictionFormatError, match=r"1 label\(s\) not 0 or 1"):
        check(pa.table({"id": [10, 11, 12, 13], "label": [1, 0, 2, 1]}))


def test_wrong_types_and_missing_columns() -> None:
    with pytest.raises(PredictionFormatError, match="expected numbers"):
        check(pa.table({"id": [10, 11, 12, 13], "score": ["a", "b", "c", "d"]}))
    with pytest.raises(PredictionFormatError, match="type string, expected int64"):
        check(pa.table({"id": ["x", "y", "z", "w"], "score": [0.1] * 4}))
    with pytest.raises(PredictionFormatError, match="needs a column 'score' or 'label'"):
        check(pa.table({"id": [10, 11, 12, 13], "prob": [0.1] * 4}))
    with pytest.raises(PredictionFormatError, match="no 'id' column"):
        check(pa.table({"score": [0.1] * 4}))


def test_reading_files(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("id,score\n10,0.5\n")
    assert read_predictions(tmp_path / "p.csv").num_rows == 1
    (tmp_path / "p.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(PredictionFormatError, match="cannot be read as parquet"):
        read_predictions(tmp_path / "p.parquet")
    (tmp_path / "p.txt").write_text("id score")
    with pytest.raises(PredictionFormatError, match=r"must be \.parquet or \.csv"):
        read_predictions(tmp_path / "p.txt")
    with pytest.raises(PredictionFormatError, match="does not exist"):
        read_predictions(tmp_path / "nope.csv")


def _ranked_csv(tmp_path: Path, cells: list[str]) -> dict[str, np.ndarray]:
    """Read a one-column reactions CSV (as written by hand or pandas) and align it."""
    path = tmp_path / "ranked.csv"
    body = "".join(f'r{i},"{c}"\n' for i, c in enumerate(cells))
    path.write_text("id,predictions\n" + body)
    ids = pa.array([f"r{i}" for i in range(len(cells))])
    return align(read_predictions(path), ids, {"predictions": "ranked_text"}, "f", [])


def test_csv_candidates_split_at_single_spaces_without_moving_up(tmp_path: Path) -> None:
    ranked = _ranked_csv(tmp_path, ["CC  CCO", "CCO CC", ""])["predictions"]
    # two spaces: an empty candidate in slot 2, so CCO stays third (not moved up to second)
    assert ranked[0] == ["CC", "", "CCO"]
    assert ranked[1] == ["CCO", "CC"] and ranked[2] == []


def test_a_pandas_written_list_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(PredictionFormatError) as e:
        _ranked_csv(tmp_path, ["['CCO', 'CC']", "CCO"])
    message = str(e.value)
    assert "1 predictions cell(s) look like a written list" in message and "r0" in message
    assert "' '.join(candidates)" in message and "\n" not in message
    with pytest.raises(PredictionFormatError, match="look like a written list"):
        _ranked_csv(tmp_path, ['[""CCO""]'])  # JSON, CSV-quoted


def test_ranked_ids_read_integer_lists_as_the_ids_strings() -> None:
    table = pa.table({"id": [11, 10, 13, 12], "head": [[10, 12], [11], [], None]})
    with pytest.raises(PredictionFormatError, match="1 empty head list"):
        align(table, TRUTH, {"head": "ranked_ids"}, "f", [])
    table = table.set_column(1, "head", pa.array([[10, 12], [11], [], [13]]))
    aligned = align(table, TRUTH, {"head": "ranked_ids"}, "f", [])["head"]
    assert aligned.tolist() == [["11"], ["10", "12"], ["13"], []]
    floats = pa.table({"id": [10, 11, 12, 13], "head": [[1.0]] * 4})
    with pytest.raises(PredictionFormatError, match="expected a list of strings"):
        align(floats, TRUTH, {"head": "ranked_ids"}, "f", [])


def test_a_csv_of_one_id_per_head_reads_as_ranked_ids(tmp_path: Path) -> None:
    path = tmp_path / "heads.csv"
    path.write_text("id,head\n10,11\n11,10\n12,13\n13,12\n")  # pyarrow reads int64 cells
    aligned = align(read_predictions(path), TRUTH, {"head": "ranked_ids"}, "f", [])["head"]
    assert aligned.tolist() == [["11"], ["10"], ["13"], ["12"]]
