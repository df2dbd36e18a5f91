"""Importers: released prediction files in the field's own formats -> molbench predictions.

An importer reads one released file against the evaluated split's rows (from the build)
and returns a standard predictions table (``id`` + the task's prediction columns), or
raises :class:`~molbench.errors.PredictionFormatError` with one line. A plain registry:
adding a format is one module and one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from molbench.importers import molt5

Importer = Callable[[Path, pa.Table], pa.Table]

IMPORTERS: dict[str, Importer] = {
    "molt5": molt5.read,
}
