"""Helpers shared by the recipes in ``recipes/``: typed overrides, data, provenance, saving.

A recipe stays a readable top-to-bottom script; what every recipe would otherwise repeat
(argument parsing, building the dataset if missing, recording a run) lives here. This is
the recipes' command-line layer, so unlike the rest of the library it prints and exits.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import sys
import time
import typing
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, TypeVar

from molbench import __version__, fsutil, store
from molbench.errors import MolbenchError, ParameterError
from molbench.hardware import check_device, describe, git_commit
from molbench.hyperparameters import is_plain_name
from molbench.settings import param_types

# Building and scoring need RDKit, training does not: those imports wait until used, so a
# recipe trains and saves on a machine without RDKit and is scored on a CPU machine later.

C = TypeVar("C")


@dataclasses.dataclass(frozen=True)
class Range:
    """Bounds of a numeric setting, checked when the settings are parsed."""

    low: float
    high: float = math.inf


# Integer settings are at least 1 and float settings at least 0 unless annotated otherwise:
NonNegative = Annotated[int, Range(0)]  # an integer where 0 means none / all / off
Fraction = Annotated[float, Range(0.0, 1.0)]


@dataclasses.dataclass(frozen=True)
class RecipeSettings:
    """Settings every recipe has; a recipe subclasses it with its own."""

    config: str = "random"  # dataset config
    max_eval_rows: NonNegative = 0  # score the first N rows of each split (smoke runs; 0 = all)
    root: str = ""  # dataset root ("" = $MOLBENCH_HOME or ~/.cache/molbench)
    data: str = ""  # a build directory to use instead of the default build under root
    out: str = ""  # run directory ("" = runs/<dataset>/<method>/<config>/...)
    record: bool = False  # copy the test result into leaderboards/results/<dataset>/


@dataclasses.dataclass(frozen=True)
class RunSettings(RecipeSettings):
    """Settings every training recipe has; a recipe subclasses it with its hyperparameters."""

    seed: NonNegative = 0
    device: str = "cpu"  # cpu | cuda (under torchrun: each rank's cuda:<LOCAL_RANK>)
    max_train_rows: NonNegative = 0  # 0 = all; fewer for smoke tests

    def run_dir(self, dataset_name: str, method: str) -> Path:
        return Path(self.out or f"runs/{dataset_name}/{method}/{self.config}/seed{self.seed}")

    def training(self) -> dict[str, Any]:
        """The settings that shape the model, recorded with it (paths left out)."""
        return {
            k: v for k, v in dataclasses.asdict(self).items() if k not in ("root", "data", "out")
        }


def parse_overrides(defaults: C, argv: Sequence[str] | None = None) -> C:
    """``--key=value`` or ``--key value`` overrides of a frozen settings dataclass, checked.

    Values are converted to the field's type and checked against its bounds (see
    :class:`Range`), ``--device`` against this machine, ``--record`` against a smoke run.
    From here on a :class:`MolbenchError` anywhere in the recipe ends it as the CLI does:
    one ``error: ...`` line on stderr and exit status 2 (recipes are scripts, so exiting
    is their job).
    """
    sys.excepthook = _one_line_errors
    args = list(sys.argv[1:] if argv is None else argv)
    fields = param_types(type(defaults))
    changes: dict[str, Any] = {}
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            lines = [f"  --{k.replace('_', '-')}={getattr(defaults, k)!r}" for k in fields]
            print("options (defaults):\n" + "\n".join(lines))
            raise SystemExit(0)
        if not arg.startswith("--"):
            raise ParameterError(f"unexpected argument {arg!r}; use --key=value")
        key, _, value = arg[2:].partition("=")
        if not _:
            if not args:
                raise ParameterError(f"--{key} needs a value")
            value = args.pop(0)
        name = key.replace("-", "_")
        if name not in fields:
            raise ParameterError(f"unknown option --{key}; known: {', '.join(fields)}")
        changes[name] = _convert(key, value, fields[name])
    settings = dataclasses.replace(defaults, **changes)
    check_settings(settings)
    return settings


def check_settings(settings: Any) -> None:
    """Refuse, in one line, settings no run can use: out of bounds, a device this machine
    lacks, or a smoke run (``max_eval_rows``) asked to record a leaderboard row."""
    hints = typing.get_type_hints(type(settings), include_extras=True)
    for name, hint in hints.items():
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        bounds = next((m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Range)), None)
        bounds = bounds or (Range(1) if isinstance(value, int) else Range(0.0))
        if not bounds.low <= value <= bounds.high:
            option = f"--{name.replace('_', '-')}"
            if bounds.high == math.inf:
                raise ParameterError(f"{option} must be at least {bounds.low:g}, got {value}")
            raise ParameterError(
                f"{option} must be between {bounds.low:g} and {bounds.high:g}, got {value}"
            )
    if getattr(settings, "device", "cpu") != "cpu":
        check_device(settings.device)
    if getattr(settings, "record", False) and getattr(settings, "max_eval_rows", 0):
        raise ParameterError(
            "--max-eval-rows makes a smoke run, not a leaderboard row: drop --record"
        )


def _one_line_errors(kind: type[BaseException], error: BaseException, tb: Any) -> None:
    """``sys.excepthook`` of a recipe: a :class:`MolbenchError` (or a file the user named
    that cannot be read) is the user's to fix, so one line and exit 2, as in the CLI;
    anything else is a bug and keeps its traceback."""
    if isinstance(error, OSError) and error.filename:
        error = MolbenchError(f"{error.strerror or error}: {error.filename}")
    if isinstance(error, MolbenchError):
        sys.stdout.flush()
        print(f"error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    sys.__excepthook__(kind, error, tb)


def _convert(key: str, value: str, kind: type) -> Any:
    if kind is bool:
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        raise ParameterError(f"--{key} must be true or false, got {value!r}")
    try:
        return kind(value)
    except ValueError:
        raise ParameterError(f"--{key} must be {kind.__name__}, got {value!r}") from None


def dataset(
    name: str, root: str = "", path: str = "", configs: Sequence[str] = ()
) -> store.BuiltDataset:
    """The build at ``path`` if given, else the build of ``name`` under ``root``.

    The groups holding ``configs`` (default: the dataset's default configs) are built
    first if missing, a no-op when they exist; other groups of the build are left alone,
    so a recipe on ``uspto_15k`` never asks for the USPTO-MIT train file. A config the
    build (or the dataset) does not have is refused before any work.
    """
    if path:
        built = store.BuiltDataset(path)
        missing = [c for c in configs if c not in built.configs]
        if missing:
            raise ParameterError(
                f"{built.path} has no config {', '.join(missing)}; it has "
                f"{', '.join(built.configs)}"
            )
        return built
    from molbench.pipeline import build

    result = build(name, configs=list(configs) or None, out=root or None, progress=True)
    return store.BuiltDataset(result.path)


def decode_length(setting: int, target_lengths: Any) -> int:
    """The longest output a decoder may write: ``setting``, or (0) a quarter more than the
    longest training target, so an untrained model stops near the data, not at 200 tokens."""
    return setting or math.ceil(1.25 * int(max(target_lengths, default=1)))


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished, waited-for children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclasses.dataclass
class Run:
    """What a recipe records about one training run, filled as it goes.

    ``script`` is the recipe's ``__file__``: recipes live in ``<repo>/recipes/<dataset>/``,
    which locates the repository (for the git commit and ``leaderboards/``).
    """

    method: str
    script: str
    seed: int | None
    device: str = "cpu"
    started: float = dataclasses.field(default_factory=time.perf_counter)
    # CPU time of this process and its waited-for children (worker pools): unlike wall
    # time, not inflated when other jobs share the machine
    started_cpu: float = dataclasses.field(default_factory=lambda: cpu_seconds())
    commit: str | None = None  # the code a run starts from, read once at the start
    world: Any = None  # the molbench.distributed.World of a torchrun run (None: one process)
    # points of a training curve a recipe measured (e.g. step, seconds, validation
    # estimate), recorded with the result so the next budget is planned, not guessed
    curve: list[dict[str, float]] = dataclasses.field(default_factory=list)
    # provenance of trained models this run composes (a re-ranking pipeline): their
    # training time is part of this run's, and their commits and seeds are recorded
    components: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if not is_plain_name(self.method):  # it names run directories and result files
            raise MolbenchError(f"method {self.method!r} is not a plain name ([A-Za-z0-9_.-])")
        self.commit = git_commit(self.repo_root)

    @property
    def repo_root(self) -> Path:
        return Path(self.script).resolve().parents[2]

    @property
    def recipe(self) -> str:
        return Path(self.script).resolve().relative_to(self.repo_root).as_posix()

    @property
    def main(self) -> bool:
        """The process that saves, evaluates and records (rank 0 under torchrun)."""
        return self.world is None or self.world.main

    def provenance(self, built: store.BuiltDataset, config: str) -> dict[str, Any]:
        # a component card without a time (older ones lack CPU seconds) adds none
        before = sum(c.get("train_seconds") or 0.0 for c in self.components)
        before_cpu = sum(c.get("train_cpu_seconds") or 0.0 for c in self.components)
        return (
            {
                "method": self.method,
                "recipe": self.recipe,
                "seed": self.seed,
                # ranks that trained together, each on its shard of every batch (batch sizes
                # are per rank); rank r's torch stream (dropout) is seeded with seed + r
                "world_size": 1 if self.world is None else self.world.size,
                "train_seconds": round(before + time.perf_counter() - self.started, 1),
                "train_cpu_seconds": round(before_cpu + cpu_seconds() - self.started_cpu, 1),
                "hardware": describe(self.device),
                "dataset_content_hash": built.config_hash(config),
                "molbench_version": __version__,
                "git_commit": self.commit,
                "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            | ({"training_curve": list(self.curve)} if self.curve else {})
            | ({"components": list(self.components)} if self.components else {})
        )


def save_and_evaluate(
    module: Any,
    architecture: str,
    hyperparameters: dict[str, Any],
    run: Run,
    built: store.BuiltDataset,
    settings: RunSettings,
    transfer_config: str = "",
) -> dict[str, Any]:
    """Save the model directory, score validation and test, write the result JSONs.

    With ``settings.record`` the test result is also copied to the leaderboard results.
    ``transfer_config``: also score the model on that config's test split (a transfer,
    see :func:`evaluate_transfer`), returned as ``results["test on <config>"]``. Under
    torchrun only rank 0 does any of it (the others return ``{}``); ``max_eval_rows`` of
    the settings limits every split scored.
    """
    from molbench.models import ModelCard, save_model

    if not run.main:
        return {}
    config = settings.config
    out_dir = settings.run_dir(built.name, run.method)
    card = ModelCard(
        out_dir / "model",
        architecture,
        {"dataset": built.name, "version": built.version, "config": config},
        {**hyperparameters, "training": settings.training()},
        run.provenance(built, config),
        sum(p.numel() for p in module.parameters()),
    )
    save_model(card.path, module, card)
    results: dict[str, Any] = {}
    if not _can_score(card.path, built, run, config):
        # no RDKit (a GPU machine): run the network half here, score on a CPU machine
        for eval_config, split in [(config, "validation"), (config, "test")] + (
            [(transfer_config, "test")] if transfer_config else []
        ):
            write_outputs_for_cpu(
                module, card.path, built, eval_config, split, run, out_dir,
                settings.record and split == "test", trained_config=config,
                max_rows=settings.max_eval_rows,
            )  # fmt: skip
        return results
    from molbench.evaluate import evaluate_model

    for split in ("validation", "test"):
        results[split] = evaluate_model(
            card.path, str(built.path), config, split, run.device,
            max_rows=settings.max_eval_rows,
        )  # fmt: skip
        fsutil.write_json(out_dir / f"{split}.json", results[split])
    if settings.record:
        record_result(results["test"], run, built.name, config)
    if transfer_config:
        results[f"test on {transfer_config}"] = evaluate_transfer(
            card.path, run, built, config, transfer_config, "test", settings.record, out_dir,
            settings.max_eval_rows,
        )  # fmt: skip
    print(f"model and results in {out_dir}")
    return results


def evaluate_rows(
    predictions: Any,
    built: store.BuiltDataset,
    config: str,
    split: str,
    run_info: dict[str, Any],
    max_rows: int = 0,
) -> dict[str, Any]:
    """Score an in-memory predictions table (for recipes without a model, e.g. shortcuts);
    ``max_rows``: it holds the split's first rows only (a smoke run)."""
    from molbench.evaluate import evaluate_table

    result = evaluate_table(
        predictions, built, config, split, source=run_info["method"], max_rows=max_rows
    )
    result["source"] = {"kind": "recipe", "files": {}}
    result["run"] = run_info
    result["environment"]["hardware"] = describe("cpu")
    return result


def record_result(
    result: dict[str, Any], run: Run, dataset_name: str, config: str, trained_on: str = ""
) -> Path:
    """Copy a test result into ``<repo>/leaderboards/results/<dataset>/``.

    ``trained_on``: the config a transfer result's model was trained on (its own file name).
    """
    directory = run.repo_root / "leaderboards" / "results" / dataset_name
    path = directory / result_file_name(run.method, config, run.seed, trained_on)
    fsutil.write_json(path, result)
    return path


def evaluate_transfer(
    source: Any,
    run: Run,
    built: store.BuiltDataset,
    trained_config: str,
    eval_config: str,
    split: str = "test",
    record: bool = False,
    out_dir: Path | None = None,
    max_rows: int = 0,
) -> dict[str, Any]:
    """Score a method trained on ``trained_config`` on another config's split (transfer).

    ``source`` is a model directory or an in-memory predictions table (``id`` + the task's
    columns). The task's clean-subset metrics are taken against the *trained* config's train
    split — the rows this model actually saw — and the build's cross-set audit goes into the
    result, so a transfer row shows what leaked into it. Written to ``out_dir`` (if given) as
    ``<split>_on_<eval_config>.json`` and, with ``record``, to the leaderboard results.
    ``max_rows``: the split's first rows only (a smoke run). A model directory is scored
    exactly as ``molbench eval --model DIR --config EVAL`` does.
    """
    import pyarrow as pa

    check_transfer(built, trained_config, eval_config, split)
    model_dir = None if isinstance(source, pa.Table) else Path(source)
    if not _can_score(model_dir, built, run, eval_config, split):
        return {}
    from molbench.evaluate import evaluate_model, evaluate_table, transfer_context, transfer_record

    if model_dir is None:
        context = transfer_context(built, trained_config)
        result = evaluate_table(
            source, built, eval_config, split, f"{run.method}", context, max_rows=max_rows
        )
        result["source"] = {"kind": "recipe", "files": {}}
        result["run"] = {**run.provenance(built, trained_config), "n_parameters": None}
        result["environment"]["hardware"] = describe(run.device)
        result["transfer"] = transfer_record(built, trained_config, eval_config, split)
    else:
        result = evaluate_model(
            source, str(built.path), eval_config, split, run.device, max_rows=max_rows
        )
    if out_dir is not None:
        fsutil.write_json(Path(out_dir) / f"{split}_on_{eval_config}.json", result)
    if record:
        record_result(result, run, built.name, eval_config, trained_on=trained_config)
    return result


def result_file_name(method: str, config: str, seed: int | None, trained_on: str = "") -> str:
    """``<method>__<config>[__from_<trained config>]__seed<k>|deterministic.json``.

    Every part must be a plain name: a method read from a model card must not place the
    file outside the results directory (``/abs``, ``../x``) or in a new subdirectory.
    """
    for what, name in (("method", method), ("config", config), ("trained-on config", trained_on)):
        if (name or what == "method") and not is_plain_name(name):
            raise MolbenchError(
                f"{what} {name!r} is not a plain name (letters, digits, '_', '.', '-'; no '..' "
                "or '/'): it cannot name a result file"
            )
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise MolbenchError(f"seed {seed!r} is not an integer: it cannot name a result file")
    suffix = f"seed{seed}" if seed is not None else "deterministic"
    scored = f"{config}__from_{trained_on}" if trained_on else config
    return f"{method}__{scored}__{suffix}.json"


def check_transfer(
    built: store.BuiltDataset, trained_config: str, eval_config: str, split: str = "test"
) -> None:
    """Refuse unless ``eval_config`` is another group's config with ``split``.

    Recipes call it before training, so a missing transfer config costs no training run.
    """
    if eval_config not in built.configs or split not in built.splits(eval_config):
        raise ParameterError(
            f"{built.path} has no {eval_config}/{split} to transfer to; build it, e.g.: "
            f"molbench build {built.name} --config {eval_config} --splits validation,test"
        )
    groups = built.manifest["configs"]
    if groups[eval_config]["group"] == groups[trained_config]["group"]:
        raise ParameterError(
            f"{eval_config} splits the same rows as {trained_config}: scoring on it is "
            "not a transfer (its test rows may be in the training rows)"
        )


def write_outputs_for_cpu(
    module: Any,
    model_dir: Path,
    built: store.BuiltDataset,
    config: str,
    split: str,
    run: Run,
    out_dir: Path,
    record: bool = False,
    trained_config: str = "",
    max_rows: int = 0,
) -> Path:
    """The network outputs of one split, and the command that scores them where RDKit is.

    The command writes the result JSON where :func:`save_and_evaluate` would have, and
    with ``record`` files it for the leaderboard.
    """
    from molbench.models import WEIGHTS_FILE
    from molbench.outputs import predict_split

    path = out_dir / f"{split}_outputs_{config}.parquet"
    _, seconds = predict_split(
        module, built, config, split, run.device, model_dir / WEIGHTS_FILE, path, max_rows
    )
    if max_rows:  # `molbench eval` scores whole splits: a smoke run's outputs stop here
        print(f"{config}/{split}: outputs of the first {max_rows} rows in {path} ({seconds:.0f} s)")
        return path
    result = out_dir / (
        f"{split}.json" if config == trained_config else f"{split}_on_{config}.json"
    )
    results = run.repo_root / "leaderboards" / "results" / built.name
    if results.is_relative_to(Path.cwd()):  # the command works on another copy of the repo
        results = results.relative_to(Path.cwd())
    print(
        f"{config}/{split}: network outputs in {path} ({seconds:.0f} s); score them where RDKit "
        f"is:\n  molbench eval --model {model_dir} --outputs {path} --dataset {built.name} "
        f"--config {config} --split {split} --out {result}"
        + (f" --record {results}" if record else "")
    )
    return path


def _can_score(
    model_dir: Path | None,
    built: store.BuiltDataset,
    run: Run,
    config: str,
    split: str = "test",
) -> bool:
    """Scoring needs RDKit; without it a model recipe writes outputs to score elsewhere."""
    if importlib.util.find_spec("rdkit") is not None:
        return True
    if model_dir is None:
        print(f"no RDKit here: {config}/{split} is not scored; run this recipe where RDKit is")
    return False


def print_summary(results: dict[str, dict[str, Any]]) -> None:
    """One line per scored split; nothing for a run that was not scored here (no RDKit)."""
    for split, r in results.items():
        if not r:
            continue
        h = r["headline"]
        low, high = h["ci95"]
        print(f"{split}: {h['metric']} {h['value']:.4f} (95% CI {low:.4f}-{high:.4f})")


def print_topk(results: dict[str, dict[str, Any]], what: str = "") -> None:
    """Reaction recipes: top-1/2/3/5/10 and prediction speed per scored split."""
    for split, result in results.items():
        if not result:
            continue
        m = result["metrics"]
        topk = ", ".join(f"top{k} {m[f'top{k}']:.4f}" for k in (1, 2, 3, 5, 10))
        rate = result["n_rows"] / result["predict_seconds"]
        print(f"{split}: {topk}; {what}{rate:.1f} reactions/s")
