"""Evaluation: resolve the split, validate predictions (or run a model), score, record.

Every result carries what is needed to trust and reproduce it: dataset identity and
content hash, sha256 of what was scored, molbench version, hardware and time.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from molbench import __version__, fsutil, store
from molbench.builders import BUILDERS, resolve_dataset
from molbench.errors import (
    DatasetNotFoundError,
    ModelFormatError,
    MolbenchError,
    ParameterError,
    PredictionFormatError,
)
from molbench.hardware import check_device, describe
from molbench.importers import import_predictions
from molbench.models import CARD_FILE, WEIGHTS_FILE, ModelCard, load_model
from molbench.outputs import predictions_from_outputs, read_outputs
from molbench.predictions import align, read_predictions
from molbench.tasks import TASKS, Task

log = logging.getLogger(__name__)
RESULT_FORMAT = 1
BOOTSTRAP_SEED = 0


def task_for(manifest: dict[str, Any]) -> Task:
    if manifest["name"] not in TASKS:
        raise DatasetNotFoundError(f"no evaluation task is defined for {manifest['name']}")
    return TASKS[manifest["name"]]


def evaluate_table(
    predictions: pa.Table,
    built: store.BuiltDataset,
    config: str,
    split: str,
    source: str,
    context: dict[str, Any] | None = None,
    rule: str | None = None,
    max_rows: int = 0,
) -> dict[str, Any]:
    """Score a predictions table on one split of a build (opened, and so verified, once).

    ``rule``: what counts as right, for tasks that offer several (reactions: ``exact``,
    ``subset``); None is the task's default. ``max_rows``: score the split's first rows
    only (a smoke run); the result says so.
    """
    started = time.perf_counter()
    task = task_for(built.manifest)
    rules = getattr(task, "rules", ())
    if rule is not None and rule not in rules:
        offered = f"one of {', '.join(rules)}" if rules else "none"
        raise ParameterError(f"--rule {rule!r}: the {task.dataset} task offers {offered}")
    truth = built.table(config, split)
    split_rows = truth.num_rows
    if max_rows:
        truth = truth.slice(0, max_rows)
    aligned = align(
        predictions,
        truth["id"],
        task.prediction_columns,
        source,
        task.required_columns,
        f"Expected: {task.prediction_help}",
    )
    context = dict(context or {})
    if rule is not None:
        context["rule"] = rule
    train_columns = getattr(task, "train_columns", ())
    in_train = train_columns and split != "train" and "train" in built.splits(config)
    if in_train and "train" not in context:  # a transfer run brings its own training rows
        context["train"] = built.table(config, "train", list(train_columns))
    try:
        scored = task.score(truth, aligned, seed=BOOTSTRAP_SEED, context=context)
    except ValueError as e:  # a metric's contract: bad ground truth or inputs
        raise MolbenchError(f"cannot score {config}/{split}: {e}") from None
    if truth.num_rows < split_rows:
        scored["subset"] = {"first_rows": truth.num_rows, "split_rows": split_rows}
        scored.setdefault("warnings", []).append(
            f"scored on the first {truth.num_rows} of {split_rows} rows of {config}/{split} "
            "(a smoke run): not comparable with the leaderboard"
        )
    return {
        "format": RESULT_FORMAT,
        "task": task.dataset,
        "dataset": {
            "name": built.name,
            "version": built.version,
            "config": config,
            "split": split,
            "content_hash": built.config_hash(config),
            "parameters": built.group(config)["parameters"],
        },
        **scored,
        "warnings": scored.get("warnings", []),
        "environment": {"molbench": __version__},
        "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "eval_seconds": round(time.perf_counter() - started, 3),
    }


def evaluate_predictions(
    path: str | os.PathLike[str],
    dataset: str,
    config: str | None,
    split: str,
    root: str | os.PathLike[str] | None = None,
    candidates: str | os.PathLike[str] | None = None,
    rule: str | None = None,
    format: str | None = None,
    import_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score a Parquet/CSV predictions file (``config`` None: the task's default config).

    ``candidates``: molecule embeddings of a whole corpus (text task, Text2Mol protocol).
    ``rule``: see :func:`evaluate_table`. ``format``: a released file in another
    format, read by that importer (:data:`molbench.importers.IMPORTERS`) with
    ``import_options`` (e.g. ``{"n_best": 5}``).
    """
    file = Path(path)
    if not file.is_file():  # before the build: the first thing to fix
        raise PredictionFormatError(f"predictions file {file} does not exist")
    built = store.BuiltDataset(resolve_dataset(dataset, root))
    config = config or task_for(built.manifest).default_config
    if format is None:
        table = read_predictions(file, max_rows=built.table(config, split, ["id"]).num_rows)
    else:
        rows = built.table(config, split)
        table = import_predictions(format, file, rows, **(import_options or {}))
    context = {}
    files = {file.name: fsutil.sha256_file(file)}
    if candidates is not None:
        context["candidates"] = _read_candidates(Path(candidates), built)
        files[Path(candidates).name] = fsutil.sha256_file(Path(candidates))
    result = evaluate_table(table, built, config, split, str(file), context, rule)
    result["source"] = {"kind": "predictions", "files": files}
    if format is not None:
        result["source"]["format"] = {"name": format, "options": dict(import_options or {})}
    result["environment"]["hardware"] = describe("cpu")
    return result


def evaluate_model(
    model_dir: str | os.PathLike[str],
    dataset: str | None = None,
    config: str | None = None,
    split: str = "test",
    device: str = "cpu",
    root: str | os.PathLike[str] | None = None,
    outputs_file: str | os.PathLike[str] | None = None,
    rule: str | None = None,
    max_rows: int = 0,
) -> dict[str, Any]:
    """Run a model directory on a split and score it; the dataset defaults to its own.

    ``max_rows``: run and score the split's first rows only (a smoke run).

    ``outputs_file``: the model's network outputs for this split, written where the network
    ran (a GPU machine without RDKit, see :mod:`molbench.outputs`); only the CPU half of the
    prediction runs here, and the result records where each half ran.
    """

    check_device(device)
    module, card = load_model(model_dir, device=device)
    _check_card_task(card)
    if dataset:
        dataset_path = resolve_dataset(dataset, root)
    else:
        dataset_path = resolve_dataset(card.task["dataset"], root, str(card.path / CARD_FILE))
    config = config or card.task["config"]
    built = store.BuiltDataset(dataset_path)
    rows = built.table(config, split)
    if max_rows:
        rows = rows.slice(0, max_rows)
    outputs_about: dict[str, Any] | None = None
    if outputs_file is not None:  # checked before the clock starts: reading is not predicting
        outputs, outputs_about = read_outputs(
            outputs_file,
            fsutil.sha256_file(card.path / WEIGHTS_FILE),
            rows["id"],
            config,
            split,
            built.config_hash(config),
        )
    started = time.perf_counter()
    try:
        if outputs_about is None:
            predictions = module.predict(rows, device=device)
        else:
            predictions = predictions_from_outputs(module, rows, outputs)
    except ValueError as e:
        raise MolbenchError(f"model {card.path} cannot run on {config}/{split}: {e}") from None
    predict_seconds = time.perf_counter() - started
    table = pa.table({"id": rows["id"], **predictions})
    trained_config = card.task["config"]
    # a transfer: trained on another group's rows of this build (uspto_15k → uspto_mit); a
    # config of the same rows split differently (uspto_mit → uspto_mit_scaffold) is not one
    transfer = (
        card.task.get("dataset") == built.name
        and trained_config in built.configs
        and group_of(built, trained_config) != group_of(built, config)
    )
    context = transfer_context(built, trained_config) if transfer else None
    result = evaluate_table(
        table, built, config, split, f"model {card.path}", context, rule, max_rows
    )
    if transfer:
        result["transfer"] = transfer_record(built, trained_config, config, split)
    result["source"] = {
        "kind": "model",
        "files": {name: fsutil.sha256_file(card.path / name) for name in (CARD_FILE, WEIGHTS_FILE)},
    }
    result["model"] = card.as_dict()
    result["run"] = {
        "method": card.provenance.get("method", card.architecture),
        "recipe": card.provenance.get("recipe"),
        "seed": card.provenance.get("seed"),
        "world_size": card.provenance.get("world_size", 1),  # training processes (torchrun)
        "n_parameters": card.n_parameters,
        "train_seconds": card.provenance.get("train_seconds"),
        "train_cpu_seconds": card.provenance.get("train_cpu_seconds"),
        "hardware": card.provenance.get("hardware"),
        "git_commit": card.provenance.get("git_commit"),
    }
    result["environment"]["hardware"] = describe(device)
    result["predict_seconds"] = round(predict_seconds, 3)
    if outputs_about is not None:
        result["source"]["files"]["outputs"] = fsutil.sha256_file(Path(outputs_file))
        result["outputs"] = {
            "hardware": outputs_about["hardware"],
            "network_seconds": outputs_about["predict_seconds"],
            "finish_seconds": round(predict_seconds, 3),
            "created_at": outputs_about["created_at"],
        }
        result["environment"]["hardware"] = outputs_about["hardware"]
        result["environment"]["finished_on"] = describe("cpu")
        result["predict_seconds"] = round(outputs_about["predict_seconds"] + predict_seconds, 3)
    trained_on = card.provenance.get("dataset_content_hash")
    if transfer and trained_on == built.config_hash(trained_config):
        log.info("transfer: trained on %s, scored on %s", trained_config, config)
    elif trained_on != built.config_hash(config):
        message = (
            f"model was trained on dataset content {trained_on}, evaluated on "
            f"{built.config_hash(config)}: numbers are not comparable with the leaderboard"
        )
        log.warning(message)
        result["warnings"].append(message)
        result["trained_on_content_hash"] = trained_on
    return result


def _check_card_task(card: ModelCard) -> None:
    """The dataset and config a card was trained on must be registered ones, even when
    ``--dataset`` overrides where it is scored: they decide transfers and recorded names."""
    builder = BUILDERS.get(card.task["dataset"])
    configs = [d.config for d in builder.split_definitions] if builder else []
    if card.task["config"] not in configs:
        what = f"config {card.task['config']!r}" if builder else f"dataset {card.task['dataset']!r}"
        raise ModelFormatError(
            f"{card.path / CARD_FILE}: task names unknown {what}; known: "
            f"{', '.join(configs or BUILDERS)}"
        )


def group_of(built: store.BuiltDataset, config: str) -> str:
    """The group (set of rows) a config splits; configs of one group share their rows."""
    return built.manifest["configs"][config]["group"]


def transfer_context(built: store.BuiltDataset, trained_config: str) -> dict[str, Any]:
    """Scoring context of a transfer: clean-subset metrics against the rows it trained on.

    ``{"train": None}`` when this build lacks them: no clean subset then, rather than one
    measured against the scored config's own train rows, which the model never saw.
    """
    columns = list(getattr(task_for(built.manifest), "train_columns", ()))
    if columns and "train" in built.splits(trained_config):
        return {"train": built.table(trained_config, "train", columns)}
    return {"train": None}


def transfer_record(
    built: store.BuiltDataset, trained_config: str, config: str, split: str
) -> dict[str, Any]:
    """What a transfer result says about its training: config, hash, and the build's audit
    of how many scored rows the training rows contain (cross-set leakage)."""
    trained, scored = group_of(built, trained_config), group_of(built, config)
    overlaps = {
        what: count
        for audit in built.manifest.get("cross_audits", {}).values()
        if isinstance(audit, dict)
        for what, count in audit.items()
        if what.startswith(f"{trained}/train") and what.endswith(f" {scored}/{split}")
    }
    return {
        "trained_on": trained_config,
        "trained_on_content_hash": built.config_hash(trained_config),
        "overlaps": overlaps,
    }


CORPUS_CONFIG = "chebi20_molecules"


def _read_candidates(path: Path, built: store.BuiltDataset) -> tuple[list[Any], Any]:
    """Candidate molecule embeddings, one per row of the build's corpus config, validated."""
    if CORPUS_CONFIG not in built.configs:
        raise DatasetNotFoundError(
            f"--candidates needs the {CORPUS_CONFIG} config in {built.path}; build it: "
            f"molbench build {built.name} --config {CORPUS_CONFIG} --source DIR"
        )
    corpus_ids = built.table(CORPUS_CONFIG, "corpus")["id"]
    aligned = align(
        read_predictions(path, max_rows=len(corpus_ids)),
        corpus_ids,
        {"mol_embedding": "embedding"},
        str(path),
        (("mol_embedding",),),
        "Expected: `id` + `mol_embedding` for every corpus molecule.",
    )
    return corpus_ids.to_pylist(), aligned["mol_embedding"]
