"""A reaction mixture as one graph with a budget of edges between its molecules.

The precursors of a reaction are disjoint components of one graph (molbench's
``atom_features`` / ``component`` columns). A model that should see other molecules
without paying for all n² atom pairs gets at most ``k`` extra edges per atom, each to an
atom of *another* molecule; ``k = 0`` keeps the molecules blind to each other.

Which partners? Before any training the only signal is chemistry, so the rule is
learned-free and deterministic: cross-molecule pairs are ranked by how likely a polar
reaction is between them (both atoms "reactive" — heteroatoms, charged atoms, X-H donors,
non-aromatic unsaturation — plus their electronegativity difference, the polarity of a
bond they could form), and edges are taken greedily, best first, while both atoms still
have budget (a greedy b-matching). That makes the edge set symmetric with every atom's
added degree at most ``k``, independent of atom order up to exact ties (broken by index).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch_geometric.transforms import BaseTransform

# Pauling electronegativities of the elements common in USPTO; others get DEFAULT_CHI.
ELECTRONEGATIVITY = {
    1: 2.20, 3: 0.98, 5: 2.04, 6: 2.55, 7: 3.04, 8: 3.44, 9: 3.98, 11: 0.93, 12: 1.31,
    13: 1.61, 14: 1.90, 15: 2.19, 16: 2.58, 17: 3.16, 19: 0.82, 20: 1.00, 26: 1.83,
    29: 1.90, 30: 1.65, 34: 2.55, 35: 2.96, 46: 2.20, 50: 1.96, 53: 2.66, 55: 0.79,
}  # fmt: skip
DEFAULT_CHI = 2.0
_CHI = np.full(128, DEFAULT_CHI)
_CHI[list(ELECTRONEGATIVITY)] = list(ELECTRONEGATIVITY.values())
# atom_features columns used here (see molbench.chem.reaction_graph.ATOM_FEATURES)
ATOMIC_NUM, CHARGE, HYDROGENS, AROMATIC, HYBRIDIZATION = 0, 1, 2, 4, 5


def reactivity(x: np.ndarray) -> np.ndarray:
    """A learned-free reactivity prior per atom from molbench atom features [n, 8]."""
    z = x[:, ATOMIC_NUM]
    hetero = (z != 6) & (z != 1)
    unsaturated = (x[:, HYBRIDIZATION] <= 3) & (x[:, HYBRIDIZATION] >= 2) & (x[:, AROMATIC] == 0)
    return (
        hetero.astype(float)
        + (x[:, CHARGE] != 0)
        + 0.5 * (hetero & (x[:, HYDROGENS] > 0))
        + 0.5 * unsaturated
    )


def budget_edges(x: np.ndarray, component: np.ndarray, k: int) -> np.ndarray:
    """Cross-molecule edges [2, m] (each once, first index smaller), ≤ k per atom.

    ``x`` are molbench atom features [n, 8], ``component`` the molecule of each atom.
    """
    n = len(component)
    if k <= 0 or n < 2:
        return np.zeros((2, 0), dtype=np.int64)
    i, j = np.triu_indices(n, 1)
    cross = component[i] != component[j]
    i, j = i[cross], j[cross]
    r = reactivity(x)
    chi = _CHI[np.clip(x[:, ATOMIC_NUM], 0, 127)]
    score = r[i] + r[j] + np.abs(chi[i] - chi[j])
    order = np.lexsort((j, i, -score))  # best first; ties by (i, j)
    degree = np.zeros(n, dtype=np.int64)
    kept: list[int] = []
    limit = n * k // 2
    for p, a, b in zip(order.tolist(), i[order].tolist(), j[order].tolist(), strict=True):
        if degree[a] < k and degree[b] < k:
            degree[a] += 1
            degree[b] += 1
            kept.append(p)
            if len(kept) >= limit:
                break
    return np.stack([i[kept], j[kept]]).astype(np.int64)


class BudgetedMixtureEdges(BaseTransform):
    """Add ≤ k edges per atom to atoms of other molecules (see the module docs for the rule).

    Reads ``data.x`` (molbench atom features) and ``data.component``; appends both
    directions of each new edge to ``edge_index`` (and ``edge_value`` to ``edge_attr`` when
    the graph has one) and sets ``data.cross_edge``, a mask of the added edges.
    """

    def __init__(self, k: int, edge_value: float = -1.0) -> None:
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        self.k = k
        self.edge_value = edge_value

    def forward(self, data: Any) -> Any:
        x = data.x.cpu().numpy()
        added = torch.from_numpy(budget_edges(x, data.component.cpu().numpy(), self.k))
        both = torch.cat([added, added.flip(0)], dim=1).to(data.edge_index.device)
        n_old = data.edge_index.size(1)
        data.edge_index = torch.cat([data.edge_index, both], dim=1)
        if getattr(data, "edge_attr", None) is not None:
            attr = data.edge_attr
            fill = torch.full((both.size(1), *attr.shape[1:]), self.edge_value, dtype=attr.dtype)
            data.edge_attr = torch.cat([attr, fill.to(attr.device)], dim=0)
        mask = torch.zeros(data.edge_index.size(1), dtype=torch.bool)
        mask[n_old:] = True
        data.cross_edge = mask.to(data.edge_index.device)
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k})"
