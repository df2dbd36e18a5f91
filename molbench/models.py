"""The model directory format and the architecture registry.

A model directory holds exactly two files (anything else is refused)::

    molbench_model.json   architecture, task, hyperparameters, provenance, weights sha256
    model.safetensors     the weights (tensors only: nothing to execute, nothing to unpickle)

Architectures are found through the ``molbench.models`` entry-point group: a package (or
molbench's own recipes) declares ``name = "module:Class"``. The class must provide
``hyperparameter_schema`` (see :mod:`molbench.hyperparameters`: checked before anything is
built), ``from_hyperparameters(dict) -> torch.nn.Module`` and, on the module,
``predict(table: pyarrow.Table, device: str) -> dict[str, numpy.ndarray]`` returning the
task's prediction columns. Loading imports only installed code named by that registry.

The card pins the weights by sha256 and loading refuses a mismatch. Cards written before
the pin existed (no ``weights_sha256``) still load, with a warning: refusing them would
strand every model trained so far, and their weights were never pinned, so there is
nothing to check them against; save the model again to pin it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from molbench import fsutil
from molbench.errors import IntegrityError, ModelFormatError, MolbenchError
from molbench.hyperparameters import check_hyperparameters, is_plain_name
from molbench.store import read_versioned_json

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "molbench.models"
CARD_FILE = "molbench_model.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = 1
_REQUIRED = {
    "architecture": str,
    "task": dict,
    "hyperparameters": dict,
    "provenance": dict,
}
_REQUIRED_TASK = ("dataset", "version", "config")
_OPTIONAL = {"format", "n_parameters", "weights_sha256"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


def architectures() -> dict[str, metadata.EntryPoint]:
    """Installed architectures by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


@dataclass(frozen=True)
class ModelCard:
    """The parsed ``molbench_model.json``."""

    path: Path
    architecture: str
    task: dict[str, Any]
    hyperparameters: dict[str, Any]
    provenance: dict[str, Any]
    n_parameters: int | None
    weights_sha256: str | None = None  # filled by save_model; None on cards before the pin

    def as_dict(self) -> dict[str, Any]:
        card = {
            "format": FORMAT,
            "architecture": self.architecture,
            "task": self.task,
            "hyperparameters": self.hyperparameters,
            "provenance": self.provenance,
            "n_parameters": self.n_parameters,
        }
        return card | ({"weights_sha256": self.weights_sha256} if self.weights_sha256 else {})


def read_card(model_dir: str | os.PathLike[str]) -> ModelCard:
    """Read and check ``molbench_model.json``; every problem is a :class:`ModelFormatError`."""
    directory = Path(model_dir)
    card_path = directory / CARD_FILE
    if not directory.is_dir():
        raise ModelFormatError(f"model directory {directory} does not exist")
    for name in (CARD_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise ModelFormatError(f"{directory} has no {name}: not a molbench model directory")
        if (directory / name).is_symlink():
            raise ModelFormatError(f"{directory / name} is a symlink: copy the file itself")
    extra = sorted(p.name for p in directory.iterdir() if p.name not in (CARD_FILE, WEIGHTS_FILE))
    if extra:
        raise ModelFormatError(
            f"{directory} holds {len(extra)} unexpected file(s) ({', '.join(extra[:3])}): "
            f"a model directory holds exactly {CARD_FILE} and {WEIGHTS_FILE}"
        )
    card = read_versioned_json(card_path, FORMAT, ModelFormatError, "model card")
    for key, kind in _REQUIRED.items():
        if not isinstance(card.get(key), kind):
            raise ModelFormatError(f"{card_path}: field {key!r} must be a {kind.__name__}")
    _check_fields(card, card_path)
    return ModelCard(
        directory,
        card["architecture"],
        card["task"],
        card["hyperparameters"],
        card["provenance"],
        card.get("n_parameters"),
        card.get("weights_sha256"),
    )


def _check_fields(card: dict[str, Any], card_path: Path) -> None:
    """Names that reach paths and file names are plain; counts and digests are well formed."""
    unknown = sorted(set(card) - set(_REQUIRED) - _OPTIONAL)
    if unknown:
        raise ModelFormatError(f"{card_path}: unknown field(s) {', '.join(unknown)}")
    missing = [k for k in _REQUIRED_TASK if k not in card["task"]]
    if missing:
        raise ModelFormatError(f"{card_path}: task lacks {', '.join(missing)}")
    named = {"architecture": card["architecture"]}
    named |= {f"task.{k}": card["task"][k] for k in _REQUIRED_TASK}
    if "method" in card["provenance"]:
        named["provenance.method"] = card["provenance"]["method"]
    for field, value in named.items():
        if not is_plain_name(value):
            raise ModelFormatError(
                f"{card_path}: {field} {value!r} is not a plain name "
                "(letters, digits, '_', '.', '-'; no '..' or '/')"
            )
    n = card.get("n_parameters")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        raise ModelFormatError(f"{card_path}: n_parameters must be a count, got {n!r}")
    pin = card.get("weights_sha256")
    if pin is not None and not (isinstance(pin, str) and _SHA256.fullmatch(pin)):
        raise ModelFormatError(f"{card_path}: weights_sha256 must be 64 hex digits")


def save_model(model_dir: str | os.PathLike[str], module: Any, card: ModelCard) -> Path:
    """Write weights as safetensors and the card, pinning their sha256 (temp names, rename)."""
    from safetensors.torch import save_file

    directory = Path(model_dir)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    tmp = directory / (WEIGHTS_FILE + ".tmp")
    save_file(state, str(tmp))
    os.chmod(tmp, 0o666 & ~_umask())  # safetensors creates 0600; a model is shared like data
    card = dataclasses.replace(card, weights_sha256=fsutil.sha256_file(tmp))
    os.replace(tmp, directory / WEIGHTS_FILE)
    text = json.dumps(card.as_dict(), indent=2) + "\n"
    (directory / (CARD_FILE + ".tmp")).write_text(text, encoding="utf-8")
    os.replace(directory / (CARD_FILE + ".tmp"), directory / CARD_FILE)
    return directory


def load_model(model_dir: str | os.PathLike[str], device: str = "cpu") -> tuple[Any, ModelCard]:
    """The module with its weights loaded (strictly: every tensor must match), and its card."""
    card = read_card(model_dir)
    registry = architectures()
    if card.architecture not in registry:
        known = ", ".join(sorted(registry)) or "none installed"
        raise ModelFormatError(
            f"{card.path}: unknown architecture {card.architecture!r} (installed: {known})"
        )
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:
        raise MolbenchError(
            "loading models needs the torch extra: pip install 'molbench[torch]'"
        ) from None

    check_weights(card)
    cls = registry[card.architecture].load()
    schema = getattr(cls, "hyperparameter_schema", None)
    if schema is None:
        raise ModelFormatError(
            f"architecture {card.architecture} declares no hyperparameter_schema: its cards "
            "cannot be checked before building, so molbench does not load them"
        )
    check_hyperparameters(schema, card.hyperparameters, str(card.path / CARD_FILE))
    try:
        module = cls.from_hyperparameters(card.hyperparameters)
    except (KeyError, TypeError, ValueError, AssertionError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelFormatError(
            f"{card.path / CARD_FILE}: hyperparameters do not fit {card.architecture}: {first}"
        ) from None
    try:
        state = load_file(str(card.path / WEIGHTS_FILE), device="cpu")
    except (SafetensorError, OSError) as e:
        raise ModelFormatError(
            f"{card.path / WEIGHTS_FILE} is not a readable safetensors file: {e}"
        ) from None
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise ModelFormatError(
            f"{card.path / WEIGHTS_FILE} does not fit architecture {card.architecture}: {first}"
        ) from None
    return module.to(device).eval(), card


def check_weights(card: ModelCard) -> None:
    """Refuse weights whose sha256 is not the card's pin; warn for a card without one."""
    weights = card.path / WEIGHTS_FILE
    if card.weights_sha256 is None:
        log.warning(
            "%s has no weights_sha256 (saved before molbench pinned weights): the weights "
            "cannot be checked; save the model again to pin them",
            card.path / CARD_FILE,
        )
        return
    actual = fsutil.sha256_file(weights)
    if actual != card.weights_sha256:
        raise IntegrityError(
            f"{weights} has sha256 {actual[:12]}…, the card pins {card.weights_sha256[:12]}…: "
            "the weights were changed or damaged after saving; use the original model directory"
        )


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
