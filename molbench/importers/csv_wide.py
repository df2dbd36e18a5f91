"""A wide CSV: ``id`` and ``prediction_1 … prediction_k`` columns, one row per reaction.

What Molecular Transformer users write from pandas. Without an ``id`` column the rows
must be the split's rows in its order. An empty cell is an empty (invalid) prediction
that keeps its slot; other columns (a pandas index, the target) are ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from molbench.errors import PredictionFormatError
from molbench.predictions import check_csv, is_list_literal

_COLUMN = re.compile(r"prediction_(\d+)")


def read(path: Path, rows: pa.Table) -> pa.Table:
    """The ranked predictions of ``prediction_1`` … ``prediction_k`` (consecutive from 1)."""
    check_csv(Path(path), rows.num_rows)
    try:
        with pacsv.open_csv(path) as reader:  # the header, to read every column as text
            header = reader.schema.names
        as_text = pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            null_values=[],
            strings_can_be_null=False,
        )
        names = pacsv.read_csv(path, convert_options=as_text)
    except (pa.ArrowInvalid, OSError) as e:
        line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PredictionFormatError(f"{path} cannot be read as CSV: {line}") from None
    columns = {int(m.group(1)): c for c in names.column_names if (m := _COLUMN.fullmatch(c))}
    if not columns or sorted(columns) != list(range(1, len(columns) + 1)):
        raise PredictionFormatError(
            f"{path}: needs columns prediction_1 … prediction_k, consecutive from 1 "
            f"(columns: {names.column_names})"
        )
    table = names.select([columns[k] for k in sorted(columns)])
    cells = [table.column(j).to_pylist() for j in range(table.num_columns)]
    ranked = [list(row) for row in zip(*cells, strict=True)]
    listed = sum(any(is_list_literal(c) for c in row) for row in ranked)
    if listed:
        raise PredictionFormatError(
            f"{path}: {listed:,} rows hold a list written as text (quotes or commas, e.g. "
            "pandas to_csv of a Python list); write one SMILES per prediction_k column"
        )
    if "id" in names.column_names:
        ids = names["id"]
    elif names.num_rows == rows.num_rows:
        ids = rows["id"]
    else:
        raise PredictionFormatError(
            f"{path}: no 'id' column and {names.num_rows:,} rows, not the split's "
            f"{rows.num_rows:,}; add an id column or write every row in the split's order"
        )
    return pa.table({"id": ids, "predictions": pa.array(ranked, pa.list_(pa.string()))})
