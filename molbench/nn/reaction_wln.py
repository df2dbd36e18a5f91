"""WLDN forward reaction prediction (Jin et al. 2017; Coley et al. 2019) on the mixture graph.

All precursors of a reaction are disjoint components of one graph (molbench's
``atom_features`` / ``edge_index`` / ``bond_orders`` / ``component`` columns; reactants are
not told apart from reagents). Two stages:

1. **Reaction centre.** A Weisfeiler-Lehman network gives each atom a local vector; a
   context vector sums other atoms' vectors under sigmoid attention, either over the
   whole mixture (``context="global"``, WLDN) or over the atom's own molecule plus at most
   ``k`` cross-molecule partners per atom (``context="budget"``, the budgeted mixture graph
   of :mod:`molbench.nn.mixture_graph`; ``k = 0``: molecules see nothing of each other).
   Every atom pair gets a logit per new bond class (none / single / double / triple /
   aromatic), trained with sigmoid cross-entropy on the recorded edits.
2. **Candidate ranking.** Combinations of up to ``max_edits`` of the ``top_k`` best changes,
   pruned by valence (:mod:`molbench.nn.reaction_candidates`), are ranked by a difference
   network: a second WLN embeds each candidate product graph, its atom vectors minus the
   reactant's are pooled and scored, plus a learned weight times the stage-1 prior;
   softmax over a reaction's candidates, the true edit set the positive.

Training reads Parquet columns only (no RDKit); ``predict`` turns the ranked edit sets into
product SMILES with RDKit on the CPU (:func:`~molbench.nn.reaction_candidates.product_smiles`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from molbench.hyperparameters import Choice, Int
from molbench.nn.atom_features import AtomFeatureEmbedding
from molbench.nn.mixture_graph import budget_edges
from molbench.nn.reaction_candidates import (
    BOND_CLASS_ORDERS,
    N_CLASSES,
    allowed_valence,
    bond_class,
    enumerate_candidates,
    iter_candidate_smiles,
)

N_DISTANCES = 5  # pair distance buckets: 1, 2, 3, >= 4 bonds apart, other molecule
OTHER_MOLECULE = 4
CONTEXTS = ("global", "budget")
Edits = list[tuple[int, int, int]]  # (atom i, atom j, bond class), i < j, reaction-local
# edit sets a prediction keeps, best first: SMILES are taken from these until 10 are valid.
# Measured against keeping all 150: no top-10 hit lost on 1,000 USPTO-15K test reactions
# (fewer than 10 products for 4.8 % of rows instead of 2.3 %); a third of the outputs file
KEPT_EDIT_SETS = 50


@cache
def _triu(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, 1)


def pair_index(i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    """Position of pair (i, j), i < j, in ``np.triu_indices(n, 1)`` order."""
    return i * (2 * n - i - 1) // 2 + (j - i - 1)


def _list_rows(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A list<list<x>> column of [2][m] rows as (first, second) flat arrays + row offsets."""
    array = column.combine_chunks()
    inner = array.flatten()
    flat = inner.flatten().to_numpy().astype(np.int64)
    counts = np.diff(inner.offsets.to_numpy())[::2] if len(inner) else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    row = np.repeat(np.arange(len(counts)), counts)
    k = np.arange(len(row)) - offsets[:-1][row]
    return flat[2 * offsets[:-1][row] + k], flat[2 * offsets[:-1][row] + counts[row] + k], offsets


class ReactionGraphs:
    """The mixture graphs of a table, with every atom pair's features precomputed.

    Per reaction: atoms, bonds (classes), and for each pair i < j its current bond class,
    its distance bucket, whether the context may use it (``context``/``k``), and the
    recorded edits as (pair, class) labels.
    """

    def __init__(self, table: pa.Table, context: str = "global", k: int = 0) -> None:
        if context not in CONTEXTS:
            raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")
        atoms = table["atom_features"].combine_chunks()
        self.node_offsets = _rebase(atoms.offsets.to_numpy())
        self.x = atoms.flatten().flatten().to_numpy().astype(np.int64).reshape(-1, 8)
        self.component = table["component"].combine_chunks().flatten().to_numpy().astype(np.int64)
        self.src, self.dst, self.edge_offsets = _list_rows(table["edge_index"])
        orders = table["bond_orders"].combine_chunks().flatten().to_numpy()
        self.bond_cls = bond_class(orders)
        bond_row = np.repeat(np.arange(len(self)), np.diff(self.edge_offsets))
        start = self.node_offsets[:-1][bond_row]
        self.bond_sum = np.zeros(len(self.x))
        np.add.at(self.bond_sum, self.src + start, orders)
        np.add.at(self.bond_sum, self.dst + start, orders)
        self.allowed = allowed_valence(self.x, self.bond_sum)
        edit_a, edit_b, self.edit_offsets = _list_rows(table["edit_index"])
        edit_orders = table["edit_orders"].combine_chunks().flatten().to_numpy()
        self.edit_i, self.edit_j = np.minimum(edit_a, edit_b), np.maximum(edit_a, edit_b)
        self.edit_cls = bond_class(edit_orders)
        self.mapped_rxn = (
            table["mapped_rxn"].to_pylist() if "mapped_rxn" in table.column_names else None
        )
        self._pairs(context, k)

    def __len__(self) -> int:
        return len(self.node_offsets) - 1

    def n_atoms(self, row: int) -> int:
        return int(self.node_offsets[row + 1] - self.node_offsets[row])

    def _pairs(self, context: str, k: int) -> None:
        sizes = np.diff(self.node_offsets)
        self.pair_offsets = np.concatenate([[0], np.cumsum(sizes * (sizes - 1) // 2)])
        total = int(self.pair_offsets[-1])
        self.pair_cls = np.zeros(total, dtype=np.int8)  # small: USPTO-MIT test has ~30M pairs
        self.pair_dist = np.zeros(total, dtype=np.int8)
        self.pair_context = np.ones(total, dtype=bool)
        for row in range(len(self)):
            cls, dist, usable = self._row_pairs(row, context, k)
            span = slice(self.pair_offsets[row], self.pair_offsets[row + 1])
            self.pair_cls[span], self.pair_dist[span], self.pair_context[span] = cls, dist, usable

    def _row_pairs(self, row: int, context: str, k: int) -> tuple[np.ndarray, ...]:
        n = self.n_atoms(row)
        bonds = slice(self.edge_offsets[row], self.edge_offsets[row + 1])
        src, dst = self.src[bonds], self.dst[bonds]
        cls = np.zeros((n, n), dtype=np.int64)
        cls[src, dst] = cls[dst, src] = self.bond_cls[bonds]
        adjacency = (cls > 0).astype(np.float32)
        reach2 = adjacency @ adjacency > 0
        reach3 = (reach2.astype(np.float32) @ adjacency > 0) | reach2
        dist = np.full((n, n), 3, dtype=np.int64)
        dist[reach3] = 2
        dist[reach2] = 1
        dist[adjacency > 0] = 0
        atoms = slice(self.node_offsets[row], self.node_offsets[row + 1])
        component = self.component[atoms]
        dist[component[:, None] != component[None, :]] = OTHER_MOLECULE
        i, j = _triu(n)
        pair_dist = dist[i, j]
        usable = np.ones(len(i), dtype=bool)
        if context == "budget":
            usable = pair_dist != OTHER_MOLECULE
            extra = budget_edges(self.x[atoms], component, k)
            usable[pair_index(extra[0], extra[1], n)] = True
        return cls[i, j], pair_dist, usable

    def true_edits(self, row: int) -> Edits:
        span = slice(self.edit_offsets[row], self.edit_offsets[row + 1])
        return sorted(
            zip(
                self.edit_i[span].tolist(),
                self.edit_j[span].tolist(),
                self.edit_cls[span].tolist(),
                strict=True,
            )
        )

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """Concatenated graphs (offsets added) with their pair lists and edit labels."""
        parts: dict[str, list[np.ndarray]] = {k: [] for k in _BATCH_KEYS}
        base = 0
        pair_base = 0
        for b, row in enumerate(rows.tolist()):
            n = self.n_atoms(row)
            atoms = slice(self.node_offsets[row], self.node_offsets[row + 1])
            bonds = slice(self.edge_offsets[row], self.edge_offsets[row + 1])
            pairs = slice(self.pair_offsets[row], self.pair_offsets[row + 1])
            i, j = _triu(n)
            edits = slice(self.edit_offsets[row], self.edit_offsets[row + 1])
            ei, ej = self.edit_i[edits], self.edit_j[edits]
            parts["x"].append(self.x[atoms])
            parts["src"].append(self.src[bonds] + base)
            parts["dst"].append(self.dst[bonds] + base)
            parts["edge_cls"].append(self.bond_cls[bonds])
            parts["pair_i"].append(i + base)
            parts["pair_j"].append(j + base)
            parts["pair_cls"].append(self.pair_cls[pairs].astype(np.int64))
            parts["pair_dist"].append(self.pair_dist[pairs].astype(np.int64))
            parts["pair_context"].append(self.pair_context[pairs])
            parts["pair_graph"].append(np.full(len(i), b))
            parts["label_pair"].append(pair_index(ei, ej, n) + pair_base)
            parts["label_cls"].append(self.edit_cls[edits])
            base += n
            pair_base += len(i)
        out = {k: torch.from_numpy(np.concatenate(v)) for k, v in parts.items()}
        out["num_graphs"] = torch.tensor(len(rows))
        return out


_BATCH_KEYS = (
    "x", "src", "dst", "edge_cls", "pair_i", "pair_j", "pair_cls", "pair_dist",
    "pair_context", "pair_graph", "label_pair", "label_cls",
)  # fmt: skip


def _rebase(offsets: np.ndarray) -> np.ndarray:
    return offsets.astype(np.int64) - int(offsets[0])


class WLN(nn.Module):
    """Weisfeiler-Lehman network (Jin et al. 2017): shared-weight relabelling iterations,
    then the local feature c_v = sum_u (W0 h_u) * (W1 e_uv) * (W2 h_v)."""

    def __init__(self, hidden: int, depth: int) -> None:
        super().__init__()
        self.depth = depth
        self.atom_embedding = AtomFeatureEmbedding(hidden)
        self.bond_embedding = nn.Embedding(N_CLASSES, hidden)
        self.message_atom = nn.Linear(hidden, hidden)
        self.message_bond = nn.Linear(hidden, hidden, bias=False)
        self.self_update = nn.Linear(hidden, hidden)
        self.neighbour_update = nn.Linear(hidden, hidden, bias=False)
        self.w_neighbour = nn.Linear(hidden, hidden, bias=False)
        self.w_bond = nn.Linear(hidden, hidden, bias=False)
        self.w_self = nn.Linear(hidden, hidden, bias=False)

    def forward(self, x: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, cls: torch.Tensor):
        """Local atom vectors [n, hidden] of graphs given each bond once (src, dst, class)."""
        h = self.atom_embedding(x)
        s, d = torch.cat([src, dst]), torch.cat([dst, src])
        both = torch.cat([cls, cls])
        # every linear map runs on the atoms or the 5 bond classes, never on the edges
        bond = self.bond_embedding.weight
        bond_message, bond_local = self.message_bond(bond)[both], self.w_bond(bond)[both]
        for _ in range(self.depth):
            m = torch.relu(self.message_atom(h)[s] + bond_message)
            total = torch.zeros_like(h).index_add_(0, d, m)
            h = torch.relu(self.self_update(h) + self.neighbour_update(total))
        local = self.w_neighbour(h)[s] * bond_local * self.w_self(h)[d]
        return torch.zeros_like(h).index_add_(0, d, local)


class CenterScorer(nn.Module):
    """Stage 1: a logit per atom pair and new bond class, with a (global or budgeted) context."""

    def __init__(self, hidden: int, depth: int) -> None:
        super().__init__()
        self.wln = WLN(hidden, depth)
        self.pair_cls = nn.Embedding(N_CLASSES, hidden)
        self.pair_dist = nn.Embedding(N_DISTANCES, hidden)
        self.att_atom = nn.Linear(hidden, hidden)
        self.att_pair = nn.Linear(hidden, hidden, bias=False)
        self.att_out = nn.Linear(hidden, 1)
        self.score_atom = nn.Linear(hidden, hidden)
        self.score_context = nn.Linear(hidden, hidden, bias=False)
        self.score_pair = nn.Linear(hidden, hidden, bias=False)
        self.score_out = nn.Linear(hidden, N_CLASSES)
        nn.init.constant_(self.score_out.bias, -4.0)  # edits are rare: start near their rate

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits [pairs, 5]; the current class of each pair is masked to -inf."""
        c = self.wln(batch["x"], batch["src"], batch["dst"], batch["edge_cls"])
        i, j, cls, dist = batch["pair_i"], batch["pair_j"], batch["pair_cls"], batch["pair_dist"]
        use = batch["pair_context"]
        ui, uj = i[use], j[use]
        # pair features are two small categoricals: map their embeddings once, then gather
        att_cls, att_dist = (
            self.att_pair(self.pair_cls.weight),
            self.att_pair(self.pair_dist.weight),
        )
        a = self.att_atom(c)
        hidden = a[ui] + a[uj] + att_cls[cls[use]] + att_dist[dist[use]]
        alpha = torch.sigmoid(self.att_out(torch.relu(hidden)))
        context = torch.zeros_like(c)
        context.index_add_(0, ui, alpha * c[uj]).index_add_(0, uj, alpha * c[ui])
        atom = self.score_atom(c) + self.score_context(context)
        pair_cls = self.score_pair(self.pair_cls.weight)[cls]
        pair_dist = self.score_pair(self.pair_dist.weight)[dist]
        logits = self.score_out(torch.relu(atom[i] + atom[j] + pair_cls + pair_dist))
        current = nn.functional.one_hot(batch["pair_cls"], N_CLASSES).bool()
        return logits.masked_fill(current, -math.inf)

    @staticmethod
    def loss(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sigmoid cross-entropy over every pair and new class, summed per reaction."""
        target = torch.zeros_like(logits)
        target[batch["label_pair"], batch["label_cls"]] = 1.0
        valid = torch.isfinite(logits)
        bce = nn.functional.binary_cross_entropy_with_logits(
            logits[valid], target[valid], reduction="sum"
        )
        return bce / batch["num_graphs"].clamp(min=1)


class CandidateRanker(nn.Module):
    """Stage 2: WLN difference network over candidate product graphs (WLDN).

    ``diff_depth`` message-passing steps over each candidate graph run on the difference
    vectors themselves (WLDN's difference network), so an atom's score sees the changes
    around it, not only its own; 0: each atom's difference alone.
    """

    def __init__(self, hidden: int, depth: int, diff_depth: int = 0) -> None:
        super().__init__()
        self.wln = WLN(hidden, depth)
        self.difference = nn.Linear(hidden, hidden)
        self.diff_bond = nn.Embedding(N_CLASSES, hidden) if diff_depth else None
        self.diff_message = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(diff_depth))
        self.diff_update = nn.ModuleList(nn.Linear(2 * hidden, hidden) for _ in range(diff_depth))
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.prior_weight = nn.Parameter(torch.tensor(1.0))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """A score per candidate [n_candidates]."""
        reactant = self.wln(batch["x"], batch["src"], batch["dst"], batch["edge_cls"])
        product = self.wln(
            batch["x"][batch["cand_atom"]], batch["cand_src"], batch["cand_dst"], batch["cand_cls"]
        )
        diff = torch.relu(self.difference(product - reactant[batch["cand_atom"]]))
        if self.diff_bond is not None:
            s = torch.cat([batch["cand_src"], batch["cand_dst"]])
            d = torch.cat([batch["cand_dst"], batch["cand_src"]])
            bond = self.diff_bond.weight[torch.cat([batch["cand_cls"], batch["cand_cls"]])]
            for message, update in zip(self.diff_message, self.diff_update, strict=True):
                m = torch.relu(message(diff)[s] + bond)
                total = torch.zeros_like(diff).index_add_(0, d, m)
                diff = torch.relu(update(torch.cat([diff, total], dim=1)))
        pooled = torch.zeros(len(batch["prior"]), diff.size(1), dtype=diff.dtype)
        pooled = pooled.to(diff.device).index_add_(0, batch["cand_of_atom"], diff)
        return self.head(pooled).squeeze(1) + self.prior_weight * batch["prior"]

    @staticmethod
    def loss(scores: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Softmax cross-entropy over each reaction's candidates (the true one is the target)."""
        group, target = batch["cand_group"], batch["target"]
        n = int(batch["num_graphs"])
        top = torch.full((n,), -math.inf, device=scores.device)
        top = top.scatter_reduce(0, group, scores.detach(), "amax")
        exp = torch.exp(scores - top[group])
        norm = torch.zeros(n, device=scores.device).index_add_(0, group, exp)
        return (torch.log(norm) + top - scores[target]).mean()


@dataclass
class Candidates:
    """One reaction's candidate edit sets, their stage-1 prior, and the true one's index."""

    edits: list[Edits]
    prior: np.ndarray
    true_index: int = -1


def propose(
    center: CenterScorer,
    graphs: ReactionGraphs,
    rows: np.ndarray,
    device: str,
    top_k: int,
    max_edits: int,
    limit: int,
    with_truth: bool = False,
) -> list[Candidates]:
    """Stage-1 candidates for ``rows``; ``with_truth`` adds the true edit set if missing."""
    batch = {k: v.to(device) for k, v in graphs.batch(rows).items()}
    with torch.no_grad():
        logits = center(batch).float().cpu().numpy()
    out = []
    start = 0
    for row in rows.tolist():
        n_pairs = int(graphs.pair_offsets[row + 1] - graphs.pair_offsets[row])
        row_logits = logits[start : start + n_pairs].reshape(n_pairs, N_CLASSES)
        out.append(_row_candidates(graphs, row, row_logits, top_k, max_edits, limit, with_truth))
        start += n_pairs
    return out


def _row_candidates(
    graphs: ReactionGraphs,
    row: int,
    logits: np.ndarray,
    top_k: int,
    max_edits: int,
    limit: int,
    with_truth: bool,
) -> Candidates:
    n = graphs.n_atoms(row)
    flat = logits.ravel()
    finite = np.flatnonzero(np.isfinite(flat))
    k = min(top_k, len(finite))
    best = finite[np.argsort(-flat[finite], kind="stable")[:k]]
    pair, cls = np.divmod(best, N_CLASSES)
    i, j = _triu(n)
    changes = np.stack([i[pair], j[pair], cls], axis=1)
    atoms = slice(graphs.node_offsets[row], graphs.node_offsets[row + 1])
    old = BOND_CLASS_ORDERS[graphs.pair_cls[graphs.pair_offsets[row] + pair]]
    subsets, prior = enumerate_candidates(
        changes, flat[best], old, graphs.bond_sum[atoms], graphs.allowed[atoms], max_edits, limit
    )
    edits = [sorted(map(tuple, changes[s > 0].tolist())) for s in subsets]
    result = Candidates(edits, prior)
    if with_truth:
        truth = graphs.true_edits(row)
        if truth in edits:
            result.true_index = edits.index(truth)
        elif truth:
            p = pair_index(np.array([e[0] for e in truth]), np.array([e[1] for e in truth]), n)
            score = float(np.clip(logits[p, [e[2] for e in truth]], -1e4, 1e4).sum())
            result.edits.append(truth)
            result.prior = np.append(prior, score)
            result.true_index = len(result.edits) - 1
    return result


def rank_batch(
    graphs: ReactionGraphs, rows: np.ndarray, candidates: list[Candidates]
) -> dict[str, torch.Tensor]:
    """Reactant subgraphs (the molecules any candidate touches) and every candidate's graph."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _RANK_KEYS}
    base = cand_base = n_candidates = 0
    for group, (row, found) in enumerate(zip(rows.tolist(), candidates, strict=True)):
        atoms = slice(graphs.node_offsets[row], graphs.node_offsets[row + 1])
        component = graphs.component[atoms]
        touched = sorted({a for edits in found.edits for e in edits for a in e[:2]})
        keep = np.flatnonzero(np.isin(component, component[touched]))
        local = np.full(len(component), -1)
        local[keep] = np.arange(len(keep))
        s = len(keep)
        bonds = slice(graphs.edge_offsets[row], graphs.edge_offsets[row + 1])
        src, dst = graphs.src[bonds], graphs.dst[bonds]
        inside = local[src] >= 0
        cls = np.zeros((s, s), dtype=np.int64)
        cls[local[src[inside]], local[dst[inside]]] = graphs.bond_cls[bonds][inside]
        cls = np.maximum(cls, cls.T)
        c = len(found.edits)
        per = np.broadcast_to(cls, (c, s, s)).copy()
        flat = [
            (m, local[a], local[b], k) for m, edits in enumerate(found.edits) for a, b, k in edits
        ]
        if flat:
            m, a, b, k = (np.array(v) for v in zip(*flat, strict=True))
            per[m, a, b] = per[m, b, a] = k
        m, a, b = np.nonzero(np.triu(per, 1))
        parts["x"].append(graphs.x[atoms][keep])
        r_src, r_dst = np.nonzero(np.triu(cls, 1))
        parts["src"].append(r_src + base)
        parts["dst"].append(r_dst + base)
        parts["edge_cls"].append(cls[r_src, r_dst])
        parts["cand_atom"].append(np.tile(np.arange(s), c) + base)
        parts["cand_of_atom"].append(np.repeat(np.arange(c), s) + n_candidates)
        parts["cand_src"].append(m * s + a + cand_base)
        parts["cand_dst"].append(m * s + b + cand_base)
        parts["cand_cls"].append(per[m, a, b])
        parts["cand_group"].append(np.full(c, group))
        parts["prior"].append(np.clip(found.prior, -50, 50).astype(np.float32))
        parts["target"].append(np.array([found.true_index + n_candidates]))
        base += s
        cand_base += c * s
        n_candidates += c
    out = {k: torch.from_numpy(np.concatenate(v)) for k, v in parts.items()}
    out["num_graphs"] = torch.tensor(len(rows))
    return out


_RANK_KEYS = (
    "x", "src", "dst", "edge_cls", "cand_atom", "cand_of_atom", "cand_src", "cand_dst",
    "cand_cls", "cand_group", "prior", "target",
)  # fmt: skip


class ReactionWLDN(nn.Module):
    """Both stages, saved together; ``predict`` returns ranked product SMILES."""

    hyperparameter_schema = MappingProxyType(
        {
            "hidden": Int(1, 4096),
            "depth": Int(1, 64),
            "rank_hidden": Int(1, 4096),
            "rank_depth": Int(1, 64),
            "rank_diff_depth": Int(0, 64, required=False),
            "context": Choice(CONTEXTS),
            "k": Int(0, 1000),
            "top_k": Int(1, 1000),
            "max_edits": Int(1, 64),
            "candidates": Int(1, 100_000),
        }
    )

    def __init__(
        self,
        hidden: int = 96,
        depth: int = 3,
        rank_hidden: int = 64,
        rank_depth: int = 3,
        rank_diff_depth: int = 0,
        context: str = "global",
        k: int = 0,
        top_k: int = 10,
        max_edits: int = 5,
        candidates: int = 150,
    ) -> None:
        super().__init__()
        if context not in CONTEXTS:
            raise ValueError(f"context must be one of {CONTEXTS}, got {context!r}")
        self.context, self.k = context, k
        self.top_k, self.max_edits, self.candidates = top_k, max_edits, candidates
        self.center = CenterScorer(hidden, depth)
        self.ranker = CandidateRanker(rank_hidden, rank_depth, rank_diff_depth)

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any]) -> ReactionWLDN:
        names = ("hidden", "depth", "rank_hidden", "rank_depth", "context", "k")
        more = ("top_k", "max_edits", "candidates")
        # cards saved before the difference network had none
        return cls(
            **{name: hp[name] for name in (*names, *more)},
            rank_diff_depth=hp.get("rank_diff_depth", 0),
        )

    def graphs(self, table: pa.Table) -> ReactionGraphs:
        return ReactionGraphs(table, self.context, self.k)

    def propose(
        self, graphs: ReactionGraphs, rows: np.ndarray, device: str, limit: int, truth: bool
    ) -> list[Candidates]:
        return propose(self.center, graphs, rows, device, self.top_k, self.max_edits, limit, truth)

    @torch.no_grad()
    def rank(self, graphs: ReactionGraphs, device: str, batch_size: int = 16) -> list[list[Edits]]:
        """Each reaction's candidate edit sets, best first."""
        self.eval()
        ranked: list[list[Edits]] = []
        for start in range(0, len(graphs), batch_size):
            rows = np.arange(start, min(start + batch_size, len(graphs)))
            found = self.propose(graphs, rows, device, self.candidates, truth=False)
            with_any = [r for r, f in zip(rows, found, strict=True) if f.edits]
            scores: dict[int, np.ndarray] = {}
            if with_any:
                chosen = [found[r - start] for r in with_any]
                batch = {
                    k: v.to(device)
                    for k, v in rank_batch(graphs, np.array(with_any), chosen).items()
                }
                flat = self.ranker(batch).float().cpu().numpy()
                group = batch["cand_group"].cpu().numpy()
                for g, r in enumerate(with_any):
                    scores[r] = flat[group == g]
            for r, f in zip(rows.tolist(), found, strict=True):
                order = np.argsort(-scores[r], kind="stable") if r in scores else []
                ranked.append([f.edits[o] for o in order])
        return ranked

    def network_outputs(self, table: pa.Table, device: str = "cpu") -> dict[str, np.ndarray]:
        """The best ``KEPT_EDIT_SETS`` edit sets per row, flattened ``[i, j, class, ...]``.

        The half of :meth:`predict` that needs no RDKit (a GPU machine's part); see
        :mod:`molbench.outputs`.
        """
        ranked = self.rank(self.graphs(table), device)
        rows = np.empty(len(ranked), dtype=object)
        rows[:] = [
            [[value for edit in edits for value in edit] for edits in sets[:KEPT_EDIT_SETS]]
            for sets in ranked
        ]
        return {"ranked_edits": rows}

    @staticmethod
    def predictions_from_outputs(
        table: pa.Table, outputs: dict[str, Any], n_best: int = 10
    ) -> dict[str, np.ndarray]:
        """Up to ``n_best`` distinct valid product SMILES per row and, apart, as many whole
        edited mixtures (``mixtures``, what the subset rule scores), by RDKit on the CPU."""
        if "mapped_rxn" not in table.column_names:
            raise ValueError("the table has no mapped_rxn column to apply the edits to")
        if "ranked_edits" not in outputs:
            raise ValueError("the outputs have no ranked_edits column (not this model's)")
        mapped_rxn = table["mapped_rxn"].to_pylist()
        # the separated setting's reactants: their untouched molecules stay in the product
        reactant_atoms_of = (
            [{i for i, r in enumerate(flags) if r} for flags in table["in_reactant"].to_pylist()]
            if "in_reactant" in table.column_names
            else [None] * len(mapped_rxn)
        )
        found = [
            _candidates_of(mapped, atoms, [_unflatten(flat) for flat in sets], n_best)
            for mapped, atoms, sets in zip(
                mapped_rxn, reactant_atoms_of, outputs["ranked_edits"], strict=True
            )
        ]
        products, mixtures = np.empty(len(found), dtype=object), np.empty(len(found), dtype=object)
        products[:] = [p for p, _ in found]
        mixtures[:] = [m for _, m in found]
        return {"predictions": products, "mixtures": mixtures}

    def predict(self, table: pa.Table, device: str = "cpu") -> dict[str, np.ndarray]:
        """Ranked product SMILES: :meth:`network_outputs`, then RDKit on the CPU."""
        if "mapped_rxn" not in table.column_names:
            raise ValueError("the table has no mapped_rxn column to apply the edits to")
        return self.predictions_from_outputs(table, self.network_outputs(table, device))


def _unflatten(flat: list[int]) -> Edits:
    return [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]


def _candidates_of(
    mapped_rxn: str, reactant_atoms: set[int] | None, ranked: list[Edits], n_best: int
) -> tuple[list[str], list[str]]:
    """Walk the ranked edit sets: the first ``n_best`` distinct valid products, and apart
    the first ``n_best`` distinct valid whole mixtures (what the subset rule scores)."""
    products: list[str] = []
    mixtures: list[str] = []
    if not ranked:
        return products, mixtures
    sets = ([(a, b, float(BOND_CLASS_ORDERS[k])) for a, b, k in edits] for edits in ranked)
    for product, mixture in iter_candidate_smiles(mapped_rxn, sets, reactant_atoms):
        if product and product not in products and len(products) < n_best:
            products.append(product)
        if mixture and mixture not in mixtures and len(mixtures) < n_best:
            mixtures.append(mixture)
        if len(products) == len(mixtures) == n_best:
            break
    return products, mixtures
