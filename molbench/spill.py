"""A group's rows on disk while it builds: sorted runs, read back in ``id`` order.

Rows arrive in whatever order the builder makes them; splits, hashes and Parquet files
want them sorted by ``id``. Holding the table to sort it is what a full-size build cannot
afford, so rows are buffered up to ``RUN_BYTES``, sorted, and written as one run (LZ4 Arrow
IPC, small batches); only the key columns (what splits, derive steps and audits read) stay
in memory. Once every row is in, the global order is known from the ``id`` column alone,
and :meth:`RowSpill.windows` reads any ascending set of positions back, merging the runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RUN_BYTES = 64 << 20  # rows buffered before a run is sorted and written
RUN_BATCH_ROWS = 1_000  # rows per batch inside a run: the unit read back
WINDOW_ROWS = 5_000  # rows per window handed to writers and the content hash
_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


class RowSpill:
    """Collect rows with :meth:`add`, then :meth:`finish` and read them with :meth:`windows`."""

    def __init__(self, directory: Path, schema: pa.Schema, key_columns: Sequence[str]) -> None:
        self.directory = directory
        self.schema = schema
        self.key_columns = list(dict.fromkeys(["id", *key_columns]))
        directory.mkdir(parents=True, exist_ok=True)
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0
        self._keys: list[pa.RecordBatch] = []
        self._run_sizes: list[int] = []
        self._run_of: np.ndarray | None = None  # sorted position -> run
        self._rank: np.ndarray | None = None  # sorted position -> row within its run

    def add(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_bytes += batch.nbytes
        self._keys.append(batch.select(self.key_columns))
        if self._pending_bytes >= RUN_BYTES:
            self._flush()

    def finish(self) -> pa.Table:
        """The key columns of every row, sorted by ``id`` (the order of all that follows)."""
        self._flush()
        keys = pa.Table.from_batches(self._keys, schema=self._key_schema())
        self._keys = []
        order = pc.sort_indices(keys["id"]).to_numpy()
        run_of_row = np.repeat(np.arange(len(self._run_sizes)), self._run_sizes)
        self._run_of = run_of_row[order]
        self._rank = np.empty(len(order), dtype=np.int64)
        for run in range(len(self._run_sizes)):
            where = np.flatnonzero(self._run_of == run)
            self._rank[where] = np.arange(len(where))
        return keys.take(pa.array(order))

    def windows(self, positions: np.ndarray, size: int = WINDOW_ROWS) -> Iterator[pa.Table]:
        """The rows at ``positions`` (ascending sorted positions), ``size`` rows at a time."""
        if self._run_of is None or self._rank is None:
            raise RuntimeError("RowSpill.windows before finish")
        readers = [_RunReader(self._run_path(r)) for r in range(len(self._run_sizes))]
        try:
            for start in range(0, len(positions), size):
                chosen = positions[start : start + size]
                runs, ranks = self._run_of[chosen], self._rank[chosen]
                by_run = np.argsort(runs, kind="stable")
                parts = [readers[r].take(ranks[runs == r]) for r in np.unique(runs).tolist()]
                gathered = pa.concat_tables(parts)
                back = np.empty(len(chosen), dtype=np.int64)
                back[by_run] = np.arange(len(chosen))
                yield gathered.take(pa.array(back)).combine_chunks()
        finally:
            for reader in readers:
                reader.close()

    def _flush(self) -> None:
        if not self._pending:
            return
        run = pa.Table.from_batches(self._pending, schema=self.schema).sort_by("id")
        path = self._run_path(len(self._run_sizes))
        with pa.ipc.new_file(path, self.schema, options=_OPTIONS) as writer:
            writer.write_table(run.combine_chunks(), max_chunksize=RUN_BATCH_ROWS)
        self._run_sizes.append(run.num_rows)
        self._pending, self._pending_bytes = [], 0

    def _run_path(self, run: int) -> Path:
        return self.directory / f"run-{run:05d}.arrow"

    def _key_schema(self) -> pa.Schema:
        return pa.schema([self.schema.field(c) for c in self.key_columns])


class _RunReader:
    """Rows of one sorted run by rank, reading each batch from disk when first needed."""

    def __init__(self, path: Path) -> None:
        self._file = pa.OSFile(str(path))
        self._reader = pa.ipc.open_file(self._file)
        self._cached: tuple[int, pa.RecordBatch] | None = None

    def take(self, ranks: np.ndarray) -> pa.Table:
        """Rows at ascending ``ranks``."""
        parts = []
        batch_of = ranks // RUN_BATCH_ROWS
        for index in np.unique(batch_of).tolist():
            if self._cached is None or self._cached[0] != index:
                self._cached = (index, self._reader.get_batch(index))
            local = ranks[batch_of == index] - index * RUN_BATCH_ROWS
            parts.append(self._cached[1].take(pa.array(local)))
        return pa.Table.from_batches(parts)

    def close(self) -> None:
        self._file.close()
