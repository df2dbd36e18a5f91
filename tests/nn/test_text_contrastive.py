"""The contrastive text model: cards of older runs still load, the recorded cards rebuild,
and the character CNN (with its count features) and isomer batches (hard negatives) do what
they are for."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

import torch

from molbench.nn.text_contrastive import (
    CHAR_VOCABULARY,
    CharCNN,
    ContrastiveGIN,
    TextFeatures,
    char_ids,
    isomer_order,
)
from molbench.nn.text_encoder import MINILM

RESULTS = Path(__file__).resolve().parents[2] / "leaderboards" / "results" / "text"
# the card of a run recorded before the encoder's config digest and the character CNN
OLD_CARD = {
    "hidden": 128,
    "layers": 6,
    "dim": 128,
    "text_hidden": 1024,
    "text_layers": 3,
    "pool": "sum",
    "text_input": "tokens",
    "text_heads": 8,
    "text_encoder": "all-MiniLM-L6-v2",
    "text_encoder_sha256": MINILM.weights_sha256,
}


def test_a_card_from_before_the_character_cnn_builds_the_same_model() -> None:
    model = ContrastiveGIN.from_hyperparameters(OLD_CARD)
    assert model.text_encoder == MINILM
    assert model.chars is None
    assert sum(p.numel() for p in model.parameters()) == 4_587_535  # as recorded then


@pytest.mark.parametrize("name", sorted(p.name for p in RESULTS.glob("contrastive_gin__*.json")))
def test_recorded_cards_rebuild_a_model_of_the_recorded_size(name: str) -> None:
    card = json.loads((RESULTS / name).read_text(encoding="utf-8"))["model"]
    model = ContrastiveGIN.from_hyperparameters(card["hyperparameters"])
    assert model.text_encoder == MINILM
    assert sum(p.numel() for p in model.parameters()) == card["n_parameters"]


def test_char_ids_are_ascii_codes_padded_and_cut() -> None:
    ids = char_ids(["ab", "1,2-é", ""], 4)
    assert ids.tolist() == [
        [ord("a") + 1, ord("b") + 1, 0, 0],
        [ord("1") + 1, ord(",") + 1, ord("2") + 1, ord("-") + 1],  # cut at 4
        [0, 0, 0, 0],
    ]
    assert char_ids(["é"], 2).tolist() == [[CHAR_VOCABULARY - 1, 0]]


def test_char_cnn_ignores_padding_and_tells_locant_isomers_apart() -> None:
    torch.manual_seed(0)
    cnn = CharCNN(16, 3, 2, 64).eval()
    names = ["nona-1,3,5,6,7-pentaene", "nona-1,3,4,6,7-pentaene"]
    short, long = char_ids(names, 30), char_ids(names, 64)
    with torch.no_grad():
        a, b = cnn(short), cnn(long)
    assert a.shape == (2, 2 * 16)
    torch.testing.assert_close(a, b)  # padding changes nothing
    assert not torch.allclose(a[0], a[1], atol=1e-3)


def test_isomer_order_keeps_runs_of_one_formula_together() -> None:
    groups = np.repeat(np.arange(6), [1, 7, 3, 12, 5, 2])
    order = isomer_order(groups, 4, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(len(groups)))
    runs = np.split(groups[order], np.flatnonzero(np.diff(groups[order])) + 1)
    # each group comes in runs of at most 4 (two runs of one group may meet), all rows used
    assert all(len(r) <= 8 for r in runs)
    assert np.mean([len(r) for r in runs]) > 2
    for g in range(6):
        assert (groups[order] == g).sum() == (groups == g).sum()
    assert np.array_equal(order, isomer_order(groups, 4, np.random.default_rng(0)))


def test_isomer_order_off_is_the_plain_permutation() -> None:
    groups = np.zeros(50, dtype=np.int64)
    want = np.random.default_rng(3).permutation(50)
    assert np.array_equal(isomer_order(groups, 0, np.random.default_rng(3)), want)


def test_text_embeddings_with_characters_from_a_card() -> None:
    card = {**OLD_CARD, "char_width": 8, "char_layers": 2, "char_heads": 2, "char_max_length": 32}
    model = ContrastiveGIN.from_hyperparameters(card).eval()
    states, mask = torch.randn(3, 5, MINILM.dimension), torch.ones(3, 5, dtype=torch.bool)
    with torch.no_grad():
        out = model.encode_texts(states, mask, char_ids(["ethane", "propane", "x"], 32))
    assert out.shape == (3, 128)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3))
    plain = ContrastiveGIN.from_hyperparameters(OLD_CARD)
    grown = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in plain.parameters())
    assert grown > 0


def test_char_count_features_count_where_attention_pooling_averages() -> None:
    torch.manual_seed(0)
    cnn = CharCNN(16, 2, 2, 64, counts=8).eval()
    with torch.no_grad():  # no position or convolution: each state is its character's alone
        cnn.position.weight.zero_()
        for conv in cnn.convs:
            conv.weight.zero_()
            conv.bias.zero_()
        once, twice = cnn(char_ids(["methyl", "methylmethyl"], 16))
    assert once.shape == (2 * 16 + 8,) and cnn.out_width == 2 * 16 + 8
    torch.testing.assert_close(once[:32], twice[:32])  # the averages cannot tell them apart
    assert once[32:].abs().sum() > 0
    torch.testing.assert_close(twice[32:], 2 * once[32:])  # the sums count


def test_characters_alone_need_no_frozen_encoder() -> None:
    features = TextFeatures(["ethane", "propane", "x"], "none", chars=32)
    (ids,) = features.batch(np.array([1, 2]))
    assert ids.shape == (2, len("propane"))
    card = {**OLD_CARD, "text_input": "none", "char_width": 8, "char_layers": 2, "char_heads": 2}
    model = ContrastiveGIN.from_hyperparameters({**card, "char_counts": 4}).eval()
    assert not hasattr(model, "token_scores")
    with torch.no_grad():
        out = model.encode_texts(ids)
    assert out.shape == (2, 128)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match="needs the character encoder"):
        ContrastiveGIN.from_hyperparameters({**card, "char_width": 0})


@pytest.mark.parametrize("attention", [0, 1])
def test_char_attention_reaches_past_the_convolution_window(attention: int) -> None:
    torch.manual_seed(0)
    cnn = CharCNN(16, 3, 2, 64, counts=4, attention_layers=attention).eval()
    stem = "2,2-bis(" + "x" * 30  # the multiplier sits far from the last character
    ids = char_ids([stem + "a", stem + "b"], 64)
    with torch.no_grad():
        states, _ = cnn.states(ids)
        padded, longer = cnn(ids[:, :40]), cnn(char_ids([stem + "a", stem + "b"], 60))
    torch.testing.assert_close(padded, longer)  # padding changes nothing, with attention too
    first_differs = not torch.allclose(states[0, 0], states[1, 0], atol=1e-6)
    assert first_differs == bool(attention)  # window of ~15 characters; attention: the name


def test_a_card_with_char_attention_rebuilds_with_its_layers() -> None:
    card = {**OLD_CARD, "char_width": 8, "char_layers": 2, "char_heads": 2, "char_counts": 4}
    without = ContrastiveGIN.from_hyperparameters(card)
    with_attention = ContrastiveGIN.from_hyperparameters({**card, "char_attention": 2})
    assert without.chars is not None and len(without.chars.attention) == 0
    assert with_attention.chars is not None and len(with_attention.chars.attention) == 2
    n = sum(p.numel() for p in with_attention.parameters())
    assert n > sum(p.numel() for p in without.parameters())


def test_a_morpheme_card_reads_morpheme_ids_and_rejects_unknown_units() -> None:
    from molbench.nn.name_morphemes import VOCABULARY_SIZE, morpheme_ids

    card = {**OLD_CARD, "text_input": "none", "char_width": 8, "char_layers": 2, "char_heads": 2}
    model = ContrastiveGIN.from_hyperparameters({**card, "char_units": "morphemes_v1"}).eval()
    assert model.chars is not None and model.chars.embedding.num_embeddings == VOCABULARY_SIZE
    features = TextFeatures(["dec-1-ene", "decane"], "none", chars=16, units="morphemes_v1")
    (ids,) = features.batch(np.array([0, 1]))
    torch.testing.assert_close(ids, morpheme_ids(["dec-1-ene", "decane"], 16)[:, : ids.shape[1]])
    with torch.no_grad():
        out = model.encode_texts(ids)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match="char_units"):
        ContrastiveGIN.from_hyperparameters({**card, "char_units": "words"})


def test_the_count_loss_pulls_both_sides_through_one_head() -> None:
    card = {**OLD_CARD, "text_input": "none", "char_width": 8, "char_layers": 2, "char_heads": 2}
    plain = ContrastiveGIN.from_hyperparameters(card)
    with pytest.raises(ValueError, match="no count head"):
        plain.count_loss(torch.zeros(2, 128), torch.zeros(2, 128), torch.zeros(2, 6))
    model = ContrastiveGIN.from_hyperparameters({**card, "count_head": 1})
    assert model.count_head is not None
    grown = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in plain.parameters())
    assert grown == 128 * 6 + 6
    torch.manual_seed(0)
    molecules, texts = torch.randn(4, 128), torch.randn(4, 128)
    targets = model.count_head(molecules).detach()  # the molecule side already exact
    loss = model.count_loss(molecules, texts, targets)
    want = torch.nn.functional.mse_loss(model.count_head(texts), targets) / 2
    torch.testing.assert_close(loss, want)


def test_numeral_values_join_the_morpheme_embedding_and_need_morphemes() -> None:
    from molbench.nn.name_morphemes import morpheme_ids

    card = {**OLD_CARD, "text_input": "none", "char_width": 8, "char_layers": 2, "char_heads": 2}
    morphemes = {**card, "char_units": "morphemes_v1"}
    plain = ContrastiveGIN.from_hyperparameters(morphemes)
    model = ContrastiveGIN.from_hyperparameters({**morphemes, "char_values": 1}).eval()
    assert model.chars is not None and model.chars.value_projection is not None
    grown = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in plain.parameters())
    assert grown == model.chars.value_table.shape[1] * 8  # one projection, no bias
    assert "chars.value_table" not in model.state_dict()  # rebuilt from the vocabulary
    ids = morpheme_ids(["but-1-ene", "oct-1-ene"], 12)
    with torch.no_grad():
        before, _ = model.chars.states(ids)
        model.chars.value_projection.weight.zero_()
        after, _ = model.chars.states(ids)
    assert not torch.allclose(before, after)  # the values reach the states
    with pytest.raises(ValueError, match="char_values needs units"):
        ContrastiveGIN.from_hyperparameters({**card, "char_values": 1})
