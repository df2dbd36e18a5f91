"""Network outputs: the half of a model's prediction that runs where RDKit does not.

Some models end in a chemistry step (the graph-edit model turns ranked edit sets into
product SMILES with RDKit). A GPU machine may have no RDKit, so such a model splits
``predict`` in two: ``network_outputs(table, device)`` (tensors in, plain columns out) and
``predictions_from_outputs(table, outputs)`` (the CPU side). The outputs travel as one
Parquet file that records which weights, which dataset content and which split made them,
so ``molbench eval --model DIR --outputs FILE`` can refuse a file from another model or
other data instead of scoring it.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from molbench import __version__, fsutil, store
from molbench.errors import MolbenchError
from molbench.hardware import check_device, describe

FORMAT = 1
METADATA_KEY = b"molbench_outputs"


def network_outputs(module: Any, table: pa.Table, device: str) -> dict[str, np.ndarray]:
    """The model's RDKit-free half (its whole ``predict`` if it has no split)."""
    if hasattr(module, "network_outputs"):
        return module.network_outputs(table, device=device)
    return module.predict(table, device=device)


def predictions_from_outputs(
    module: Any, table: pa.Table, outputs: dict[str, Any]
) -> dict[str, Any]:
    """The task's prediction columns from the network outputs (identity if no split)."""
    if hasattr(module, "predictions_from_outputs"):
        return module.predictions_from_outputs(table, outputs)
    return outputs


def write_outputs(
    path: str | os.PathLike[str],
    ids: pa.ChunkedArray | pa.Array,
    outputs: dict[str, Any],
    about: dict[str, Any],
) -> Path:
    """Write ``id`` + the output columns, with ``about`` (provenance) in the file's metadata.

    ``about`` names the weights (``weights_sha256``), the data (``dataset``, ``config``,
    ``split``, ``content_hash``) and the run (``predict_seconds``, ``hardware``). Written to
    a temporary name and renamed, so a killed run leaves no half file.
    """
    if "id" in outputs:
        raise ValueError("an output column may not be called id: it holds the row ids")
    columns = {"id": ids, **{k: pa.array(list(v)) for k, v in outputs.items()}}
    table = pa.table(columns)
    meta = {
        "format": FORMAT,
        "molbench_version": __version__,
        "n_rows": table.num_rows,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **about,
    }
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, target)
    return target


def read_outputs(
    path: str | os.PathLike[str],
    weights_sha256: str,
    ids: pa.ChunkedArray | pa.Array,
    config: str,
    split: str,
    content_hash: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The output columns and their provenance, after checking they belong to this scoring.

    Refused with one line: a file that is not molbench outputs, outputs of other weights,
    of another config, split or dataset content, or whose ids are not the split's ids in
    order (a missing or extra row would otherwise be scored silently).
    """
    file = Path(path)
    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowInvalid) as e:
        raise MolbenchError(f"{file}: not a readable Parquet outputs file ({e})") from None
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise MolbenchError(
            f"{file}: no molbench outputs metadata; write it with a recipe or `molbench predict`"
        )
    try:
        about = json.loads(raw)
    except ValueError:
        about = None
    if not isinstance(about, dict):
        raise MolbenchError(f"{file}: its molbench outputs metadata is not a JSON object")
    if about.get("format") != FORMAT:
        raise MolbenchError(f"{file}: outputs format {about.get('format')}, expected {FORMAT}")
    checks = [
        ("weights_sha256", weights_sha256, "made by other weights than this model's"),
        ("config", config, "made on another config"),
        ("split", split, "made on another split"),
        ("content_hash", content_hash, "made on other dataset content"),
    ]
    for key, expected, why in checks:
        if about.get(key) != expected:
            raise MolbenchError(f"{file}: {why} ({key} {about.get(key)!r}, here {expected!r})")
    expected_ids = pa.chunked_array([ids]) if isinstance(ids, pa.Array) else ids
    found_ids = table["id"] if "id" in table.column_names else None
    if found_ids is not None and found_ids.type != expected_ids.type:
        try:  # string vs large_string and the like: the values decide, not the width
            found_ids = found_ids.cast(expected_ids.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            found_ids = None
    if found_ids is None or not found_ids.equals(expected_ids):
        raise MolbenchError(f"{file}: its ids are not the ids of {config}/{split} in order")
    columns = {name: _column(table[name]) for name in table.column_names if name != "id"}
    return columns, about


def _column(values: pa.ChunkedArray) -> np.ndarray:
    """A flat column as it is; a list column as a 1-d object array of lists (never 2-d)."""
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        rows = np.empty(len(values), dtype=object)
        rows[:] = values.to_pylist()
        return rows
    return values.to_numpy(zero_copy_only=False)


def about_outputs(
    weights_file: str | os.PathLike[str],
    dataset: str,
    config: str,
    split: str,
    content_hash: str,
    predict_seconds: float,
    hardware: str,
) -> dict[str, Any]:
    """The provenance :func:`write_outputs` records and :func:`read_outputs` checks."""
    return {
        "weights_sha256": fsutil.sha256_file(Path(weights_file)),
        "dataset": dataset,
        "config": config,
        "split": split,
        "content_hash": content_hash,
        "predict_seconds": round(predict_seconds, 3),
        "hardware": hardware,
    }


def predict_split(
    module: Any,
    built: store.BuiltDataset,
    config: str,
    split: str,
    device: str,
    weights_file: str | os.PathLike[str],
    out: str | os.PathLike[str],
    max_rows: int = 0,
) -> tuple[Path, float]:
    """Run ``module``'s network half on one split (its first ``max_rows``: a smoke run)
    and write the outputs file."""
    rows = built.table(config, split)
    if max_rows:
        rows = rows.slice(0, max_rows)
    started = time.perf_counter()
    try:
        outputs = network_outputs(module, rows, device)
    except ValueError as e:
        raise MolbenchError(f"the model cannot run on {config}/{split}: {e}") from None
    seconds = time.perf_counter() - started
    about = about_outputs(
        weights_file, built.name, config, split, built.config_hash(config), seconds,
        describe(device),
    )  # fmt: skip
    return write_outputs(out, rows["id"], outputs, about), seconds


def predict_to_file(
    model_dir: str | os.PathLike[str],
    dataset: str | None,
    config: str | None,
    split: str,
    device: str,
    root: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
) -> tuple[Path, float]:
    """``molbench predict``: a saved model's outputs on a split (default: its own dataset)."""
    from molbench.models import CARD_FILE, WEIGHTS_FILE, load_model

    check_device(device)
    module, card = load_model(model_dir, device=device)
    if dataset:
        built = store.BuiltDataset(_build_path(dataset, root))
    else:
        from molbench.builders import resolve_dataset

        named_by = str(card.path / CARD_FILE)
        built = store.BuiltDataset(resolve_dataset(card.task["dataset"], root, named_by))
    config = config or card.task["config"]
    if config not in built.configs or split not in built.splits(config):
        raise MolbenchError(f"{built.path} has no {config}/{split}")
    return predict_split(module, built, config, split, device, card.path / WEIGHTS_FILE, out)


def _build_path(dataset: str, root: str | os.PathLike[str] | None) -> Path:
    """A build directory as given; a dataset name through the registry (which needs RDKit)."""
    if (Path(dataset) / store.MANIFEST_NAME).is_file():
        return Path(dataset)
    from molbench.builders import resolve_dataset

    return resolve_dataset(dataset, root)
