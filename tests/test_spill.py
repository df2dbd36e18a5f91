"""Rows spilled in sorted runs come back in id order, for any ascending set of positions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from molbench import spill


@pytest.fixture
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "RUN_BYTES", 2_000)  # many runs
    monkeypatch.setattr(spill, "RUN_BATCH_ROWS", 7)  # several batches per run


def test_windows_return_sorted_rows_at_positions(small_runs, tmp_path: Path) -> None:
    n = 500
    ids = np.random.default_rng(0).permutation(n)
    table = pa.table({"id": ids, "payload": [[int(i)] * (int(i) % 5) for i in ids]})
    rows = spill.RowSpill(tmp_path, table.schema, ["payload"])
    for batch in table.to_batches(max_chunksize=60):
        rows.add(batch)
    keys = rows.finish()
    assert keys["id"].to_pylist() == list(range(n))
    assert len(list(tmp_path.glob("run-*.arrow"))) > 3
    expected = table.sort_by("id")
    for positions in (np.arange(n), np.arange(3, n, 7), np.array([0, 1, 499])):
        got = pa.concat_tables(rows.windows(positions, size=33))
        assert got.equals(expected.take(pa.array(positions)))
