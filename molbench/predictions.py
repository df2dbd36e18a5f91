"""Reading and strictly validating predictions files before any metric runs.

Every problem found is reported at once, in one line, with counts and the first few
offending ids, so a user fixes the file in one go.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from molbench.errors import PredictionFormatError

SHOW = 3  # offending ids named per problem


def read_predictions(path: str | os.PathLike[str]) -> pa.Table:
    """A Parquet or CSV predictions file as an Arrow table."""
    file = Path(path)
    if not file.is_file():
        raise PredictionFormatError(f"predictions file {file} does not exist")
    suffix = file.suffix.lower()
    try:
        if suffix == ".parquet":
            return pq.read_table(file)
        if suffix == ".csv":
            return pacsv.read_csv(file)
    except (pa.ArrowInvalid, OSError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PredictionFormatError(
            f"{file} cannot be read as {suffix[1:]}: {first_line}"
        ) from None
    raise PredictionFormatError(f"{file}: predictions must be .parquet or .csv, not {suffix!r}")


def align(
    predictions: pa.Table,
    truth_ids: pa.Array | pa.ChunkedArray,
    columns: Mapping[str, str],
    source: str,
    required: Sequence[Sequence[str]],
    expected: str = "",
) -> dict[str, np.ndarray]:
    """Check ids and value columns, then return each column reordered to ``truth_ids``.

    ``columns`` maps a column name to its kind: ``"probability"`` (float in [0, 1]) or
    ``"binary"`` (integer 0/1). ``required`` lists alternatives: at least one column of
    each group must be present (e.g. ``[["score", "label"]]``); ``expected`` describes
    the format in error messages.
    """
    problems: list[str] = []
    if "id" not in predictions.column_names:
        raise PredictionFormatError(
            f"{source}: no 'id' column (columns: {predictions.column_names})"
        )
    for group in required:
        if not any(c in predictions.column_names for c in group):
            raise PredictionFormatError(
                f"{source}: needs a column {' or '.join(repr(c) for c in group)} "
                f"(columns: {predictions.column_names}). {expected}".rstrip()
            )
    ids = _as_id_array(predictions["id"], truth_ids.type, source)
    id_list = ids.to_pylist()
    truth_list = truth_ids.to_pylist()
    truth_pos = {v: i for i, v in enumerate(truth_list)}

    nulls = [i for i, v in enumerate(id_list) if v is None]
    if nulls:
        problems.append(f"{len(nulls)} empty id(s) (rows {_first(nulls)})")
    seen: set = set()
    duplicated = [v for v in id_list if v is not None and (v in seen or seen.add(v))]
    if duplicated:
        problems.append(f"{len(duplicated)} duplicated id(s) (first: {_first(duplicated)})")
    unknown = [v for v in id_list if v is not None and v not in truth_pos]
    if unknown:
        problems.append(f"{len(unknown)} unknown id(s) (first: {_first(unknown)})")
    missing = [v for v in truth_list if v not in seen]
    if missing:
        problems.append(f"{len(missing)} missing id(s) (first: {_first(missing)})")

    values: dict[str, np.ndarray] = {}
    for name, kind in columns.items():
        if name not in predictions.column_names:
            continue
        column, column_problems = _check_column(predictions[name], name, kind, id_list)
        problems += column_problems
        values[name] = column
    if problems:
        raise PredictionFormatError(
            f"{source}: {'; '.join(problems)}; expected exactly one row per id of the "
            f"evaluated split ({len(truth_list):,} ids)"
        )
    order = np.array([truth_pos[v] for v in id_list])
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return {name: column[inverse] for name, column in values.items()}


def _as_id_array(ids: pa.ChunkedArray, expected: pa.DataType, source: str) -> pa.ChunkedArray:
    try:
        return ids.cast(expected)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise PredictionFormatError(
            f"{source}: column 'id' has type {ids.type}, expected {expected}"
        ) from None


def _check_column(
    column: pa.ChunkedArray, name: str, kind: str, ids: list
) -> tuple[np.ndarray, list[str]]:
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        return np.zeros(len(column)), [f"column {name!r} has type {column.type}, expected numbers"]
    null_mask = column.is_null().to_numpy(zero_copy_only=False)
    x = pc.fill_null(column, 0).to_numpy(zero_copy_only=False).astype(float)
    problems = []
    bad_nan = np.flatnonzero(null_mask | np.isnan(x))
    if len(bad_nan):
        problems.append(
            f"{len(bad_nan)} NaN/empty {name}(s) (ids {_first([ids[i] for i in bad_nan])})"
        )
    finite = ~(null_mask | np.isnan(x))
    if kind == "probability":
        bad = np.flatnonzero(finite & ((x < 0) | (x > 1)))
        what = "outside 0..1"
    else:
        bad = np.flatnonzero(finite & (x != 0) & (x != 1))
        what = "not 0 or 1"
    if len(bad):
        problems.append(f"{len(bad)} {name}(s) {what} (ids {_first([ids[i] for i in bad])})")
    return x, problems


def _first(values: Sequence) -> str:
    shown = ", ".join(str(v) for v in values[:SHOW])
    return shown + (", …" if len(values) > SHOW else "")
