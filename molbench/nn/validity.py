"""Validity classifiers: a GINE graph network and a character-level transformer.

Both expose ``from_hyperparameters`` and ``predict(table, device) -> {"score": p_valid}``,
the contract of the ``molbench.models`` registry.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from molbench.hyperparameters import Choice, Float, Int
from molbench.torch_data import GraphBatcher, encode_strings

MAX_H = 7  # hydrogen counts are clipped here for the embedding (invalid rows reach 5)
MAX_ORDER = 3
SMILES_VOCABULARY = ["[PAD]", "[CLS]", "[UNK]", *"[]()=#CH0123456789"]


class GINE(nn.Module):
    """GIN with edge features (Hu et al. 2020), max-pooled: invalid if any atom is."""

    hyperparameter_schema = MappingProxyType(
        {"hidden": Int(1, 4096), "layers": Int(1, 64), "dropout": Float(0, 1, False)}
    )

    def __init__(self, hidden: int = 64, layers: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        from torch_geometric.nn import GINEConv

        self.dropout = dropout
        self.atom_embedding = nn.Embedding(MAX_H + 1, hidden)
        self.bond_embedding = nn.Embedding(MAX_ORDER + 1, hidden)
        self.convs = nn.ModuleList(
            GINEConv(
                nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)),
                train_eps=True,
            )
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any]) -> GINE:
        return cls(hidden=hp["hidden"], layers=hp["layers"], dropout=hp.get("dropout", 0.0))

    def forward(self, batch: Any) -> torch.Tensor:
        from torch_geometric.nn import global_max_pool

        x = self.atom_embedding(batch.x.clamp(max=MAX_H))
        e = self.bond_embedding(batch.edge_attr.clamp(max=MAX_ORDER))
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = x + nn.functional.dropout(
                torch.relu(norm(conv(x, batch.edge_index, e))), self.dropout, self.training
            )
        return self.head(global_max_pool(x, batch.batch)).squeeze(1)

    @torch.no_grad()
    def predict(self, table: pa.Table, device: str = "cpu", batch_size: int = 512) -> dict:
        self.eval()
        batcher = GraphBatcher(table, label_column=None)
        scores = [
            torch.sigmoid(self(b.to(device))).float().cpu() for b in batcher.batches(batch_size)
        ]
        return {"score": torch.cat(scores).numpy().astype(np.float64)}


class CharTransformer(nn.Module):
    """A small transformer encoder over SMILES characters.

    ``pool="max"`` classifies the element-wise maximum of the character states, so one
    character that sees a broken valence can flag the molecule, as in the GINE readout;
    ``pool="cls"`` classifies the [CLS] state.
    """

    hyperparameter_schema = MappingProxyType(
        {
            "d_model": Int(1, 4096),
            "heads": Int(1, 64),
            "layers": Int(1, 64),
            "max_length": Int(1, 8192),
            "dropout": Float(0, 1, False),
            "pool": Choice(("max", "cls"), False),
        }
    )

    def __init__(
        self,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 3,
        max_length: int = 256,
        dropout: float = 0.0,
        pool: str = "max",
    ) -> None:
        super().__init__()
        if pool not in ("max", "cls"):
            raise ValueError(f"pool must be 'max' or 'cls', got {pool!r}")
        self.max_length, self.pool = max_length, pool
        self.token_embedding = nn.Embedding(len(SMILES_VOCABULARY), d_model, padding_idx=0)
        self.position_embedding = nn.Embedding(max_length, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, 2 * d_model, dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, 1)

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any]) -> CharTransformer:
        return cls(
            hp["d_model"],
            hp["heads"],
            hp["layers"],
            hp["max_length"],
            hp.get("dropout", 0.0),
            hp.get("pool", "max"),
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.token_embedding(ids) + self.position_embedding(positions)
        padding = ids == 0
        x = self.norm(self.encoder(x, src_key_padding_mask=padding))
        if self.pool == "cls":
            return self.head(x[:, 0]).squeeze(1)
        pooled = x.masked_fill(padding.unsqueeze(-1), float("-inf")).amax(dim=1)
        return self.head(pooled).squeeze(1)

    def encode(self, table: pa.Table) -> tuple[torch.Tensor, torch.Tensor]:
        return encode_strings(table["smiles"].to_pylist(), SMILES_VOCABULARY, self.max_length)

    @torch.no_grad()
    def predict(self, table: pa.Table, device: str = "cpu", batch_size: int = 512) -> dict:
        self.eval()
        ids, lengths = self.encode(table)
        scores = []
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            chunk = chunk[:, : int(lengths[start : start + batch_size].max())].to(device)
            scores.append(torch.sigmoid(self(chunk)).float().cpu())
        return {"score": torch.cat(scores).numpy().astype(np.float64)}
