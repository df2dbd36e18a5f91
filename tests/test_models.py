"""The model directory format: safetensors + JSON, resolved through the registry."""

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from molbench.errors import ModelFormatError  # noqa: E402
from molbench.models import (  # noqa: E402
    CARD_FILE,
    WEIGHTS_FILE,
    ModelCard,
    architectures,
    load_model,
    read_card,
    save_model,
)
from molbench.nn.validity import GINE  # noqa: E402


def saved(tmp_path: Path, module: GINE | None = None) -> Path:
    module = module or GINE.from_hyperparameters({"hidden": 8, "layers": 1})
    card = ModelCard(
        tmp_path / "m",
        "validity_gine",
        {"dataset": "validity", "version": "1.0.0", "config": "random"},
        {"hidden": 8, "layers": 1},
        {"seed": 0},
        sum(p.numel() for p in module.parameters()),
    )
    return save_model(card.path, module, card)


def test_bundled_architectures_are_registered() -> None:
    assert {"validity_gine", "validity_char_transformer"} <= set(architectures())


def test_round_trip_restores_every_weight(tmp_path: Path) -> None:
    original = GINE.from_hyperparameters({"hidden": 8, "layers": 1})
    path = saved(tmp_path, original)
    assert sorted(p.name for p in path.iterdir()) == sorted([CARD_FILE, WEIGHTS_FILE])
    module, card = load_model(path)
    for name, tensor in original.state_dict().items():
        assert torch.equal(module.state_dict()[name], tensor), name
    assert card.task["config"] == "random" and card.n_parameters > 0
    assert not module.training


def test_unknown_architecture_and_bad_files_are_clear_errors(tmp_path: Path) -> None:
    path = saved(tmp_path)
    card = json.loads((path / CARD_FILE).read_text())
    card["architecture"] = "os.system"
    (path / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelFormatError, match=r"unknown architecture 'os\.system'"):
        load_model(path)
    card["architecture"] = "validity_gine"
    card["hyperparameters"]["hidden"] = 16  # weights no longer fit
    (path / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelFormatError, match="does not fit"):
        load_model(path)
    (path / WEIGHTS_FILE).write_bytes(b"\x80\x04pickle?")
    card["hyperparameters"]["hidden"] = 8
    del card["weights_sha256"]  # an unpinned (older) card: the file itself is checked
    (path / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelFormatError, match="not a readable safetensors"):
        load_model(path)


def test_card_validation(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="does not exist"):
        read_card(tmp_path / "nope")
    (tmp_path / CARD_FILE).write_text("{}")
    (tmp_path / WEIGHTS_FILE).write_bytes(b"")
    with pytest.raises(ModelFormatError, match="format 1"):
        read_card(tmp_path)
    (tmp_path / CARD_FILE).write_text(json.dumps({"format": 1, "architecture": "x"}))
    with pytest.raises(ModelFormatError, match="'task' must be a dict"):
        read_card(tmp_path)


def test_every_recorded_model_card_passes_the_schema_of_its_architecture() -> None:
    """The bounds must admit every model the leaderboards were made from."""
    from molbench.hyperparameters import check_hyperparameters

    registry = architectures()
    cards = [
        json.loads(path.read_text())["model"]
        for path in sorted(Path(__file__).parents[1].glob("leaderboards/results/**/*.json"))
        if "model" in json.loads(path.read_text())
    ]
    assert len({c["architecture"] for c in cards}) >= 5
    for card in cards:
        schema = registry[card["architecture"]].load().hyperparameter_schema
        check_hyperparameters(schema, card["hyperparameters"], card["architecture"])
