"""Forward reaction prediction scores: top-k match of the product side, by position.

A prediction is compared with the recorded products as a sorted tuple of RDKit canonical
SMILES, one per molecule (a multiset, so ``CC.CC`` is not ``CC``). Molecule order, writing
order, aromatic or Kekulé form and atom-map numbers do not matter; stereo does.

Protocol (the headline, as the literature scores): top-k **by position**. Slot ``i`` of a
ranked list is right or wrong on its own, so a list that repeats a molecule loses that slot,
as in Molecular Transformer's ``score_predictions.py``. The variant ``top{k}_distinct``
first drops repeats (the later copies of a canonical form) and lets the predictions after
them move up: "among the first k distinct guesses". Top-1 is the same under both. Invalid
predictions are never merged: each keeps its slot as a wrong guess. A row with no
predictions is wrong, not invalid.

Rules (what "right" means for one prediction):

* ``exact`` (default): the predicted molecules are exactly the recorded product molecules.
* ``subset``: the recorded product molecules are among the predicted ones (a multiset
  inclusion), the rule of the WLDN authors, whose candidates are the whole edited mixture
  with leftover reactants and reagents in it.

Atom maps are stripped before comparing. Molecular Transformer's scorer does not strip
them: there a mapped prediction never equals the unmapped target, so for a model that
writes atom maps molbench's numbers are higher than that scorer's; for unmapped output
(what MT itself writes) the two agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
from rdkit import Chem
from rdkit.rdBase import BlockLogs

from molbench.chem.untrusted import smiles_too_large
from molbench.stats import accuracy, bootstrap_ci

Canonical = tuple[str, ...]  # sorted canonical SMILES, one per molecule

DEFAULT_KS = (1, 2, 3, 5, 10)
RULES = ("exact", "subset")


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


def is_right(candidate: Canonical | None, target: Canonical | None, rule: str) -> bool:
    """Whether one prediction names the recorded products under ``rule`` (see the module)."""
    if candidate is None or target is None:
        return False
    if rule == "exact":
        return candidate == target
    if rule == "subset":
        return not Counter(target) - Counter(candidate)
    raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")


def first_correct_ranks(
    truth: Sequence[Canonical | None],
    predictions: Sequence[Iterable[Canonical | None]],
    rule: str = "exact",
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the 1-based rank of the first right prediction by position and among distinct
    predictions (repeats dropped); 0: none.

    The first right prediction is never a repeat (its earlier copy would have been right),
    so both ranks point at the same prediction and ``rank == 1`` exactly when
    ``rank_distinct == 1``. ``None`` marks an invalid SMILES: never right, never merged.
    Each row is consumed only up to its first right prediction, so a lazy iterable spares
    canonicalising the rest (most of the work for a good model).
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    if len(truth) != len(predictions):
        raise ValueError(f"{len(truth)} truth rows but {len(predictions)} prediction rows")
    rank = np.zeros(len(truth), dtype=np.int64)
    rank_distinct = np.zeros(len(truth), dtype=np.int64)
    for i, (target, ranked) in enumerate(zip(truth, predictions, strict=True)):
        if target is None:
            continue
        seen: set[Canonical] = set()
        distinct = 0
        for position, candidate in enumerate(ranked, 1):
            if candidate is None or candidate not in seen:
                distinct += 1
                if candidate is not None:
                    seen.add(candidate)
            if is_right(candidate, target, rule):
                rank[i], rank_distinct[i] = position, distinct
                break
    return rank, rank_distinct


def hits_at(rank: np.ndarray, k: int) -> np.ndarray:
    """Boolean per row: right within the first ``k`` predictions of the protocol ``rank`` used."""
    return (rank > 0) & (rank <= k)


def topk_ci(
    rank: np.ndarray, k: int, seed: int = 0, resamples: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of top-k accuracy from the per-row ranks."""
    hit = hits_at(rank, k)
    return bootstrap_ci(
        accuracy, hit, np.ones_like(hit), seed=seed, resamples=resamples, level=level
    )
