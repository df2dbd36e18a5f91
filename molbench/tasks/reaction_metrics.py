"""Forward reaction prediction scores: top-k exact match of the product side.

A prediction is right when it names the same molecules as the recorded products, compared as
a sorted tuple of RDKit canonical SMILES, one per molecule (a multiset, so ``CC.CC`` is not
``CC``). Molecule order, writing order, aromatic or Kekulé form and atom-map numbers do not
matter; stereo does. This agrees with the Molecular Transformer scoring (equality of RDKit
canonical SMILES of the whole product string, whose fragments RDKit orders canonically).

Two conventions differ from a plain position check and are deliberate:

* Repeats within one ranked list (same canonical form) count once: the later copies are
  dropped and the predictions after them move up, so top-k means "among the first k distinct
  guesses". Invalid predictions are never merged: each one keeps its slot as a wrong guess.
* A row with no predictions is wrong, not invalid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.rdBase import BlockLogs

from molbench.chem.untrusted import smiles_too_large
from molbench.stats import accuracy, bootstrap_ci

Canonical = tuple[str, ...]  # sorted canonical SMILES, one per molecule

DEFAULT_KS = (1, 2, 3, 5, 10)

# Direction of each name in ``ForwardScores.metrics()`` for the default ks.
HIGHER_IS_BETTER: Mapping[str, bool] = {
    **{f"top{k}": True for k in DEFAULT_KS},
    "invalid_top1": False,
}


def parse_smiles(smiles: str) -> Chem.Mol | None:
    """RDKit's sanitised molecule, or ``None`` for a SMILES a model should not get credit for.

    Surrounding whitespace is ignored, but whitespace inside is invalid: RDKit would read
    ``"CC O"`` as ``CC`` titled ``O`` and quietly score a truncated prediction. An empty
    string (RDKit: a molecule with no atoms) is invalid too, and so is a string over the
    size limits of :mod:`molbench.chem.untrusted` (RDKit would crash on some of those).
    """
    text = smiles.strip()
    if len(text.split(maxsplit=1)) != 1 or smiles_too_large(text):  # empty, inner whitespace
        return None
    with BlockLogs():
        mol = Chem.MolFromSmiles(text)
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


def canonical_molecules(smiles: str) -> Canonical | None:
    """Sorted canonical SMILES of each molecule, atom maps removed; ``None`` if RDKit rejects it."""
    mol = parse_smiles(smiles)
    if mol is None:
        return None
    if ":" in smiles:  # atom maps (or an explicit aromatic bond: clearing is harmless)
        for atom in mol.GetAtoms():
            atom.SetAtomMapNum(0)
    if "." not in smiles:
        return (Chem.MolToSmiles(mol),)
    fragments = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    return tuple(sorted(Chem.MolToSmiles(f) for f in fragments))


def first_correct_rank(
    truth: Sequence[Canonical | None], predictions: Sequence[Iterable[Canonical | None]]
) -> np.ndarray:
    """Per row, the 1-based rank of the first right prediction after repeats are dropped; 0: none.

    ``None`` marks an invalid SMILES; it is never right, never merged, and keeps its slot.
    Each row is consumed only up to its first right prediction, so a lazy iterable spares
    canonicalising the rest (most of the work for a good model).
    """
    if len(truth) != len(predictions):
        raise ValueError(f"{len(truth)} truth rows but {len(predictions)} prediction rows")
    ranks = np.zeros(len(truth), dtype=np.int64)
    for i, (target, ranked) in enumerate(zip(truth, predictions, strict=True)):
        if target is None:
            continue
        seen: set[Canonical] = set()
        position = 0
        for candidate in ranked:
            if candidate is not None:
                if candidate in seen:
                    continue
                seen.add(candidate)
            position += 1
            if candidate == target:
                ranks[i] = position
                break
    return ranks


def hits_at(rank: np.ndarray, k: int) -> np.ndarray:
    """Boolean per row: right within the first ``k`` distinct predictions."""
    return (rank > 0) & (rank <= k)


def topk_accuracy(
    truth: Sequence[Canonical | None],
    predictions: Sequence[Sequence[Canonical | None]],
    k: int,
) -> float:
    """Fraction of rows right within the first ``k`` distinct predictions; ``nan`` for no rows."""
    rank = first_correct_rank(truth, predictions)
    return float(np.mean(hits_at(rank, k))) if len(rank) else float("nan")


def topk_ci(
    rank: np.ndarray, k: int, seed: int = 0, resamples: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of top-k accuracy from the per-row ranks."""
    hit = hits_at(rank, k)
    return bootstrap_ci(
        accuracy, hit, np.ones_like(hit), seed=seed, resamples=resamples, level=level
    )


@dataclass(frozen=True)
class ForwardScores:
    """One scoring pass; ``rank`` (0 = never right) feeds bootstrap intervals and buckets."""

    rank: np.ndarray
    topk: dict[int, float]
    invalid_top1: float  # share of all rows whose first prediction does not parse
    mean_predictions: float  # predictions per row as submitted, repeats included

    def metrics(self) -> dict[str, float]:
        """Flat ``{"top1": ..., "invalid_top1": ..., "mean_predictions": ...}`` for result JSON."""
        return {
            **{f"top{k}": v for k, v in self.topk.items()},
            "invalid_top1": self.invalid_top1,
            "mean_predictions": self.mean_predictions,
        }


def score_forward(
    truth_smiles: Sequence[str],
    ranked_predictions: Sequence[Sequence[str]],
    ks: Sequence[int] = DEFAULT_KS,
) -> ForwardScores:
    """Score ranked product predictions against the recorded products, canonicalising each once.

    Raises ``ValueError`` when the row counts differ, a k is not positive, or a truth SMILES
    does not parse (a dataset bug, not a model error).
    """
    if len(truth_smiles) != len(ranked_predictions):
        raise ValueError(
            f"{len(truth_smiles)} truth rows but {len(ranked_predictions)} prediction rows"
        )
    if any(k < 1 for k in ks):
        raise ValueError(f"top-k needs k >= 1, got {list(ks)}")
    cache: dict[str, Canonical | None] = {}

    def canonical(smiles: str) -> Canonical | None:
        if smiles not in cache:
            cache[smiles] = canonical_molecules(smiles)
        return cache[smiles]

    truth = [canonical(s) for s in truth_smiles]
    bad = [i for i, t in enumerate(truth) if t is None]
    if bad:
        raise ValueError(f"{len(bad)} truth SMILES do not parse, first rows {bad[:5]}")
    rank = first_correct_rank(truth, [map(canonical, row) for row in ranked_predictions])
    n = len(rank)
    if n == 0:
        nan = float("nan")
        return ForwardScores(rank, dict.fromkeys(ks, nan), nan, nan)
    invalid = sum(bool(row) and canonical(row[0]) is None for row in ranked_predictions)
    return ForwardScores(
        rank=rank,
        topk={k: float(np.mean(hits_at(rank, k))) for k in ks},
        invalid_top1=invalid / n,
        mean_predictions=float(np.mean([len(row) for row in ranked_predictions])),
    )
