"""The embedding of the graph columns' ``atom_features``, shared by molbench's graph models.

``atom_features`` (``molbench.chem.graph`` / ``reaction_graph``): atomic_num, formal_charge,
total_num_hs, degree, is_aromatic, hybridization, is_in_ring, chiral_tag. Each column's value
is shifted, clipped to its table size and looked up in one block of rows; an atom's vector
is the sum over its columns.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

FEATURE_SIZES = (120, 9, 9, 7, 2, 8, 2, 9)
FEATURE_SHIFTS = (0, 4, 0, 0, 0, 0, 0, 0)  # formal charge -4..4


class AtomFeatureEmbedding(nn.Embedding):
    """``[n_atoms, 8]`` integer features → ``[n_atoms, dim]`` (its weight is one plain table,
    so saved models keep the key ``<name>.weight``)."""

    def __init__(self, dim: int) -> None:
        super().__init__(sum(FEATURE_SIZES), dim)
        offsets = np.cumsum([0, *FEATURE_SIZES[:-1]])
        self.register_buffer("feature_offsets", torch.tensor(offsets), persistent=False)
        self.register_buffer("feature_shifts", torch.tensor(FEATURE_SHIFTS), persistent=False)
        self.register_buffer("feature_max", torch.tensor(FEATURE_SIZES) - 1, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = (x + self.feature_shifts).clamp(min=0)
        rows = torch.minimum(rows, self.feature_max) + self.feature_offsets
        return super().forward(rows).sum(1)
