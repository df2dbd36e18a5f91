"""Molecular Transformer / OpenNMT ``translate`` output: ``n_best`` lines per test reaction.

Line ``i * n_best + j`` is the ``j``-th best prediction for the ``i``-th row of the split
(test order), written space-tokenised (``C C ( = O ) O``). The tokens are joined back;
an empty line is an empty (invalid) prediction that keeps its slot.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from molbench.errors import PredictionFormatError


def read(path: Path, rows: pa.Table, n_best: int | None = None) -> pa.Table:
    """``n_best``: lines per row; None infers it from the line count (a multiple of the rows)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise PredictionFormatError(f"{path}: not UTF-8 text ({e.reason})") from None
    n = rows.num_rows
    if n_best is None:
        if n == 0 or len(lines) % n or not lines:
            raise PredictionFormatError(
                f"{path}: {len(lines):,} lines is not a multiple of the split's {n:,} rows; "
                "give n_best (--n-best) or check the file is this split's output"
            )
        n_best = len(lines) // n
    if n_best < 1 or len(lines) != n * n_best:
        raise PredictionFormatError(
            f"{path}: {len(lines):,} lines, expected {n:,} rows x n_best {n_best} = "
            f"{n * n_best:,}, in the split's order"
        )
    ranked = [
        ["".join(line.split()) for line in lines[i * n_best : (i + 1) * n_best]] for i in range(n)
    ]
    return pa.table({"id": rows["id"], "predictions": pa.array(ranked, pa.list_(pa.string()))})
