"""Reading and strictly validating predictions files before any metric runs.

Every problem found is reported at once, in one line, with counts and the first few
offending ids, so a user fixes the file in one go.
"""

from __future__ import annotations

import csv
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
# CSV has no list type: a ranked cell holds the candidates separated by single spaces
CSV_SEPARATOR = " "


def read_predictions(path: str | os.PathLike[str], max_rows: int | None = None) -> pa.Table:
    """A Parquet or CSV predictions file as an Arrow table, checked before it is loaded.

    ``max_rows``: the evaluated split's row count. A file with more rows holds extra or
    duplicated ids and is refused after reading one row more than that (a Parquet file:
    from its footer), so a 30-million-row file costs no more memory than a right one.
    """
    file = Path(path)
    if not file.is_file():
        raise PredictionFormatError(f"predictions file {file} does not exist")
    suffix = file.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise PredictionFormatError(f"{file}: predictions must be .parquet or .csv, not {suffix!r}")
    try:
        if suffix == ".parquet":
            parquet = pq.ParquetFile(file)
            _check_header(file, parquet.schema_arrow.names, parquet.metadata.num_rows, max_rows)
            return pq.read_table(file)
        check_csv(file, max_rows)
        return pacsv.read_csv(file, read_options=_CSV_READ)
    except (pa.ArrowInvalid, OSError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "straddling" in first_line:  # pyarrow: a row does not fit in one block
            first_line = (
                f"a row is longer than {MAX_CSV_ROW_BYTES >> 20} MiB (or a quote is never "
                "closed); a predictions row is far shorter"
            )
        raise PredictionFormatError(
            f"{file} cannot be read as {suffix[1:]}: {first_line}"
        ) from None


def check_csv(file: Path, max_rows: int | None) -> None:
    """Duplicate or missing column names, oversized fields and extra rows, checked by a
    streaming scan before any CSV is loaded (importers of CSV formats call it too)."""
    names, rows = _scan_csv(file, max_rows)
    _check_header(file, names, rows, max_rows)


def is_list_literal(cell: str) -> bool:
    """A Python or JSON list written as text (``"['CCO', 'CC']"``): never one SMILES."""
    return bool(_LIST_REPR & set(cell))


# pyarrow reads CSV in blocks and a row must fit in one: 1 MiB, 25 times the longest
# valid row (10 candidates of 4,096 characters)
MAX_CSV_ROW_BYTES = 1 << 20
_CSV_READ = pacsv.ReadOptions(block_size=MAX_CSV_ROW_BYTES)


def _scan_csv(file: Path, max_rows: int | None) -> tuple[list[str], int]:
    """Column names and the row count (up to ``max_rows + 1``), a line at a time.

    Python's csv reader holds one row and refuses a field over its size limit (128 Ki
    characters unless changed), so neither a 30-million-row file nor a 200 MB cell costs
    memory here; pyarrow reads the file only once it passed.
    """
    with open(file, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        try:
            names = next(reader, [])
            rows = 0
            for row in reader:
                rows += bool(row)  # pyarrow skips empty lines too
                if max_rows is not None and rows > max_rows:
                    break
        except csv.Error as e:
            raise PredictionFormatError(
                f"{file} cannot be read as csv: line {reader.line_num}: {e}; a predictions "
                "field is far shorter (10 SMILES of at most 4,096 characters)"
            ) from None
    return names, rows


def _check_header(file: Path, names: list[str], rows: int, max_rows: int | None) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PredictionFormatError(
            f"{file}: column name(s) {', '.join(map(repr, repeated))} appear more than once "
            f"(columns: {names}); keep one column per name"
        )
    if max_rows is not None and rows > max_rows:
        raise PredictionFormatError(
            f"{file} has more than {max_rows:,} rows, but the evaluated split has {max_rows:,} "
            "ids: it holds extra or duplicated ids; expected exactly one row per id"
        )


def align(
    predictions: pa.Table,
    truth_ids: pa.Array | pa.ChunkedArray,
    columns: Mapping[str, str],
    source: str,
    required: Sequence[Sequence[str]],
    expected: str = "",
) -> dict[str, np.ndarray]:
    """Check ids and value columns, then return each column reordered to ``truth_ids``.

    ``columns`` maps a column name to its kind: ``"probability"`` (float in [0, 1]),
    ``"binary"`` (integer 0/1), ``"text"`` (a string, e.g. one SMILES or a name),
    ``"ranked_text"`` (a ranked list of strings, best first: a list column, or in CSV one
    string, see :func:`split_ranked_cell`), ``"ranked_ids"`` (the same for ids of the
    split's rows: integers or strings, returned as strings) or ``"embedding"`` (a list of
    floats, the same length in every row). ``required`` lists alternatives: at least one column of
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
    if kind in _CHECKS:
        return _CHECKS[kind](column, name, ids)
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


def _check_text(column: pa.ChunkedArray, name: str, ids: list) -> tuple[np.ndarray, list[str]]:
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return np.zeros(len(column), dtype=object), [
            f"column {name!r} has type {column.type}, expected strings"
        ]
    values = np.array(column.to_pylist(), dtype=object)
    nulls = [ids[i] for i, v in enumerate(values) if v is None]
    problems = [f"{len(nulls)} empty {name}(s) (ids {_first(nulls)})"] if nulls else []
    return values, problems


def _check_ranked_text(
    column: pa.ChunkedArray, name: str, ids: list
) -> tuple[np.ndarray, list[str]]:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        cells = column.to_pylist()
        quoted = [ids[i] for i, v in enumerate(cells) if v is not None and _LIST_REPR & set(v)]
        if quoted:
            return np.zeros(len(column), dtype=object), [
                f"{len(quoted)} {name} cell(s) look like a written list (quotes or commas, e.g. "
                f"pandas to_csv of a Python list; ids {_first(quoted)}): write each cell as "
                "the candidates joined by single spaces (' '.join(candidates)), or use "
                "Parquet with a list column"
            ]
        rows = [None if v is None else split_ranked_cell(v) for v in cells]
    elif (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)) and (
        pa.types.is_string(column.type.value_type)
        or pa.types.is_large_string(column.type.value_type)
        or pa.types.is_null(column.type.value_type)
    ):
        rows = column.to_pylist()
    else:
        return np.zeros(len(column), dtype=object), [
            f"column {name!r} has type {column.type}, expected a list of strings "
            "(or, in CSV, candidates separated by spaces)"
        ]
    problems = []
    nulls = [ids[i] for i, v in enumerate(rows) if v is None]
    if nulls:
        problems.append(f"{len(nulls)} empty {name} list(s) (ids {_first(nulls)})")
    holes = [ids[i] for i, v in enumerate(rows) if v is not None and any(s is None for s in v)]
    if holes:
        problems.append(f"{len(holes)} {name} list(s) with null entries (ids {_first(holes)})")
    values = np.empty(len(rows), dtype=object)
    values[:] = [list(v or ()) for v in rows]
    return values, problems


def _check_ranked_ids(
    column: pa.ChunkedArray, name: str, ids: list
) -> tuple[np.ndarray, list[str]]:
    """Ranked ids: a list of integers is read as their decimal strings, then as ranked text."""
    t = column.type
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_integer(t.value_type):
        column = column.cast(pa.list_(pa.string()))
    elif pa.types.is_integer(t) or pa.types.is_null(t):  # CSV: one id (or none) per cell
        column = column.cast(pa.string())
    return _check_ranked_text(column, name, ids)


_LIST_REPR = frozenset("'\",")  # never in a SMILES: a Python or JSON list written as text


def split_ranked_cell(cell: str) -> list[str]:
    """The candidates of a CSV ranked cell: split at every single space, nothing dropped.

    An empty cell is no prediction; otherwise every field is one candidate in its slot,
    so two spaces in a row leave an empty (invalid) candidate there instead of moving the
    later ones up a rank. Quotes and commas are refused before (a written Python list).
    """
    return cell.split(CSV_SEPARATOR) if cell else []


def _check_embedding(column: pa.ChunkedArray, name: str, ids: list) -> tuple[np.ndarray, list[str]]:
    t = column.type
    if not (
        (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t))
        and (pa.types.is_floating(t.value_type) or pa.types.is_integer(t.value_type))
    ):
        return np.zeros((len(column), 0)), [
            f"column {name!r} has type {t}, expected a list of floats"
        ]
    rows = column.to_pylist()
    nulls = [ids[i] for i, v in enumerate(rows) if v is None]
    if nulls:
        return np.zeros((len(column), 0)), [f"{len(nulls)} empty {name}(s) (ids {_first(nulls)})"]
    lengths = {len(v) for v in rows}
    if len(lengths) != 1 or 0 in lengths:
        return np.zeros((len(column), 0)), [
            f"{name} vectors have lengths {sorted(lengths)[:5]}, expected one non-zero dimension"
        ]
    matrix = np.array([[np.nan if x is None else x for x in v] for v in rows], dtype=np.float32)
    bad = [ids[i] for i in np.flatnonzero(~np.isfinite(matrix).all(axis=1))]
    problems = [f"{len(bad)} {name}(s) with NaN/inf/null values (ids {_first(bad)})"] if bad else []
    return matrix, problems


_CHECKS = {
    "text": _check_text,
    "ranked_text": _check_ranked_text,
    "ranked_ids": _check_ranked_ids,
    "embedding": _check_embedding,
}
