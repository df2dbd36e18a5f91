"""Streamed shards are byte-identical to writing the whole split table at once."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from molbench import store


def whole_table_shards(table: pa.Table, directory: Path, split: str) -> list[str]:
    """How shards were written while builds held the table: slice, then write_table."""
    count = max(1, -(-table.num_rows // store.MAX_ROWS_PER_SHARD))
    paths = []
    for index in range(count):
        rel = f"c/{store.shard_name(split, index, count)}"
        (directory / "c").mkdir(parents=True, exist_ok=True)
        part = table.slice(index * store.MAX_ROWS_PER_SHARD, store.MAX_ROWS_PER_SHARD)
        pq.write_table(part, directory / rel, **store.PARQUET_OPTIONS)
        paths.append(rel)
    return paths


@pytest.mark.parametrize("window", [1, 7, 40, 1000])
def test_streamed_shards_match_whole_table_writes(window, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(store, "MAX_ROWS_PER_SHARD", 250)
    monkeypatch.setitem(store.PARQUET_OPTIONS, "row_group_size", 60)
    table = pa.table(
        {"id": [f"{i:04d}" for i in range(613)], "v": [[i] * (i % 9) for i in range(613)]}
    )
    expected = whole_table_shards(table, tmp_path / "old", "train")
    windows = (table.slice(i, window) for i in range(0, table.num_rows, window))
    got = store.write_shards(windows, table.num_rows, tmp_path / "new", "c", "train")
    assert got == expected == ["c/train-00000-of-00003.parquet", *got[1:]]
    for rel in got:
        assert (tmp_path / "new" / rel).read_bytes() == (tmp_path / "old" / rel).read_bytes()
    assert [pq.ParquetFile(tmp_path / "new" / r).metadata.num_row_groups for r in got] == [5, 5, 2]


def test_too_few_rows_is_an_error(tmp_path) -> None:
    table = pa.table({"id": ["a", "b"]})
    with pytest.raises(ValueError, match="1 rows given, expected 2"):
        store.write_shards([table.slice(0, 1)], 2, tmp_path, "c", "train")
