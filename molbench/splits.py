"""Split assignment and split audits as pure functions of arrays and a seed.

A split maps a split name (``train`` / ``validation`` / ``test``) to sorted row indices.
Grouped splitters keep every row of a group (a molecule and its corruptions, a reaction
and its duplicates, ...) on the same side, which is what makes a split leak-free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from molbench.errors import BuildError, ParameterError

Split = dict[str, np.ndarray]
SPLIT_NAMES = ("train", "validation", "test")


def grouped_random_split(
    groups: np.ndarray, fractions: Sequence[float], seed: int, names: Sequence[str] = SPLIT_NAMES
) -> Split:
    """Shuffle whole groups with ``seed``, then cut where the row fractions are reached."""
    if len(fractions) != len(names) or not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions {list(fractions)} must match {list(names)} and sum to 1")
    unique, inverse, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    rows_before = np.concatenate([[0], np.cumsum(sizes[order])])[:-1]
    cuts = np.cumsum(fractions)[:-1] * len(groups)
    bucket_of_group = np.empty(len(unique), dtype=np.int64)
    bucket_of_group[order] = np.searchsorted(cuts, rows_before, side="right")
    bucket = bucket_of_group[inverse]
    return {name: np.flatnonzero(bucket == k) for k, name in enumerate(names)}


def threshold_split(
    values: np.ndarray,
    max_train_value: float,
    groups: np.ndarray,
    validation_fraction: float,
    seed: int,
) -> Split:
    """Out-of-distribution split: rows above ``max_train_value`` are the test set.

    The rest is split into train / validation by :func:`grouped_random_split`. Groups must
    not straddle the threshold (checked), or the test set would share them with training.
    """
    is_test = values > max_train_value
    straddling = np.intersect1d(groups[is_test], groups[~is_test])
    if len(straddling):
        raise ValueError(f"{len(straddling)} groups straddle the threshold {max_train_value}")
    inside = np.flatnonzero(~is_test)
    inner = grouped_random_split(
        groups[inside], (1 - validation_fraction, validation_fraction), seed, SPLIT_NAMES[:2]
    )
    split = {name: inside[idx] for name, idx in inner.items()}
    split["test"] = np.flatnonzero(is_test)
    return split


def grouped_sized_split(
    groups: np.ndarray,
    sizes: Mapping[str, int],
    seed: int,
    fill_first: Sequence[str] = ("test", "validation"),
) -> Split:
    """Whole groups to splits of exactly ``sizes`` rows where the groups allow it.

    The scaffold-split recipe of chemprop's "balanced" variant: groups larger than half the
    smallest filled split go to the remaining split (``train``: big scaffold families are
    seen in training), the rest are shuffled with ``seed`` and poured into ``fill_first``
    splits while they fit; whatever is left is the remaining split. With many small groups
    the filled splits hit their sizes exactly; the shortfall is the caller's to check.
    """
    if sum(sizes.values()) != len(groups):
        raise ValueError(f"sizes {dict(sizes)} do not add up to {len(groups)} rows")
    rest = [name for name in sizes if name not in fill_first]
    if len(rest) != 1:
        raise ValueError(f"exactly one split must take the remainder, got {rest}")
    unique, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    big_limit = min(sizes[name] for name in fill_first) / 2
    order = np.random.default_rng(seed).permutation(len(unique))
    order = order[counts[order] <= big_limit]
    bucket_of_group = np.full(len(unique), len(fill_first), dtype=np.int64)  # the remainder
    room = [sizes[name] for name in fill_first]
    for g in order:
        for k in range(len(fill_first)):
            if counts[g] <= room[k]:
                bucket_of_group[g] = k
                room[k] -= counts[g]
                break
        if not any(room):
            break
    bucket = bucket_of_group[inverse]
    names = [*fill_first, rest[0]]
    split = {name: np.flatnonzero(bucket == k) for k, name in enumerate(names)}
    return {name: split[name] for name in sizes}


def merged_groups(*keys: np.ndarray) -> np.ndarray:
    """One group label per row such that rows sharing a value of ANY key share a group.

    E.g. scaffold and InChIKey: two rows of one structure whose SMILES give different
    scaffolds (a zwitterion and its neutral form) must still land in the same split.
    Union-find over (key index, value) nodes; labels are the smallest row index of a group.
    """
    n = len(keys[0])
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key in keys:
        first: dict[Any, int] = {}
        for i, value in enumerate(key.tolist()):
            j = first.setdefault(value, i)
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def parse_split_names(text: str) -> list[str]:
    """``"validation,test"`` → ``["validation", "test"]``; distinct, known names only."""
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    if not chosen or any(s not in SPLIT_NAMES for s in chosen) or len(set(chosen)) != len(chosen):
        raise ParameterError(
            f"--splits must be distinct names from {', '.join(SPLIT_NAMES)}, got {text!r}"
        )
    return chosen


def by_name(names: np.ndarray) -> Split:
    """Rows by the split each one names (a published split), in ``SPLIT_NAMES`` order."""
    return {s: np.flatnonzero(names == s) for s in SPLIT_NAMES if (names == s).any()}


def grouped_like(groups: np.ndarray, reference: Split, seed: int) -> Split:
    """A grouped split with exactly the sizes of ``reference`` (e.g. the published one)."""
    sizes = {s: len(idx) for s, idx in reference.items()}
    split = grouped_sized_split(groups, sizes, seed)
    short = {s: sizes[s] - len(split[s]) for s in sizes if len(split[s]) != sizes[s]}
    if short:
        raise BuildError(f"grouped split could not reach the reference sizes (off by {short})")
    return split


def check_split(split: Mapping[str, np.ndarray], n_rows: int) -> None:
    """Reject empty, overlapping or incomplete splits before anything is written."""
    for name, idx in split.items():
        if len(idx) == 0:
            raise BuildError(f"split {name!r} is empty; choose more molecules or other bounds")
        if idx.min() < 0 or idx.max() >= n_rows:
            raise BuildError(f"split {name!r} has row indices outside 0..{n_rows - 1}")
    seen = np.bincount(np.concatenate(list(split.values())), minlength=n_rows)
    if (seen > 1).any():
        raise BuildError(f"{int((seen > 1).sum())} rows are assigned to more than one split")
    if (seen == 0).any():
        raise BuildError(f"{int((seen == 0).sum())} rows are assigned to no split")


def shared_structures(keys: np.ndarray, split: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Number of distinct structure keys that occur in both splits, for every pair of splits."""
    sets = {name: set(keys[idx].tolist()) for name, idx in split.items()}
    names = list(split)
    return {f"{a}/{b}": len(sets[a] & sets[b]) for i, a in enumerate(names) for b in names[i + 1 :]}


def duplicated_structures(keys: np.ndarray | pa.Array | pa.ChunkedArray) -> int:
    """Rows whose structure key already occurred earlier in the table.

    Counted by Arrow: ``np.unique`` of long strings copies them into a fixed-width array
    as wide as the longest key, gigabytes for a full-size reaction set.
    """
    return int(len(keys) - pc.count_distinct(keys, mode="all").as_py())
