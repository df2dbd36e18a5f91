"""Network outputs files: written with their provenance, refused when they do not fit."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molbench.errors import MolbenchError
from molbench.outputs import METADATA_KEY, read_outputs, write_outputs

IDS = pa.array(["r0", "r1", "r2"])
ABOUT = {
    "weights_sha256": "abc",
    "dataset": "reactions",
    "config": "uspto_15k",
    "split": "test",
    "content_hash": "sha256:1",
    "predict_seconds": 1.5,
    "hardware": "GPU: test",
}


def written(tmp_path: Path, outputs: dict) -> Path:
    return write_outputs(tmp_path / "out.parquet", IDS, outputs, ABOUT)


def read(path: Path, **changes: object) -> tuple[dict, dict]:
    expected = {"weights_sha256": "abc", "ids": IDS, "config": "uspto_15k", "split": "test",
                "content_hash": "sha256:1", **changes}  # fmt: skip
    return read_outputs(path, **expected)


def test_round_trip_keeps_ragged_and_equal_length_lists_as_one_row_each(tmp_path: Path) -> None:
    ragged = [[[1, 2, 1], [3, 4, 2, 5, 6, 1]], [], [[0, 1, 3]]]
    same_length = [["CC", "CO"], ["N", "O"], ["C", "S"]]
    path = written(tmp_path, {"ranked_edits": ragged, "predictions": same_length})
    columns, about = read(path)
    assert columns["ranked_edits"].shape == (3,) and columns["ranked_edits"].tolist() == ragged
    assert columns["predictions"].shape == (3,) and columns["predictions"].tolist() == same_length
    assert about["hardware"] == "GPU: test" and about["n_rows"] == 3
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weights_sha256": "other"}, "made by other weights"),
        ({"split": "validation"}, "made on another split"),
        ({"config": "uspto_mit"}, "made on another config"),
        ({"content_hash": "sha256:2"}, "made on other dataset content"),
        ({"ids": pa.array(["r0", "r2", "r1"])}, "not the ids of uspto_15k/test in order"),
        ({"ids": pa.array(["r0", "r1"])}, "not the ids of uspto_15k/test in order"),
    ],
)
def test_outputs_of_another_model_split_or_data_are_refused(
    tmp_path: Path, change: dict, message: str
) -> None:
    path = written(tmp_path, {"predictions": [["C"], ["CC"], ["CCC"]]})
    with pytest.raises(MolbenchError, match=message):
        read(path, **change)


def test_a_parquet_file_without_outputs_metadata_or_a_corrupt_file_is_refused(
    tmp_path: Path,
) -> None:
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"id": IDS, "predictions": [["C"], ["C"], ["C"]]}), plain)
    with pytest.raises(MolbenchError, match="no molbench outputs metadata"):
        read(plain)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    with pytest.raises(MolbenchError, match="not a readable Parquet outputs file"):
        read(corrupt)
    future = written(tmp_path, {"predictions": [["C"], ["C"], ["C"]]})
    table = pq.read_table(future)
    meta = json.loads(table.schema.metadata[METADATA_KEY]) | {"format": 99}
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(meta)}), future)
    with pytest.raises(MolbenchError, match="outputs format 99"):
        read(future)


def test_ids_of_another_string_width_match_and_an_id_output_column_is_refused(
    tmp_path: Path,
) -> None:
    path = written(tmp_path, {"predictions": [["C"], ["CC"], ["CCC"]]})
    columns, _ = read(path, ids=IDS.cast(pa.large_string()))
    assert columns["predictions"].tolist() == [["C"], ["CC"], ["CCC"]]
    with pytest.raises(ValueError, match="may not be called id"):
        write_outputs(tmp_path / "x.parquet", IDS, {"id": [1, 2, 3]}, ABOUT)


def test_outputs_metadata_that_is_not_a_json_object_is_refused(tmp_path: Path) -> None:
    path = written(tmp_path, {"predictions": [["C"], ["CC"], ["CCC"]]})
    table = pq.read_table(path)
    for raw in (b"[1, 2]", b"not json"):
        pq.write_table(table.replace_schema_metadata({METADATA_KEY: raw}), path)
        with pytest.raises(MolbenchError, match="not a JSON object"):
            read(path)
