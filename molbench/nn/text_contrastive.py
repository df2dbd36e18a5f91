"""A contrastive structure-text model (Text2Mol / MoleculeSTM style) for the text dataset.

A GINE network encodes the molecule graph columns; the text side is a frozen
``transformers`` encoder (all-MiniLM-L6-v2 unless the model names another, see
:mod:`molbench.nn.text_encoder`): its token states (or pooled sentence embeddings) are
computed once and only attention pooling + a projection head on top of them is trained.
Optionally (``char_width`` > 0) a small trainable CNN reads the text itself, as characters
or as IUPAC morphemes (``char_units``, :mod:`molbench.nn.name_morphemes`), and its pooled
states join the frozen encoder's before the projection: word pieces blur locant lists
(``nona-1,3,5,6,7-pentaene`` vs ``nona-1,3,4,6,7-pentaene``), characters and morphemes do not.
Both sides meet in a shared unit sphere, trained with the symmetric InfoNCE loss of CLIP
and a learnable temperature.
``predict(table, device)`` returns the text task's ``text_embedding`` and ``mol_embedding``
columns (float32 vectors of ``dim``, as fixed-size list arrays).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from molbench.hyperparameters import SHA256_HEX, Choice, Int, Text
from molbench.nn import name_morphemes
from molbench.nn.atom_features import AtomFeatureEmbedding
from molbench.nn.text_encoder import MINILM, EncoderId, embed_text_tokens, embed_texts
from molbench.torch_data import GraphBatch, _ranges

BOND_SIZES = 7  # bond order x 2: single 2, aromatic 3, double 4, triple 6
MAX_LOGIT_SCALE = 100.0
TEXT_INPUTS = ("sentence", "tokens", "none")  # none: the character encoder alone
CHAR_COUNT_SCALE = 0.125  # keeps the character count features' sums near unit size
CHAR_VOCABULARY = 129  # 0 = padding, 1..127 = ASCII code + 1, 128 = any other character
CHAR_DILATIONS = (1, 2, 4)  # cycled over the character CNN's layers (kernel 3)
CHAR_ATTENTION_HEADS = 4  # heads of each self-attention layer over the character states
COUNT_TARGETS = ("heavy_atoms", "hydrogens", "double_bonds", "triple_bonds", "branches", "ends")


class MoleculeGraphs:
    """The graph columns of a table (each bond once) as flat arrays, batched by row.

    Edges are returned in both directions, as message passing expects.
    """

    def __init__(self, table: pa.Table) -> None:
        atoms = table["atom_features"].combine_chunks()
        orders = table["bond_orders"].combine_chunks()
        self.node_offsets = _relative(atoms.offsets.to_numpy())
        self.edge_offsets = _relative(orders.offsets.to_numpy())
        self.x = atoms.flatten().flatten().to_numpy().astype(np.int64).reshape(-1, 8)
        self.bond = np.rint(2 * orders.flatten().to_numpy()).astype(np.int64)
        flat = table["edge_index"].combine_chunks().flatten().flatten().to_numpy()
        counts = np.diff(self.edge_offsets)
        row = np.repeat(np.arange(len(counts)), counts)
        k = np.arange(len(row)) - self.edge_offsets[:-1][row]
        base = 2 * self.edge_offsets[:-1][row] + k  # row i: E_i sources, then E_i targets
        self.src = flat[base].astype(np.int64)
        self.dst = flat[base + counts[row]].astype(np.int64)

    def __len__(self) -> int:
        return len(self.node_offsets) - 1

    def batch(self, rows: np.ndarray) -> GraphBatch:
        nodes = _ranges(self.node_offsets[rows], self.node_offsets[rows + 1])
        edges = _ranges(self.edge_offsets[rows], self.edge_offsets[rows + 1])
        n_nodes = np.diff(self.node_offsets)[rows]
        shift = np.repeat(
            np.concatenate([[0], np.cumsum(n_nodes)[:-1]]), np.diff(self.edge_offsets)[rows]
        )
        src, dst = self.src[edges] + shift, self.dst[edges] + shift
        return GraphBatch(
            torch.from_numpy(self.x[nodes]),
            torch.from_numpy(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])])),
            torch.from_numpy(np.tile(self.bond[edges], 2)),
            torch.from_numpy(np.repeat(np.arange(len(rows)), n_nodes)),
            len(rows),
            None,
        )

    def batches(self, batch_size: int) -> Iterator[GraphBatch]:
        for start in range(0, len(self), batch_size):
            yield self.batch(np.arange(start, min(start + batch_size, len(self))))

    def counts(self) -> np.ndarray:
        """Per molecule [n, len(COUNT_TARGETS)]: heavy atoms, hydrogens, double and triple
        bonds, branch atoms (degree >= 3) and chain ends (degree 1), as float32."""
        atom_row = np.repeat(np.arange(len(self)), np.diff(self.node_offsets))
        bond_row = np.repeat(np.arange(len(self)), np.diff(self.edge_offsets))

        def per_atom(values: np.ndarray) -> np.ndarray:
            return np.bincount(atom_row, values, minlength=len(self))

        def per_bond(values: np.ndarray) -> np.ndarray:
            return np.bincount(bond_row, values, minlength=len(self))

        hydrogens, degree = self.x[:, 2], self.x[:, 3]
        columns = [
            per_atom(np.ones(len(self.x))),
            per_atom(hydrogens),
            per_bond(self.bond == 4),  # bond order x 2: double
            per_bond(self.bond == 6),  # triple
            per_atom(degree >= 3),
            per_atom(degree == 1),
        ]
        return np.stack(columns, 1).astype(np.float32)

    def formulas(self) -> np.ndarray:
        """A group id per molecule: equal ids = equal molecular formula (atoms + hydrogens)."""
        keys: dict[bytes, int] = {}
        out = np.zeros(len(self), dtype=np.int64)
        for i in range(len(self)):
            atoms = self.x[self.node_offsets[i] : self.node_offsets[i + 1]]
            elements = np.bincount(atoms[:, 0], minlength=120)
            key = np.append(elements, atoms[:, 2].sum()).tobytes()
            out[i] = keys.setdefault(key, len(keys))
        return out


class TextFeatures:
    """Frozen encoder features of texts, row-batchable: sentence vectors or token states.

    ``kind="sentence"``: the mean-pooled embedding; ``kind="tokens"``: every token's
    last-layer state (ragged), padded per batch with a mask. Both are computed once and
    cached under the molbench root, so training never runs the encoder.
    """

    def __init__(
        self,
        texts: list[str],
        kind: str,
        encoder: EncoderId = MINILM,
        device: str = "cpu",
        progress: bool = False,
        chars: int = 0,
        units: str = "characters",
    ) -> None:
        if kind not in TEXT_INPUTS:
            raise ValueError(f"text_input must be one of {', '.join(TEXT_INPUTS)}, got {kind!r}")
        self.kind = kind
        self.size = len(texts)
        if kind == "none":
            pass  # the character ids alone: no frozen encoder is run
        elif kind == "sentence":
            self.vectors = torch.from_numpy(embed_texts(texts, encoder, device, progress=progress))
        else:
            flat, offsets = embed_text_tokens(texts, encoder, device, progress=progress)
            self.flat, self.offsets = _layer_norm(torch.from_numpy(flat)), offsets
        self.chars = unit_ids(texts, chars, units) if chars else None

    def __len__(self) -> int:
        return self.size

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        """The model's text inputs for ``rows``: (vectors,) or (states [b, L, dim], mask),
        followed by the character ids [b, C] when ``chars`` was asked for."""
        frozen = self._frozen(rows)
        if self.chars is None:
            return frozen
        chars = self.chars[rows]
        longest = max(int((chars > 0).sum(1).max()), 1)
        return (*frozen, chars[:, :longest])

    def _frozen(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        if self.kind == "none":
            return ()
        if self.kind == "sentence":
            return (self.vectors[rows],)
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        lengths = ends - starts
        flat_rows = _ranges(starts, ends)
        row = np.repeat(np.arange(len(rows)), lengths)
        position = flat_rows - np.repeat(starts, lengths)
        states = torch.zeros((len(rows), int(lengths.max()), self.flat.shape[1]))
        states[row, position] = self.flat[flat_rows].float()
        mask = torch.zeros((len(rows), int(lengths.max())), dtype=torch.bool)
        mask[row, position] = True
        return states, mask

    def batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, ...]]:
        for start in range(0, self.size, batch_size):
            yield self.batch(np.arange(start, min(start + batch_size, self.size)))


def char_ids(texts: list[str], max_length: int) -> torch.Tensor:
    """Texts as padded character ids [n, max_length] (longer texts are cut at ``max_length``)."""
    out = torch.zeros((len(texts), max_length), dtype=torch.long)
    for i, text in enumerate(texts):
        codes = [ord(c) + 1 if ord(c) < 128 else CHAR_VOCABULARY - 1 for c in text[:max_length]]
        out[i, : len(codes)] = torch.tensor(codes, dtype=torch.long)
    return out


class Units(NamedTuple):
    """What the name encoder reads: the vocabulary size, the padded ids of texts, and the
    fixed value features per id (``None`` where the units have no numeral values)."""

    size: int
    ids: Callable[[list[str], int], torch.Tensor]
    values: Callable[[], torch.Tensor] | None = None


# characters, or IUPAC morphemes (molbench.nn.name_morphemes)
UNIT_VOCABULARIES = {
    "characters": Units(CHAR_VOCABULARY, char_ids),
    name_morphemes.VOCABULARY_VERSION: Units(
        name_morphemes.VOCABULARY_SIZE,
        name_morphemes.morpheme_ids,
        name_morphemes.value_features,
    ),
}
CHAR_UNITS = tuple(UNIT_VOCABULARIES)


def unit_vocabulary(units: str) -> Units:
    """The vocabulary of ``units``; ValueError for unknown units."""
    if units not in UNIT_VOCABULARIES:
        raise ValueError(f"char_units must be one of {', '.join(CHAR_UNITS)}, got {units!r}")
    return UNIT_VOCABULARIES[units]


def unit_ids(texts: list[str], max_length: int, units: str = "characters") -> torch.Tensor:
    """Texts as padded ids of ``units`` (one of :data:`CHAR_UNITS`) [n, max_length]."""
    return unit_vocabulary(units).ids(texts, max_length)


def isomer_order(groups: np.ndarray, cluster: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of the rows in which rows of one group (molecular formula) come in runs
    of up to ``cluster``, the runs shuffled: consecutive batches then hold isomers, so the
    in-batch negatives include the ones a name's locants alone tell apart.

    ``cluster`` <= 1: a plain random permutation.
    """
    if cluster <= 1:
        return rng.permutation(len(groups))
    order = np.lexsort((rng.random(len(groups)), groups))  # by group, random within it
    g = groups[order]
    index = np.arange(len(g))
    first = np.r_[True, g[1:] != g[:-1]]
    position = index - np.maximum.accumulate(np.where(first, index, 0))
    run = np.cumsum(first | (position % cluster == 0)) - 1
    rank = np.empty(run[-1] + 1, dtype=np.int64)
    rank[rng.permutation(len(rank))] = np.arange(len(rank))
    return order[np.argsort(rank[run], kind="stable")]


def _layer_norm(flat: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    """Each token state standardised over its coordinates (no affine), kept as float16.

    Raw encoder output states learn far slower than normalised ones; the norm is fixed, so it
    is applied once here rather than in every training step.
    """
    out = torch.empty_like(flat)
    for start in range(0, len(flat), chunk):
        part = flat[start : start + chunk].float()
        out[start : start + chunk] = nn.functional.layer_norm(part, part.shape[1:]).half()
    return out


def texts(table: pa.Table) -> list[str]:
    """The text side of each row: ``description`` (ChEBI-20) or else ``name``."""
    return table["description" if "description" in table.column_names else "name"].to_pylist()


def _relative(offsets: np.ndarray) -> np.ndarray:
    """Offsets of a sliced list array start where the slice does: make them start at 0."""
    return offsets.astype(np.int64) - int(offsets[0])


def _mlp(width_in: int, hidden: int, width_out: int, layers: int) -> nn.Sequential:
    widths = [width_in, *[hidden] * (layers - 1), width_out]
    parts: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        parts += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*parts[:-1])


class CharCNN(nn.Module):
    """A trainable encoder of character (or morpheme) ids: embedding + position, dilated
    residual convolutions, optional self-attention, multi-head attention pooling →
    [n, heads * width (+ counts)].

    Small on purpose (it runs every training step on a CPU); the dilations give each state
    a window of ~15 tokens, enough to bind a locant list to the prefix or suffix it sits
    next to; the attention layers reach the whole name.
    """

    def __init__(
        self,
        width: int,
        layers: int,
        heads: int,
        max_length: int,
        counts: int = 0,
        attention_layers: int = 0,
        vocabulary: int = CHAR_VOCABULARY,
        values: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, width, padding_idx=0)
        # optional fixed features per id (what a numeral morpheme counts), projected and
        # added to the learnt embedding; the table is rebuilt from the vocabulary, not saved
        self.value_projection = None
        if values is not None:
            self.register_buffer("value_table", values, persistent=False)
            self.value_projection = nn.Linear(values.shape[1], width, bias=False)
        self.position = nn.Embedding(max_length, width)
        self.convs = nn.ModuleList(
            nn.Conv1d(width, width, 3, padding=d, dilation=d)
            for d in itertools.islice(itertools.cycle(CHAR_DILATIONS), layers)
        )
        # self-attention over the whole name after the local convolutions: a multiplier
        # ("bis(") or a parent chain far from the substituent it scales is in reach
        self.attention = nn.ModuleList(
            nn.TransformerEncoderLayer(
                width,
                CHAR_ATTENTION_HEADS,
                2 * width,
                dropout=0.0,
                batch_first=True,
                norm_first=True,
            )
            for _ in range(attention_layers)
        )
        self.scores = nn.Linear(width, heads)
        self.counts = nn.Linear(width, counts) if counts else None
        self.out_width = heads * width + counts

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        x, mask = self.states(chars)
        weights = self.scores(x).masked_fill(~mask[..., None], float("-inf")).softmax(dim=1)
        pooled = torch.einsum("nch,ncd->nhd", weights, x).flatten(1)
        if self.counts is None:
            return pooled
        # attention pooling averages, so "dimethyl" and "trimethyl" look alike; summed
        # per-position features count (substituents, multiple bonds, hence the formula)
        counted = (torch.relu(self.counts(x)) * mask[..., None]).sum(1) * CHAR_COUNT_SCALE
        return torch.cat([pooled, counted], dim=1)

    def states(self, chars: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-character states [n, C, width] (zero at padding) and the mask [n, C]."""
        mask = chars > 0
        positions = torch.arange(chars.shape[1], device=chars.device)
        x = self.embedding(chars) + self.position(positions)
        if self.value_projection is not None:
            x = x + self.value_projection(self.value_table[chars])
        x = x * mask[..., None]
        x, keep = x.transpose(1, 2), mask[:, None, :].to(x.dtype)  # [n, width, C]
        for conv in self.convs:
            x = (x + torch.relu(conv(x))) * keep
        x = x.transpose(1, 2)
        for layer in self.attention:
            x = layer(x, src_key_padding_mask=~mask) * mask[..., None]
        return x, mask


class ContrastiveGIN(nn.Module):
    """GINE molecule encoder + projection of frozen text-encoder features, CLIP-trained."""

    hyperparameter_schema = MappingProxyType(
        {
            "hidden": Int(1, 4096),
            "layers": Int(1, 64),
            "dim": Int(1, 4096),
            "text_hidden": Int(1, 16384),
            "text_layers": Int(1, 64),
            "pool": Choice(("sum", "mean_max")),
            "text_encoder_sha256": SHA256_HEX,
            # the encoder's identity (text_encoder.EncoderId); absent on cards before it
            "text_encoder": Text(r"[^\x00-\x1f]{1,200}", False),
            "text_encoder_config_sha256": Text(SHA256_HEX.pattern, False),
            "text_encoder_path": Text(r"[^\x00-\x1f]{0,4096}", False),
            "text_dimension": Int(1, 16384, False),
            "text_max_length": Int(1, 8192, False),
            "text_input": Choice(TEXT_INPUTS, False),
            "text_heads": Int(1, 64, False),
            # the character CNN (absent or 0: none)
            "char_width": Int(0, 1024, False),
            "char_layers": Int(1, 16, False),
            "char_heads": Int(1, 64, False),
            "char_max_length": Int(1, 4096, False),
            "char_counts": Int(0, 1024, False),  # summed count features (absent: 0)
            "char_attention": Int(0, 16, False),  # self-attention layers (absent: 0)
            "char_units": Choice(CHAR_UNITS, False),  # what it reads (absent: characters)
            "count_head": Int(0, 1, False),  # the auxiliary count head (absent: none)
            "char_values": Int(0, 1, False),  # numeral value features (absent: none)
        }
    )

    def __init__(
        self,
        hidden: int = 128,
        layers: int = 6,
        dim: int = 128,
        text_hidden: int = 1024,
        text_layers: int = 3,
        pool: str = "sum",
        text_encoder: EncoderId = MINILM,
        text_input: str = "tokens",
        text_heads: int = 8,
        char_width: int = 0,
        char_layers: int = 3,
        char_heads: int = 4,
        char_max_length: int = 128,
        char_counts: int = 0,
        char_attention: int = 0,
        char_units: str = "characters",
        count_head: int = 0,
        char_values: int = 0,
    ) -> None:
        super().__init__()
        from torch_geometric.nn import GINEConv

        if pool not in ("sum", "mean_max"):
            raise ValueError(f"pool must be 'sum' or 'mean_max', got {pool!r}")
        self.pool = pool
        self.atom_embedding = AtomFeatureEmbedding(hidden)
        self.bond_embedding = nn.Embedding(BOND_SIZES, hidden)
        self.convs = nn.ModuleList(
            GINEConv(_mlp(hidden, hidden, hidden, 2), train_eps=True) for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        readout = hidden if pool == "sum" else 2 * hidden
        self.mol_head = _mlp(readout, hidden, dim, 2)
        if text_input not in TEXT_INPUTS:
            raise ValueError(
                f"text_input must be one of {', '.join(TEXT_INPUTS)}, got {text_input!r}"
            )
        self.text_input = text_input
        self.text_encoder = text_encoder
        width = text_encoder.dimension
        self.char_max_length = char_max_length
        vocabulary = unit_vocabulary(char_units)
        self.char_units = char_units
        if char_values and vocabulary.values is None:
            raise ValueError(f"char_values needs units with numeral values, not {char_units!r}")
        self.chars = (
            CharCNN(
                char_width,
                char_layers,
                char_heads,
                char_max_length,
                char_counts,
                char_attention,
                vocabulary.size,
                vocabulary.values() if char_values and vocabulary.values else None,
            )
            if char_width
            else None
        )
        extra = self.chars.out_width if self.chars is not None else 0
        if text_input == "none":
            if self.chars is None:
                raise ValueError("text_input 'none' needs the character encoder (char_width > 0)")
            self.text_head = _mlp(extra, text_hidden, dim, text_layers)
        elif text_input == "sentence":
            # sentence embeddings of near-isomers differ in a few small coordinates: standardise
            # every coordinate (batch statistics, kept as running averages) before projecting.
            self.text_head = nn.Sequential(
                nn.BatchNorm1d(width + extra), _mlp(width + extra, text_hidden, dim, text_layers)
            )
        else:
            # multi-head attention pooling of the frozen token states, with a learned
            # position bias per head: which locant sits next to which prefix survives
            # (a transformer over the states does too, at ~10x the cost on a CPU)
            # (the states arrive layer-normed without affine, done once in TextFeatures: the
            # affine part is absorbed by the layers below, and a LayerNorm here cost more
            # than the rest of the text side on a CPU)
            self.token_scores = nn.Linear(width, text_heads)
            self.token_position = nn.Embedding(text_encoder.max_length, text_heads)
            self.text_head = _mlp(text_heads * width + extra, text_hidden, dim, text_layers)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        # one linear map from either side's embedding to the molecule's counts (training
        # only, see count_loss): the shared space must hold the formula on both sides
        self.count_head = nn.Linear(dim, len(COUNT_TARGETS)) if count_head else None

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any]) -> ContrastiveGIN:
        return cls(
            hidden=hp["hidden"],
            layers=hp["layers"],
            dim=hp["dim"],
            text_hidden=hp["text_hidden"],
            text_layers=hp["text_layers"],
            pool=hp["pool"],
            text_encoder=EncoderId.from_hyperparameters(hp),
            text_input=hp.get("text_input", "sentence"),  # models saved before tokens existed
            text_heads=hp.get("text_heads", 8),
            char_width=hp.get("char_width", 0),  # models saved before the character CNN
            char_layers=hp.get("char_layers", 3),
            char_heads=hp.get("char_heads", 4),
            char_max_length=hp.get("char_max_length", 128),
            char_counts=hp.get("char_counts", 0),
            char_attention=hp.get("char_attention", 0),  # models saved before it: none
            char_units=hp.get("char_units", "characters"),
            count_head=hp.get("count_head", 0),
            char_values=hp.get("char_values", 0),
        )

    def encode_molecules(self, batch: GraphBatch) -> torch.Tensor:
        """Unit-norm molecule embeddings [num_graphs, dim]."""
        from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

        x = self.atom_embedding(batch.x)
        e = self.bond_embedding(batch.edge_attr.clamp(0, BOND_SIZES - 1))
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = x + torch.relu(norm(conv(x, batch.edge_index, e)))
        if self.pool == "sum":
            pooled = global_add_pool(x, batch.batch, batch.num_graphs)
        else:
            pooled = torch.cat(
                [
                    global_mean_pool(x, batch.batch, batch.num_graphs),
                    global_max_pool(x, batch.batch, batch.num_graphs),
                ],
                dim=1,
            )
        return nn.functional.normalize(self.mol_head(pooled).float(), dim=1)

    def encode_texts(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Unit-norm text embeddings [n, dim] from :meth:`TextFeatures.batch` inputs.

        Sentence input: a projection of the sentence embedding [n, dim]. Token input: states
        [n, L, dim] + mask [n, L], pooled by each attention head, concatenated, projected.
        With the character CNN the last input is the character ids [n, C]; its pooled states
        are concatenated to the frozen side's before the projection.
        """
        if self.chars is not None:
            *inputs, chars = inputs
        if self.text_input == "none":
            pooled = self.chars(chars)
        elif self.text_input == "sentence":
            (pooled,) = inputs
        else:
            states, mask = inputs
            positions = torch.arange(states.shape[1], device=states.device)
            scores = self.token_scores(states) + self.token_position(positions)
            weights = scores.masked_fill(~mask[..., None], float("-inf")).softmax(dim=1)
            pooled = torch.einsum("blh,bld->bhd", weights, states).flatten(1)
        if self.chars is not None and self.text_input != "none":
            pooled = torch.cat([pooled, self.chars(chars)], dim=1)
        return nn.functional.normalize(self.text_head(pooled).float(), dim=1)

    def loss(self, molecules: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE over the batch: row i of each side is the other's positive."""
        logits = self.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE) * molecules @ texts.T
        target = torch.arange(len(logits), device=logits.device)
        return (
            nn.functional.cross_entropy(logits, target)
            + nn.functional.cross_entropy(logits.T, target)
        ) / 2

    def count_loss(
        self, molecules: torch.Tensor, texts: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """Mean squared error of both sides' embeddings, through the shared count head,
        against the molecules' counts (:meth:`MoleculeGraphs.counts`, standardised by the
        caller over the training rows).

        The contrastive loss alone lets the text side memorise names (train Hits@1 0.995 vs
        0.97 on unseen names, most misses of another formula); counting is what it should
        learn instead, and here it is told so directly.
        """
        if self.count_head is None:
            raise ValueError("this model has no count head (count_head = 0)")
        return (
            nn.functional.mse_loss(self.count_head(molecules), targets)
            + nn.functional.mse_loss(self.count_head(texts), targets)
        ) / 2

    @torch.no_grad()
    def predict(self, table: pa.Table, device: str = "cpu", batch_size: int = 1024) -> dict:
        self.eval()
        chars = self.char_max_length if self.chars is not None else 0
        features = TextFeatures(
            texts(table),
            self.text_input,
            self.text_encoder,
            device,
            chars=chars,
            units=self.char_units,
        )
        text_side = torch.cat(
            [
                self.encode_texts(*(t.to(device) for t in inputs)).cpu()
                for inputs in features.batches(batch_size)
            ]
        )
        return {
            "text_embedding": _vectors(text_side.numpy()),
            "mol_embedding": self.embed_molecules(table, device, batch_size),
        }

    @torch.no_grad()
    def embed_molecules(
        self, table: pa.Table, device: str = "cpu", batch_size: int = 1024
    ) -> pa.FixedSizeListArray:
        """Molecule embeddings of any table with graph columns (e.g. the whole ChEBI-20 corpus)."""
        self.eval()
        molecules = [
            self.encode_molecules(b.to(device)).cpu()
            for b in MoleculeGraphs(table).batches(batch_size)
        ]
        return _vectors(torch.cat(molecules).numpy())


def _vectors(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """A [n, d] matrix as the list-of-floats column the text task reads."""
    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).ravel())
    return pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])
