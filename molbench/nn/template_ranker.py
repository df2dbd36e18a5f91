"""A learned ranker of template products (Coley et al. 2017, ACS Cent. Sci. 3, 434).

Every product the training templates give a reaction is a candidate; a small network
scores each from what its rule changed (sparse edit and local-environment features, see
:mod:`molbench.chem.template_features`), the reactants as context, and how often its
rules were seen in training; a softmax over one reaction's candidates is trained to put
the recorded product first. Scoring candidates rather than predicting the rule (Segler
and Waller's template relevance) is the choice because one rule often gives several
products (two amines, two sites of one ring) and only the product-level view can tell
them apart; the frequency features keep the relevance prior as an input.

Torch only: the features come in as arrays, so training needs no RDKit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import nn

from molbench.hyperparameters import Float, Int

__all__ = [
    "N_COUNT_FEATURES",
    "CandidateArrays",
    "TemplateRanker",
    "count_features",
    "flat_offsets",
    "nested_offsets",
]

N_COUNT_FEATURES = 4


def _segments(lengths: np.ndarray) -> np.ndarray:
    """Segment index of every element, for segments of the given lengths."""
    return np.repeat(np.arange(len(lengths)), lengths)


def count_features(
    rule_offsets: np.ndarray, rule_counts: np.ndarray, cand_offsets: np.ndarray
) -> np.ndarray:
    """Per candidate: log counts of its best and all its rules, how many, frequency rank.

    ``rule_counts[rule_offsets[c]:rule_offsets[c + 1]]`` are the training counts of
    candidate c's rules as its reaction may see them (a training reaction's own rule
    counted without it). The rank orders a reaction's
    candidates by best count, first seen first among ties, as the frequency baseline does.
    """
    n = len(rule_offsets) - 1
    lengths = np.diff(rule_offsets)
    owner = _segments(lengths)
    best = np.zeros(n)
    np.maximum.at(best, owner, rule_counts)
    total = np.bincount(owner, weights=rule_counts, minlength=n)
    seen = np.bincount(owner, weights=(rule_counts > 0).astype(float), minlength=n)
    reaction = _segments(np.diff(cand_offsets))
    order = np.lexsort((np.arange(n), -best, reaction))
    rank = np.empty(n)
    rank[order] = np.arange(n) - cand_offsets[reaction[order]]
    return np.stack([np.log1p(best), np.log1p(total), np.log1p(seen), np.log1p(rank)], axis=1)


@dataclass
class CandidateArrays:
    """Every reaction's candidates and their features, flat (EmbeddingBag layout).

    Reaction r owns candidates ``cand_offsets[r]:cand_offsets[r + 1]``; candidate c owns
    sparse features ``feat_offsets[c]:feat_offsets[c + 1]`` of ``ids``/``values`` and row c
    of ``dense``; reaction r's reactant fingerprint is its slice of ``context_*``.
    """

    cand_offsets: np.ndarray
    feat_offsets: np.ndarray
    ids: np.ndarray
    values: np.ndarray
    dense: np.ndarray
    context_offsets: np.ndarray
    context_ids: np.ndarray
    context_values: np.ndarray

    @classmethod
    def from_table(cls, table: pa.Table, dense: np.ndarray) -> CandidateArrays:
        """From the featurizer's rows (``ids``/``values`` per candidate, ``context_*`` per
        reaction); ``dense``: one row per candidate, in order."""
        cand_offsets, feat_offsets, ids = nested_offsets(table["ids"])
        _, _, values = nested_offsets(table["values"])
        context_offsets, context_ids = flat_offsets(table["context_ids"])
        _, context_values = flat_offsets(table["context_values"])
        return cls(
            cand_offsets, feat_offsets, ids, values.astype(np.float32), dense,
            context_offsets, context_ids, context_values.astype(np.float32),
        )  # fmt: skip

    @property
    def n_reactions(self) -> int:
        return len(self.cand_offsets) - 1

    def select(self, keep: np.ndarray) -> CandidateArrays:
        """The same reactions with only the candidates where ``keep`` is true."""
        reaction = _segments(np.diff(self.cand_offsets))
        per_reaction = np.bincount(reaction[keep], minlength=self.n_reactions)
        lengths = np.diff(self.feat_offsets)[keep]
        starts = self.feat_offsets[:-1][keep]
        flat = _ranges(starts, lengths)
        return CandidateArrays(
            np.concatenate([[0], np.cumsum(per_reaction)]).astype(np.int64),
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            self.ids[flat],
            self.values[flat],
            self.dense[keep],
            self.context_offsets,
            self.context_ids,
            self.context_values,
        )

    def batch(self, rows: Sequence[int], targets: Sequence[int] | None = None) -> dict:
        """Tensors of reactions ``rows``; ``targets``: per row the true candidate (-1: none)."""
        rows = np.asarray(rows, dtype=np.int64)
        c_start, c_len = self.cand_offsets[rows], np.diff(self.cand_offsets)[rows]
        cands = _ranges(c_start, c_len)
        f_start, f_len = self.feat_offsets[cands], np.diff(self.feat_offsets)[cands]
        feats = _ranges(f_start, f_len)
        x_start, x_len = self.context_offsets[rows], np.diff(self.context_offsets)[rows]
        context = _ranges(x_start, x_len)
        return {
            "ids": torch.from_numpy(self.ids[feats].astype(np.int64)),
            "weights": torch.from_numpy(np.log1p(self.values[feats]).astype(np.float32)),
            "offsets": torch.from_numpy(
                np.concatenate([[0], np.cumsum(f_len)[:-1]]).astype(np.int64)
            ),
            "context_ids": torch.from_numpy(self.context_ids[context].astype(np.int64)),
            "context_weights": torch.from_numpy(
                np.log1p(self.context_values[context]).astype(np.float32)
            ),
            "context_offsets": torch.from_numpy(
                np.concatenate([[0], np.cumsum(x_len)[:-1]]).astype(np.int64)
            ),
            "dense": torch.from_numpy(self.dense[cands].astype(np.float32)),
            "reaction": torch.from_numpy(_segments(c_len).astype(np.int64)),
            "target": torch.tensor(
                list(targets) if targets is not None else [-1] * len(rows), dtype=torch.int64
            ),
        }


def flat_offsets(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, values) of a list column: row r is ``values[offsets[r]:offsets[r + 1]]``."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return offsets, array.flatten().to_numpy(zero_copy_only=False)


def nested_offsets(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(outer offsets, inner offsets, values) of a list-of-lists column."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    outer = np.concatenate([[0], np.cumsum(pc.list_value_length(array).to_numpy())])
    inner, values = flat_offsets(array.flatten())
    return outer.astype(np.int64), inner, values


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenated index ranges ``start:start + length``."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(starts - (ends - lengths), lengths)
    return np.arange(total, dtype=np.int64) + shift


class TemplateRanker(nn.Module):
    """Scores template candidates: sparse candidate features x reactant context -> logit."""

    hyperparameter_schema = MappingProxyType(
        {
            "bits": Int(16, 1 << 22),
            "context_bits": Int(16, 1 << 22),
            "hidden": Int(1, 4096),
            "n_dense": Int(0, 1024),
            "dropout": Float(0.0, 0.99),
        }
    )

    def __init__(
        self, bits: int, context_bits: int, hidden: int, n_dense: int, dropout: float
    ) -> None:
        super().__init__()
        self.candidate = nn.EmbeddingBag(3 * bits, hidden, mode="sum")
        self.context = nn.EmbeddingBag(context_bits, hidden, mode="sum")
        self.score = nn.Sequential(
            nn.Linear(3 * hidden + n_dense, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )
        for bag in (self.candidate, self.context):
            nn.init.normal_(bag.weight, std=0.05)

    @classmethod
    def from_hyperparameters(cls, hp: dict) -> TemplateRanker:
        return cls(hp["bits"], hp["context_bits"], hp["hidden"], hp["n_dense"], hp["dropout"])

    def forward(self, batch: dict) -> torch.Tensor:
        """One logit per candidate, in batch order."""
        c = self.candidate(batch["ids"], batch["offsets"], per_sample_weights=batch["weights"])
        r = self.context(
            batch["context_ids"],
            batch["context_offsets"],
            per_sample_weights=batch["context_weights"],
        )[batch["reaction"]]
        return self.score(torch.cat([c, r, c * r, batch["dense"]], dim=1)).squeeze(1)

    @staticmethod
    def loss(scores: torch.Tensor, batch: dict) -> torch.Tensor:
        """Mean softmax cross-entropy of the true candidate over each reaction's candidates."""
        reaction, target = batch["reaction"], batch["target"]
        n = len(target)
        counts = torch.bincount(reaction, minlength=n)
        starts = torch.cumsum(counts, 0) - counts
        width = int(counts.max())
        position = torch.arange(len(reaction)) - starts[reaction]
        padded = torch.full((n, width), -torch.inf, dtype=scores.dtype)
        padded[reaction, position] = scores
        keep = target >= 0
        return nn.functional.cross_entropy(padded[keep], target[keep])
