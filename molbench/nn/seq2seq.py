"""Layers of molbench's encoder-decoder transformers: SDPA attention with RoPE, pre-norm blocks.

Self-attention rotates queries and keys (RoPE, Su et al. 2021), so no position table caps
how long a source or output may be: a model trained on USPTO-15K can read USPTO-MIT's
longer reactions. Decoding runs one token at a time against a key/value cache that the
caller owns (a list per layer), so beam search can reorder it between steps.

Both :mod:`molbench.nn.name_seq2seq` and :mod:`molbench.nn.reaction_transformer` are built
from these layers; every vocabulary they read puts ``<pad>`` at id 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

KVCache = list[torch.Tensor]  # [] before the first step, then [keys, values]
PAD = 0  # <pad> in the shared SMILES vocabulary and in the name-character vocabulary


def pad(
    sequences: Sequence[Sequence[int]], dtype: torch.dtype = torch.long
) -> tuple[torch.Tensor, torch.Tensor]:
    """Id lists as one ``[rows, longest]`` tensor padded with ``<pad>``, and the lengths.

    ``dtype=torch.int16`` holds a whole augmented training set in a quarter of the memory.
    """
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    width = int(lengths.max()) if len(sequences) else 0
    ids = torch.full((len(sequences), width), PAD, dtype=dtype)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.as_tensor(sequence, dtype=dtype)
    return ids, lengths


def token_batches(order: np.ndarray, lengths: np.ndarray, max_tokens: int) -> list[np.ndarray]:
    """Cut ``order`` (rows sorted by length, e.g. within shuffled chunks) into consecutive
    batches whose padded size, rows x longest ``lengths`` in the batch, is at most
    ``max_tokens``; a single row longer than that is a batch of its own.

    What transformer recipes call token batching (Molecular Transformer: 4,096 tokens a
    batch): short sequences come many to a batch, long ones few, so each step costs about
    the same and no memory is spent on padding.
    """
    batches: list[np.ndarray] = []
    start, longest = 0, 0
    for i, length in enumerate(lengths[order].tolist()):
        longest = max(longest, length)
        if i > start and (i - start + 1) * longest > max_tokens:
            batches.append(order[start:i])
            start, longest = i, length
    if len(order) > start:
        batches.append(order[start:])
    return batches


def rotate(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """RoPE on ``[batch, heads, length, head_dim]`` at the given positions (computed in fp32)."""
    half = x.shape[-1] // 2
    frequencies = 10000.0 ** (-torch.arange(half, device=x.device, dtype=torch.float32) / half)
    angles = positions.float()[:, None] * frequencies
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., :half].float(), x[..., half:].float()
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).type_as(x)


class Attention(nn.Module):
    """Multi-head attention through SDPA; ``rotary`` rotates queries and keys (self-attention)."""

    def __init__(self, d_model: int, heads: int, dropout: float, rotary: bool) -> None:
        super().__init__()
        if d_model % heads or (d_model // heads) % 2:
            raise ValueError(f"d_model {d_model} must split into {heads} heads of even size")
        self.heads, self.dropout, self.rotary = heads, dropout, rotary
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)
        self.output = nn.Linear(d_model, d_model)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, -1).transpose(1, 2)

    def keys_values(
        self, x: torch.Tensor, positions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = (self._split(t) for t in self.key_value(x).chunk(2, dim=-1))
        return (rotate(k, positions) if self.rotary else k), v

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
    ) -> torch.Tensor:
        q = self._split(self.query(x))
        if self.rotary:
            q = rotate(q, positions)
        y = F.scaled_dot_product_attention(
            q, k, v, mask, self.dropout if self.training else 0.0, is_causal=causal
        )
        return self.output(y.transpose(1, 2).flatten(2))


class Block(nn.Module):
    """Pre-norm transformer layer; with ``cross`` it also attends to the encoder's states."""

    def __init__(
        self, d_model: int, heads: int, dropout: float, cross: bool, d_ff: int | None = None
    ) -> None:
        super().__init__()
        d_ff = d_ff or 4 * d_model
        self.self_norm = nn.LayerNorm(d_model)
        self.self_attention = Attention(d_model, heads, dropout, rotary=True)
        if cross:
            self.cross_norm = nn.LayerNorm(d_model)
            self.cross_attention = Attention(d_model, heads, dropout, rotary=False)
        self.ff_norm = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        memory: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        cache: KVCache | None = None,
        beams: int = 1,
    ) -> torch.Tensor:
        """``memory``: the cross-attention keys, values and key mask; ``cache``: past self keys
        and values (empty at the first step), extended in place while decoding.

        ``beams``: ``x`` holds that many consecutive hypotheses of one step per memory row
        (beam search); they query the memory together instead of each reading a copy of it.
        """
        h = self.self_norm(x)
        k, v = self.self_attention.keys_values(h, positions)
        if cache is not None:
            if cache:
                k, v = torch.cat((cache[0], k), dim=2), torch.cat((cache[1], v), dim=2)
            cache[:] = [k, v]
        x = x + self.drop(self.self_attention(h, positions, k, v, mask, causal))
        if memory is not None:
            memory_k, memory_v, memory_mask = memory
            h = self.cross_norm(x)
            if beams > 1:
                h = h.reshape(-1, beams, h.shape[-1])  # one query per beam, one memory per row
            y = self.cross_attention(h, positions, memory_k, memory_v, memory_mask)
            x = x + self.drop(y.reshape(x.shape))
        return x + self.drop(self.ff(self.ff_norm(x)))


def encode_source(
    blocks: nn.ModuleList, norm: nn.LayerNorm, x: torch.Tensor, source: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder states of embedded ``x`` and the key mask (``True`` = a real token of
    ``source``) for cross-attention."""
    mask = (source != PAD)[:, None, None, :]
    positions = torch.arange(source.shape[1], device=source.device)
    for block in blocks:
        x = block(x, positions, mask=mask)
    return norm(x), mask


def cross_memory(
    decoder: nn.ModuleList, states: torch.Tensor, mask: torch.Tensor
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Each decoder block's cross-attention keys, values and key mask, computed once."""
    positions = torch.arange(states.shape[1], device=states.device)
    return [(*b.cross_attention.keys_values(states, positions), mask) for b in decoder]


def teacher_forced(
    decoder: nn.ModuleList,
    x: torch.Tensor,
    memory: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> torch.Tensor:
    """Decoder states of embedded targets ``x`` (all positions at once, causal), for training."""
    positions = torch.arange(x.shape[1], device=x.device)
    for block, block_memory in zip(decoder, memory, strict=True):
        x = block(x, positions, causal=True, memory=block_memory)
    return x


def reorder(caches: list[KVCache], index: torch.Tensor) -> None:
    """Keep the cached rows ``index`` (in that order) of every layer: beams that survived."""
    for cache in caches:
        cache[:] = [t.index_select(0, index) for t in cache]
