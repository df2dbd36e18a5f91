"""Importers: released prediction files in the field's own formats → molbench predictions.

An importer reads one released file against the evaluated split's rows (from the build)
and returns a standard predictions table (``id`` + the task's prediction columns), or
raises :class:`~molbench.errors.PredictionFormatError` with one line. A plain registry:
adding a format is one module and one line here.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from molbench import store
from molbench.errors import ParameterError, PredictionFormatError
from molbench.importers import cbond, csv_wide, molt5, opennmt

Importer = Callable[..., pa.Table]  # (path, rows, **options) -> predictions table

IMPORTERS: dict[str, Importer] = {
    "opennmt": opennmt.read,
    "csv-wide": csv_wide.read,
    "cbond": cbond.read,
    "molt5": molt5.read,
}


def import_predictions(format: str, path: Path, rows: pa.Table, **options: Any) -> pa.Table:
    """The predictions table the ``format`` importer reads from ``path`` for ``rows``."""
    if format not in IMPORTERS:
        raise PredictionFormatError(
            f"unknown predictions format {format!r}; known: {', '.join(sorted(IMPORTERS))}"
        )
    if not path.is_file():
        raise PredictionFormatError(f"predictions file {path} does not exist")
    importer = IMPORTERS[format]
    accepted = list(inspect.signature(importer).parameters)[2:]
    unknown = [k for k in options if k not in accepted]
    if unknown:
        takes = ", ".join(accepted) or "no options"
        raise ParameterError(f"the {format} importer takes {takes}, not {', '.join(unknown)}")
    return importer(path, rows, **options)


def write_predictions(table: pa.Table, path: Path) -> None:
    """Write an imported predictions table as Parquet, atomically (rename into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp, **store.PARQUET_OPTIONS)
    os.replace(tmp, path)
