"""SMILES tokens and the one fixed vocabulary that every reaction and text config shares.

Models trained on one config can be evaluated on another only if token ids mean the same
thing everywhere, so the vocabulary is a versioned package file (built once by
``tools/make_vocab.py``) pinned by its sha256: changing it means a new version.

Tokens follow the regex of Schwaller et al. (Molecular Transformer, ACS Cent. Sci. 2019).
A reaction arrow ``>>`` is two ``>`` tokens, as that regex yields, so reactions with
agents (``A>B>C``) need no extra token.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from types import MappingProxyType

from molbench.errors import IntegrityError

SMILES_REGEX = (
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$"
    r"|%[0-9]{2}|[0-9])"
)
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>", "<sep>", "<mask>")
VOCAB_VERSION = "1"
VOCAB_SHA256 = "48d159d5bcc0d1744b47d5741cecbd4f7a61b1aac96791612483635ada394689"
VOCAB_FORMAT = 1

# Every vocabulary version this package can read, pinned by the sha256 of its file.
_VOCAB_FILES = {VOCAB_VERSION: ("smiles_vocab_v1.json", VOCAB_SHA256)}
_TOKEN = re.compile(SMILES_REGEX)


def tokenize(smiles: str) -> list[str]:
    """Split SMILES into tokens that join back to the input; uncovered characters raise."""
    tokens = _TOKEN.findall(smiles)
    if "".join(tokens) == smiles:  # non-overlapping, in order, full length: contiguous
        return tokens
    pos = 0
    for match in _TOKEN.finditer(smiles):
        if match.start() != pos:
            break
        pos = match.end()
    raise ValueError(
        f"cannot tokenize SMILES {smiles!r}: character {smiles[pos]!r} at position {pos} "
        "is not covered by SMILES_REGEX"
    )


@dataclass(frozen=True)
class Vocabulary:
    """Token ↔ id map; the special tokens come first, with the ids of ``SPECIALS``."""

    tokens: tuple[str, ...]
    index: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if tuple(self.tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {list(SPECIALS)}")
        index = {token: i for i, token in enumerate(self.tokens)}
        if len(index) != len(self.tokens):
            raise ValueError("a vocabulary must not repeat a token")
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "index", MappingProxyType(index))
        object.__setattr__(self, "_ids", index)  # a plain dict: encode's hot lookup

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        return self.index["<pad>"]

    @property
    def unk_id(self) -> int:
        return self.index["<unk>"]

    @property
    def bos_id(self) -> int:
        return self.index["<bos>"]

    @property
    def eos_id(self) -> int:
        return self.index["<eos>"]

    @property
    def sep_id(self) -> int:
        return self.index["<sep>"]

    @property
    def mask_id(self) -> int:
        return self.index["<mask>"]

    def encode(self, smiles_or_tokens: str | Sequence[str], add_bos_eos: bool = True) -> list[int]:
        """Ids of a SMILES string (or its tokens): ``decode(encode(s)) == s`` for covered s.

        Tokens outside the vocabulary become ``<unk>``; :meth:`n_unknown` counts them, so
        builders can report how much of a source the fixed vocabulary does not cover.
        """
        tokens = (
            tokenize(smiles_or_tokens) if isinstance(smiles_or_tokens, str) else smiles_or_tokens
        )
        unk, lookup = self.unk_id, self._ids.get
        ids = [lookup(token, unk) for token in tokens]
        return [self.bos_id, *ids, self.eos_id] if add_bos_eos else ids

    def n_unknown(self, ids: Sequence[int]) -> int:
        """How many of ``ids`` are ``<unk>``: tokens the vocabulary does not cover."""
        return list(ids).count(self.unk_id)

    def decode(self, ids: Iterable[int]) -> str:
        """SMILES from ids: special tokens are dropped and ``<eos>`` ends the string."""
        n_specials = len(SPECIALS)
        out = []
        for i in map(int, ids):
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"token id {i} is outside the vocabulary (size {len(self)})")
            if i == self.eos_id:
                break
            if i >= n_specials:
                out.append(self.tokens[i])
        return "".join(out)


@cache
def load_vocabulary(version: str = VOCAB_VERSION) -> Vocabulary:
    """The packaged vocabulary ``version``, checked against its pinned sha256."""
    if version not in _VOCAB_FILES:
        raise ValueError(f"unknown vocabulary version {version!r}; known: {sorted(_VOCAB_FILES)}")
    name, expected = _VOCAB_FILES[version]
    raw = (files("molbench") / "data" / name).read_bytes()
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise IntegrityError(
            f"molbench/data/{name} has sha256 {actual}, expected {expected}; the vocabulary was "
            "edited: regenerate it with tools/make_vocab.py under a new version instead"
        )
    data = json.loads(raw)
    if data.get("format") != VOCAB_FORMAT or data.get("version") != version:
        raise IntegrityError(f"molbench/data/{name} is not a format-1 vocabulary v{version}")
    if data["regex"] != SMILES_REGEX or data["specials"] != list(SPECIALS):
        raise IntegrityError(f"molbench/data/{name} was built with another tokenizer")
    return Vocabulary(tuple(data["tokens"]))
