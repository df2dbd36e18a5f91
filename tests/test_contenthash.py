"""The streamed content hash equals the definition: sha256 over one IPC batch of all rows."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from molbench.contenthash import ContentHasher, canonical, content_hash


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return sink.getvalue()


def reference(table: pa.Table, splits: dict) -> str:
    """The hash as first defined: the whole table serialised in memory."""
    digest = hashlib.sha256(b"molbench-content-v1\n")
    digest.update(_ipc(canonical(table).sort_by("id")))
    for config in sorted(splits):
        for split in sorted(splits[config]):
            ids = table["id"].take(pa.array(splits[config][split])).sort()
            digest.update(f"\n{config}/{split}\n".encode())
            digest.update(_ipc(pa.table({"id": ids})))
    return "sha256:" + digest.hexdigest()


def awkward_table(n: int = 37) -> pa.Table:
    """Nulls, empty strings, bits, nested lists (some all empty), structs with null fields."""
    rng = np.random.default_rng(0)
    edit = pa.struct([("a", pa.int32()), ("b", pa.float32())])
    return pa.table(
        {
            "id": [f"r{i:03d}" for i in range(n)],
            "text": [None if i % 5 == 0 else "x" * (i % 4) for i in range(n)],
            "empty": [""] * n,
            "flag": [bool(i % 3) for i in range(n)],
            "maybe": [None if i % 7 == 0 else bool(i % 2) for i in range(n)],
            "small": pa.array(rng.integers(0, 100, n), pa.int16()),
            "real": pa.array(rng.random(n), pa.float32()),
            "nested": pa.array(
                [[[1, 2], [3]] if i % 2 else [] for i in range(n)], pa.list_(pa.list_(pa.int16()))
            ),
            "no_items": pa.array([[] for _ in range(n)], pa.list_(pa.list_(pa.int16()))),
            "edits": pa.array([[{"a": i, "b": None}] * (i % 3) for i in range(n)], pa.list_(edit)),
            "bits": pa.array(
                [[True, False, None][: i % 4] for i in range(n)], pa.list_(pa.bool_())
            ),
        }
    )


@pytest.mark.parametrize("windows", [[37], [1, 36], [5, 8, 3, 21], [9, 9, 9, 9, 1]])
def test_windows_of_any_size_give_the_defined_hash(windows, tmp_path: Path) -> None:
    table = awkward_table()
    splits = {"c": {"train": np.arange(0, 37, 2), "test": np.arange(1, 37, 2)}}
    hasher = ContentHasher(table.schema, tmp_path)
    start = 0
    for size in windows:
        hasher.add(table.slice(start, size))
        start += size
    assert hasher.finish(table["id"], splits) == reference(table, splits)
    assert list(tmp_path.iterdir()) == []  # scratch buffers removed


def test_one_shot_hash_sorts_and_tells_tables_apart() -> None:
    table = awkward_table()
    splits = {"c": {"all": np.arange(37)}}
    shuffled = table.take(pa.array(np.random.default_rng(1).permutation(37)))
    assert content_hash(shuffled, splits) == reference(table, splits)
    changed = table.set_column(2, "empty", pa.array(["y"] + [""] * 36))
    assert content_hash(changed, splits) != content_hash(table, splits)
