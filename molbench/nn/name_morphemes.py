"""IUPAC names as morpheme ids: the units a name is composed of, for a text encoder.

A substitutive hydrocarbon name is a small grammar over a few dozen morphemes (numeral
stems ``meth``/``but``/``penta``/``deca``, multipliers ``di``/``tri``, endings ``ane``/``en``/
``yl``/``ylidene``), locant numbers and punctuation. Read as characters, ``pentaene`` is eight
symbols and a locant ``10`` two; read as morphemes each is one token whose meaning is the
same wherever it appears, so a small network can add carbons and multiple bonds up instead
of memorising spellings. Letter runs are split into the fewest morphemes of
:data:`MORPHEMES` (dynamic programming, so ``decane`` is ``dec`` + ``ane``, not ``deca`` +
``n`` + ``e``); letters no morpheme covers fall back to single characters, numbers to one
token each (capped), anything else to its character. Names are read lower-cased (joined,
the tokens are the lower-cased name). ``penta``/``hexa``/… are one token whether a
multiplier or a stem before a consonant (the network tells them apart by what follows),
as in the generator's spelling. Changing the vocabulary changes every model that reads
it: it is versioned (:data:`VOCABULARY_VERSION`). Known gap of v1: stems from C30 up lose
their final ``a`` before a vowel (``triacontane``) and then split into ``triaconta`` +
letters; the default build stops well below that (``max_carbons`` 20), and a v2
would add ``triacont``/``tetracont``/``pentacont``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import torch

VOCABULARY_VERSION = "morphemes_v1"
# numeral stems and multipliers (P-14.2, P-21.2), endings and prefixes of hydrocarbon names
MORPHEMES = (
    "meth", "eth", "prop", "but", "pent", "hex", "hept", "oct", "non", "dec",
    "hen", "un", "do", "tri", "tetra", "penta", "hexa", "hepta", "octa", "nona", "deca",
    "cosa", "icosa", "cos", "icos", "triaconta", "tetraconta", "pentaconta", "conta",
    "di", "bis", "tris", "tetrakis", "pentakis", "kis",
    "ane", "ene", "yne", "an", "en", "yn", "yl", "ylidene", "ylidyne", "idene", "idyne",
    "a", "e", "tert", "sec", "iso", "neo", "cyclo", "spiro", "bicyclo", "phenyl", "benzene",
)  # fmt: skip
MAX_NUMBER = 199  # larger locants share the last number id
_FIRST_NUMBER = 1 + len(MORPHEMES)  # id of the number 0
_FIRST_CHARACTER = _FIRST_NUMBER + MAX_NUMBER + 1  # id of ASCII code 0
VOCABULARY_SIZE = _FIRST_CHARACTER + 129  # 0 = padding; ASCII 0..127; 128 = other characters
_PIECES = re.compile(r"[a-z]+|[0-9]+|.", re.DOTALL)
_MORPHEME_ID = {m: i + 1 for i, m in enumerate(MORPHEMES)}
_LONGEST = max(map(len, MORPHEMES))
# What each numeral morpheme counts (P-14.2): chain carbons for a stem, copies for a
# multiplier; ``hen``/``un``/``do`` are the units of compound numerals (henicosa = 21).
NUMERAL_VALUES = {
    "meth": 1, "eth": 2, "prop": 3, "but": 4, "pent": 5, "hex": 6, "hept": 7, "oct": 8,
    "non": 9, "dec": 10, "hen": 1, "un": 1, "do": 2, "tri": 3, "tetra": 4, "penta": 5,
    "hexa": 6, "hepta": 7, "octa": 8, "nona": 9, "deca": 10, "cosa": 20, "icosa": 20,
    "cos": 20, "icos": 20, "triaconta": 30, "tetraconta": 40, "pentaconta": 50,
    "di": 2, "bis": 2, "tris": 3, "tetrakis": 4, "pentakis": 5,
}  # fmt: skip
VALUE_ONE_HOT = 30  # values 1..30 get their own feature, shared by every spelling
VALUE_FEATURES = 3 + VALUE_ONE_HOT


def morphemes(name: str) -> list[str]:
    """The name as its morphemes, numbers and other characters (joined, they are the name)."""
    out: list[str] = []
    for piece in _PIECES.findall(name.lower()):
        out.extend(_split_letters(piece) if piece.isalpha() and piece.isascii() else [piece])
    return out


def morpheme_ids(texts: list[str], max_length: int) -> torch.Tensor:
    """Texts as padded morpheme ids [n, max_length] (longer texts are cut at ``max_length``)."""
    out = torch.zeros((len(texts), max_length), dtype=torch.long)
    for i, text in enumerate(texts):
        ids = [_token_id(t) for t in morphemes(text)][:max_length]
        out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out


def value_features() -> torch.Tensor:
    """Per morpheme id, what its number means [VOCABULARY_SIZE, VALUE_FEATURES]: is it a
    numeral morpheme, is it a number (a locant), value / 10, and a one-hot of the value.

    The ids alone make ``but``, ``buta``, ``tetra`` and the locant ``4`` unrelated symbols
    to be learnt from the names they occur in; these features say that all four mean 4
    and that 4 lies between 3 and 5, so a rare stem (``but-1-ene`` among 16,000 mostly
    larger names) starts out next to its neighbours. Zero rows for everything else.
    """
    table = torch.zeros((VOCABULARY_SIZE, VALUE_FEATURES))
    numbers = [(_FIRST_NUMBER + n, 1, n) for n in range(1, MAX_NUMBER + 1)]
    morphemes_ = [(_MORPHEME_ID[m], 0, v) for m, v in NUMERAL_VALUES.items()]
    for token, is_number, value in morphemes_ + numbers:
        table[token, is_number] = 1.0
        table[token, 2] = value / 10
        if value <= VALUE_ONE_HOT:
            table[token, 2 + value] = 1.0
    return table


def _token_id(token: str) -> int:
    if token in _MORPHEME_ID:
        return _MORPHEME_ID[token]
    if token.isdigit() and token.isascii():  # (a long digit run is not parsed as a number)
        return _FIRST_NUMBER + (MAX_NUMBER if len(token) > 3 else min(int(token), MAX_NUMBER))
    code = ord(token) if len(token) == 1 else 128
    return _FIRST_CHARACTER + (code if code < 128 else 128)


@lru_cache(maxsize=65536)
def _split_letters(letters: str) -> tuple[str, ...]:
    """The fewest tokens that spell ``letters``, a lone letter no morpheme covers costing
    two (so that any split into morphemes beats spelling a piece out letter by letter)."""
    n = len(letters)
    best: list[tuple[int, int]] = [(0, 0)] + [(2 * n + 1, 0)] * n  # (cost to here, last start)
    for end in range(1, n + 1):
        for start in range(max(0, end - _LONGEST), end):
            piece = letters[start:end]
            if end - start == 1 or piece in _MORPHEME_ID:
                cost = best[start][0] + (0 if piece in _MORPHEME_ID else 1) + 1
                if cost < best[end][0]:
                    best[end] = (cost, start)
    tokens: list[str] = []
    end = n
    while end:
        start = best[end][1]
        tokens.append(letters[start:end])
        end = start
    return tuple(reversed(tokens))
