"""The contrastive text model reads the cards of the recorded leaderboard runs unchanged."""

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

from molbench.nn.text_contrastive import ContrastiveGIN
from molbench.nn.text_encoder import MINILM

RESULTS = Path(__file__).resolve().parents[2] / "leaderboards" / "results" / "text"


@pytest.mark.parametrize(
    "name",
    [
        "contrastive_gin__hydrocarbon_names__seed0.json",
        "contrastive_gin__hydrocarbon_names_size_ood__seed2.json",
    ],
)
def test_recorded_cards_build_the_same_model_on_all_minilm(name: str) -> None:
    card = json.loads((RESULTS / name).read_text(encoding="utf-8"))["model"]
    assert "text_encoder_config_sha256" not in card["hyperparameters"]  # made before it existed
    model = ContrastiveGIN.from_hyperparameters(card["hyperparameters"])
    assert model.text_encoder == MINILM
    assert sum(p.numel() for p in model.parameters()) == card["n_parameters"]
