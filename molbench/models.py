"""The model directory format and the architecture registry.

A model directory holds exactly two files::

    molbench_model.json   architecture, task, hyperparameters, provenance
    model.safetensors     the weights (tensors only: nothing to execute, nothing to unpickle)

Architectures are found through the ``molbench.models`` entry-point group: a package (or
molbench's own recipes) declares ``name = "module:Class"``. The class must provide
``from_hyperparameters(dict) -> torch.nn.Module`` and, on the module,
``predict(table: pyarrow.Table, device: str) -> dict[str, numpy.ndarray]`` returning the
task's prediction columns. Loading imports only installed code named by that registry.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from molbench.errors import ModelFormatError, MolbenchError
from molbench.store import read_versioned_json

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "architecture": self.architecture,
            "task": self.task,
            "hyperparameters": self.hyperparameters,
            "provenance": self.provenance,
            "n_parameters": self.n_parameters,
        }


def read_card(model_dir: str | os.PathLike[str]) -> ModelCard:
    """Read and check ``molbench_model.json``; every problem is a :class:`ModelFormatError`."""
    directory = Path(model_dir)
    card_path = directory / CARD_FILE
    if not directory.is_dir():
        raise ModelFormatError(f"model directory {directory} does not exist")
    for name in (CARD_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise ModelFormatError(f"{directory} has no {name}: not a molbench model directory")
    card = read_versioned_json(card_path, FORMAT, ModelFormatError, "model card")
    for key, kind in _REQUIRED.items():
        if not isinstance(card.get(key), kind):
            raise ModelFormatError(f"{card_path}: field {key!r} must be a {kind.__name__}")
    missing = [k for k in _REQUIRED_TASK if k not in card["task"]]
    if missing:
        raise ModelFormatError(f"{card_path}: task lacks {', '.join(missing)}")
    return ModelCard(
        directory,
        card["architecture"],
        card["task"],
        card["hyperparameters"],
        card["provenance"],
        card.get("n_parameters"),
    )


def save_model(model_dir: str | os.PathLike[str], module: Any, card: ModelCard) -> Path:
    """Write weights as safetensors and the card as JSON (to temp names, then rename)."""
    from safetensors.torch import save_file

    directory = Path(model_dir)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(directory / (WEIGHTS_FILE + ".tmp")))
    os.replace(directory / (WEIGHTS_FILE + ".tmp"), directory / WEIGHTS_FILE)
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

    cls = registry[card.architecture].load()
    try:
        module = cls.from_hyperparameters(card.hyperparameters)
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFormatError(
            f"{card.path / CARD_FILE}: hyperparameters do not fit {card.architecture}: {e!r}"
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
