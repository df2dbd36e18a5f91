"""Name ↔ structure translation on ``hydrocarbon_names``: a small encoder-decoder transformer.

One class serves both directions: ``name2smiles`` reads the characters of an IUPAC name and
writes SMILES tokens of molbench's shared vocabulary (a learned OPSIN); ``smiles2name`` reads
the ``smiles_tokens`` column and writes name characters. Attention is PyTorch's SDPA with
rotary position embeddings (RoPE) in self-attention, so there is no position table capping
the length a model reads or writes: ``hydrocarbon_names_size_ood`` asks for longer names than
any seen in training. Decoding is greedy, batched and uses a key/value cache.

The SMILES a name2smiles model learns to write need not be RDKit's canonical one (scoring
compares InChIs): with ``smiles_order="condensed"`` it is written along the main chain of the
row's condensed formula, a longest chain as the name's parent is, so the name's locants
count along the output; that learns far faster than RDKit's canonical atom order.

``predict(table, device)`` returns ``{"smiles": ...}`` or ``{"name": ...}``, the contract of
the ``molbench.models`` registry.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn
from torch.nn import functional as F

from molbench.chem.notation import parse_condensed, write
from molbench.chem.tokens import SPECIALS, load_vocabulary
from molbench.hyperparameters import Choice, Float, Int
from molbench.nn.seq2seq import Block, cross_memory, encode_source, pad, teacher_forced

log = logging.getLogger(__name__)

NAME_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789,-()[] "
# The specials share their ids with the SMILES vocabulary's, so both sides pad, start and
# stop with the same ids.
NAME_VOCABULARY = (*SPECIALS[:4], *NAME_CHARACTERS)
PAD, UNK, BOS, EOS = range(4)
DIRECTIONS = ("name2smiles", "smiles2name")
SMILES_ORDERS = ("canonical", "condensed")
_NAME_INDEX = {c: i for i, c in enumerate(NAME_VOCABULARY)}


def encode_names(names: Iterable[str]) -> tuple[list[list[int]], int]:
    """Character ids of each (lower-cased) name between ``<bos>`` and ``<eos>``.

    Also returns how many characters fell outside ``NAME_CHARACTERS`` and became ``<unk>``,
    so a caller can report it instead of silently reading a different name.
    """
    out, unknown = [], 0
    for name in names:
        ids = [_NAME_INDEX.get(c, UNK) for c in name.lower()]
        unknown += ids.count(UNK)
        out.append([BOS, *ids, EOS])
    return out, unknown


def decode_name(ids: Iterable[int]) -> str:
    """A name from character ids: ``<eos>`` ends it, other special ids are dropped."""
    chars = []
    for i in map(int, ids):
        if not 0 <= i < len(NAME_VOCABULARY):
            raise ValueError(f"id {i} is outside the name vocabulary (size {len(NAME_VOCABULARY)})")
        if i == EOS:
            break
        if i > EOS:
            chars.append(NAME_VOCABULARY[i])
    return "".join(chars)


def condensed_smiles(condensed: str) -> str:
    """A plain SMILES in the atom order of a condensed formula: main chain, branches in place.

    That main chain is a longest chain, as the IUPAC 2013 parent is; on hydrocarbon_names it
    is the name's parent numbered the name's way for about 70% of rows (reversed for 12%).
    """
    return re.sub(r"\[(C)[^\]]*\]", r"\1", write(parse_condensed(condensed)).smiles)


class NameSeq2Seq(nn.Module):
    """Encoder-decoder transformer between IUPAC names and SMILES, in either ``direction``."""

    hyperparameter_schema = MappingProxyType(
        {
            "direction": Choice(DIRECTIONS),
            "d_model": Int(1, 4096),
            "heads": Int(1, 64),
            "encoder_layers": Int(1, 64),
            "decoder_layers": Int(1, 64),
            "dropout": Float(0, 1, False),
            "max_output_length": Int(1, 4096, False),
            "smiles_order": Choice(SMILES_ORDERS, False),
        }
    )

    def __init__(
        self,
        direction: str = "name2smiles",
        d_model: int = 64,
        heads: int = 4,
        encoder_layers: int = 2,
        decoder_layers: int = 2,
        dropout: float = 0.0,
        max_output_length: int = 160,
        smiles_order: str = "canonical",
    ) -> None:
        super().__init__()
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        if smiles_order not in SMILES_ORDERS or (
            smiles_order != "canonical" and direction != "name2smiles"
        ):
            raise ValueError(
                f"smiles_order must be one of {', '.join(SMILES_ORDERS)} (other than canonical "
                f"only for name2smiles targets), got {smiles_order!r} for {direction}"
            )
        self.direction, self.max_output_length = direction, max_output_length
        self.smiles_order = smiles_order
        self.smiles_vocabulary = load_vocabulary()
        names, smiles = len(NAME_VOCABULARY), len(self.smiles_vocabulary)
        source_size, target_size = (
            (names, smiles) if direction == "name2smiles" else (smiles, names)
        )
        self.source_embedding = nn.Embedding(source_size, d_model, padding_idx=PAD)
        self.target_embedding = nn.Embedding(target_size, d_model, padding_idx=PAD)
        self.encoder = nn.ModuleList(
            Block(d_model, heads, dropout, cross=False) for _ in range(encoder_layers)
        )
        self.decoder = nn.ModuleList(
            Block(d_model, heads, dropout, cross=True) for _ in range(decoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(d_model)
        self.decoder_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, target_size)

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any]) -> NameSeq2Seq:
        return cls(
            hp["direction"],
            hp["d_model"],
            hp["heads"],
            hp["encoder_layers"],
            hp["decoder_layers"],
            hp.get("dropout", 0.0),
            hp.get("max_output_length", 160),
            hp.get("smiles_order", "canonical"),
        )

    @property
    def output_column(self) -> str:
        return "smiles" if self.direction == "name2smiles" else "name"

    # ------------------------------------------------------------------ ids of a text table

    def source_ids(self, table: pa.Table) -> list[list[int]]:
        """What the encoder reads per row: name characters or the ``smiles_tokens`` column."""
        if self.direction == "name2smiles":
            ids, unknown = encode_names(table["name"].to_pylist())
            if unknown:
                log.warning("%d name characters are outside the name vocabulary: <unk>", unknown)
            return ids
        return table["smiles_tokens"].to_pylist()

    def target_ids(self, table: pa.Table) -> list[list[int]]:
        """What the decoder learns to write per row, between ``<bos>`` and ``<eos>``."""
        if self.direction == "name2smiles" and self.smiles_order == "condensed":
            encode = self.smiles_vocabulary.encode
            return [encode(condensed_smiles(c)) for c in table["condensed"].to_pylist()]
        if self.direction == "name2smiles":
            return table["smiles_tokens"].to_pylist()
        ids, unknown = encode_names(table["name"].to_pylist())
        if unknown:
            raise ValueError(f"{unknown} name characters are outside the name vocabulary")
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The output text of one row of generated ids."""
        if self.direction == "name2smiles":
            return self.smiles_vocabulary.decode(ids)
        return decode_name(ids)

    # ------------------------------------------------------------------ network

    def encode(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states and the key mask (``True`` = a real token) for cross-attention."""
        return encode_source(self.encoder, self.encoder_norm, self.source_embedding(source), source)

    def forward(self, source: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        """Next-token logits ``[batch, target length, vocabulary]`` under teacher forcing."""
        memory = cross_memory(self.decoder, *self.encode(source))
        x = teacher_forced(self.decoder, self.target_embedding(target_in), memory)
        return self.head(self.decoder_norm(x))

    def loss(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Token cross-entropy of ``target`` (``<bos>`` … ``<eos>``, padded) given ``source``."""
        logits = self(source, target[:, :-1])
        return F.cross_entropy(
            logits.float().flatten(0, 1), target[:, 1:].flatten(), ignore_index=PAD
        )

    def sequence_log_probs(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``log P(target | source)`` per row [batch]: :meth:`loss`'s token terms, summed
        over each row's real tokens (``<eos>`` included) instead of averaged."""
        logits = self(source, target[:, :-1]).float()
        token_log_p = -F.cross_entropy(
            logits.transpose(1, 2), target[:, 1:], ignore_index=PAD, reduction="none"
        )
        return token_log_p.sum(1)

    @torch.no_grad()
    def generate(self, source: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
        """Greedy output ids ``[batch, ≤ max_length]`` (no ``<bos>``; ``<pad>`` after ``<eos>``)."""
        max_length = max_length or self.max_output_length
        memory = cross_memory(self.decoder, *self.encode(source))
        caches: list[list[torch.Tensor]] = [[] for _ in self.decoder]
        token = torch.full((source.shape[0], 1), BOS, device=source.device)
        done = torch.zeros(source.shape[0], dtype=torch.bool, device=source.device)
        out = []
        for step in range(max_length):
            positions = torch.tensor([step], device=source.device)
            x = self.target_embedding(token)
            for block, block_memory, cache in zip(self.decoder, memory, caches, strict=True):
                x = block(x, positions, memory=block_memory, cache=cache)
            token = self.head(self.decoder_norm(x[:, -1])).argmax(-1, keepdim=True)
            token = token.masked_fill(done[:, None], PAD)
            out.append(token)
            done |= token[:, 0] == EOS
            if bool(done.all()):
                break
        return torch.cat(out, dim=1)

    @torch.no_grad()
    def predict(self, table: pa.Table, device: str = "cpu", batch_size: int = 256) -> dict:
        """The generated ``smiles`` (name2smiles) or ``name`` (smiles2name) of every row."""
        self.eval()
        sources = self.source_ids(table)
        order = np.argsort([len(s) for s in sources], kind="stable")  # less padding per batch
        texts = np.empty(len(sources), dtype=object)
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if device.startswith("cuda")
            else contextlib.nullcontext()
        )
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            source, _ = pad([sources[i] for i in rows])
            with autocast:
                generated = self.generate(source.to(device)).cpu()
            for row, ids in zip(rows, generated.tolist(), strict=True):
                texts[row] = self.decode(ids)
        return {self.output_column: texts}
