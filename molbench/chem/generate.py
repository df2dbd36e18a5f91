"""Valid acyclic hydrocarbons (exhaustive or sampled) and their single-edit invalid near-misses.

Pure functions of their inputs and a ``numpy.random.Generator``: the builder decides seeds.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from functools import cache
from typing import overload

import numpy as np

from molbench.chem.hydrocarbon import CARBON_VALENCE, Hydrocarbon, saturated

MAX_DEGREE = CARBON_VALENCE
Skeleton = tuple[tuple[int, int], ...]  # edges of an unlabelled carbon tree

# Corruption types, each one edit away from a valid molecule and each invalid by valence.
OVER_VALENCE_ERRORS = (
    "carbon_valence_over_4",  # one carbon given an extra hydrogen: CH3CH3 -> CH4CH3
    "double_bond_on_saturated_carbon",  # a single bond written double, hydrogens unchanged
    "misplaced_double_bond",  # a double bond moved to a neighbouring bond, hydrogens unchanged
    "misplaced_hydrogen",  # a hydrogen moved from one carbon to another
)
UNDER_VALENCE_ERRORS = (
    "carbon_valence_under_4",  # one carbon missing a hydrogen: CH3CH3 -> CH2CH3
    "single_bond_on_unsaturated_carbon",  # a double bond written single, hydrogens unchanged
)
ERROR_TYPES = OVER_VALENCE_ERRORS + UNDER_VALENCE_ERRORS
EXHAUSTIVE_MAX_CARBONS = 10  # every isomer is enumerated up to here (4,206 at C10)
# len(generate.all_isomers(n)) for n = 1..EXHAUSTIVE_MAX_CARBONS (tests hold them equal):
# the quotas need only the counts, and enumerating them here would be serial work
ISOMER_COUNTS = (1, 2, 3, 8, 17, 48, 131, 407, 1269, 4206)
SAMPLING_ATTEMPTS_PER_MOLECULE = 30


@cache
def skeletons(n_carbons: int) -> tuple[Skeleton, ...]:
    """Every carbon skeleton (unlabelled tree, degree <= 4) on ``n_carbons`` atoms, sorted."""
    if n_carbons == 1:
        return ((),)
    found: dict[str, Skeleton] = {}
    for smaller in skeletons(n_carbons - 1):
        degree = np.bincount(np.array(smaller, dtype=int).ravel(), minlength=n_carbons - 1)
        for attach in range(n_carbons - 1):
            if degree[attach] < MAX_DEGREE:
                edges = (*smaller, (attach, n_carbons - 1))
                key = saturated(n_carbons, list(edges), set()).canonical_key
                found.setdefault(key, edges)
    return tuple(found[k] for k in sorted(found))


def double_bond_sets(n_carbons: int, edges: Skeleton) -> Iterator[frozenset[int]]:
    """All sets of edges that can be double without any carbon exceeding four bonds."""
    spare = [MAX_DEGREE] * n_carbons
    for i, j in edges:
        spare[i] -= 1
        spare[j] -= 1

    def extend(k: int, chosen: list[int]) -> Iterator[frozenset[int]]:
        if k == len(edges):
            yield frozenset(chosen)
            return
        yield from extend(k + 1, chosen)
        i, j = edges[k]
        if spare[i] and spare[j]:
            spare[i] -= 1
            spare[j] -= 1
            chosen.append(k)
            yield from extend(k + 1, chosen)
            chosen.pop()
            spare[i] += 1
            spare[j] += 1

    yield from extend(0, [])


def all_isomers(n_carbons: int) -> list[Hydrocarbon]:
    """Every acyclic alkane/alkene constitution with ``n_carbons`` carbons, in canonical order."""
    found: dict[str, Hydrocarbon] = {}
    for edges in skeletons(n_carbons):
        alkane = saturated(n_carbons, list(edges), set())
        for doubles in double_bond_sets(n_carbons, edges):
            mol = saturated(n_carbons, list(edges), set(doubles), like=alkane)
            found.setdefault(mol.canonical_key, mol)
    return [found[k] for k in sorted(found)]


def random_skeleton(n_carbons: int, rng: np.random.Generator) -> Skeleton:
    """A uniformly random labelled tree (Prüfer code) with degree <= 4, by rejection."""
    if n_carbons <= 2:
        return ((0, 1),) if n_carbons == 2 else ()
    while True:
        code = rng.integers(0, n_carbons, size=n_carbons - 2)
        degree = np.bincount(code, minlength=n_carbons) + 1
        if degree.max() <= MAX_DEGREE:
            return _decode_pruefer(code.tolist(), degree.tolist())


def _decode_pruefer(code: list[int], degree: list[int]) -> Skeleton:
    """Prüfer decoding: each step joins the smallest-numbered leaf to the next code entry
    (the leaves kept in a heap instead of searched for)."""
    leaves = [u for u, d in enumerate(degree) if d == 1]
    heapq.heapify(leaves)
    edges = []
    for v in code:
        leaf = heapq.heappop(leaves)
        edges.append((leaf, v))
        degree[leaf] -= 1
        degree[v] -= 1
        if degree[v] == 1:
            heapq.heappush(leaves, v)
    u, w = sorted(leaves)
    edges.append((u, w))
    return tuple(edges)


def random_double_bonds(
    n_carbons: int, edges: Skeleton, rng: np.random.Generator
) -> frozenset[int]:
    """A uniformly random valid set of double bonds on the skeleton (exact, by tree DP)."""
    if not edges:
        return frozenset()
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n_carbons)]
    for k, (i, j) in enumerate(edges):
        adjacency[i].append((j, k))
        adjacency[j].append((i, k))
    spare = [MAX_DEGREE - len(a) for a in adjacency]
    order, parent = _bfs(adjacency)
    children = [[(c, k) for c, k in adjacency[v] if c != parent[v]] for v in range(n_carbons)]
    # single[v], double[v]: valid assignments inside v's subtree given that 0 or 1 of v's
    # spare bonds are already used by the edge to its parent.
    single = [0] * n_carbons
    double = [0] * n_carbons
    for v in reversed(order):
        poly = [1]  # polynomial over the number of double child edges
        for c, _ in children[v]:
            s, d = single[c], double[c]
            grown = [x * s for x in poly]
            grown.append(0)
            for i, x in enumerate(poly):
                grown[i + 1] += x * d
            poly = grown
        free = spare[v]
        single[v] = sum(poly[: free + 1])
        double[v] = sum(poly[:free]) if free >= 1 else 0
    chosen: set[int] = set()
    used = [0] * n_carbons
    for v in order:
        kids = children[v]
        if kids:
            chosen |= _sample_children(kids, single, double, spare[v] - used[v], rng, used)
    return frozenset(chosen)


def _sample_children(
    children: list[tuple[int, int]],
    single: list[int],
    double: list[int],
    capacity: int,
    rng: np.random.Generator,
    used: list[int],
) -> set[int]:
    """Pick which child edges are double, weighted by the number of completions below;
    marks each chosen child's spare bond as ``used``."""
    # suffix[i][m]: weighted count for children i.. with at most m doubles left.
    width = capacity + 1
    suffix = [[1] * width]
    for c, _ in reversed(children):
        after = suffix[-1]
        s, d = single[c], double[c]
        row = [s * after[0]]
        for m in range(1, width):
            row.append(s * after[m] + d * after[m - 1])
        suffix.append(row)
    suffix.reverse()
    chosen: set[int] = set()
    m = capacity
    for i, (c, k) in enumerate(children):
        after = suffix[i + 1]
        as_single = single[c] * after[m]
        as_double = double[c] * after[m - 1] if m > 0 else 0
        if rng.random() * (as_single + as_double) >= as_single:
            chosen.add(k)
            used[c] = 1
            m -= 1
    return chosen


def _bfs(adjacency: list[list[tuple[int, int]]]) -> tuple[list[int], list[int]]:
    parent = [-1] * len(adjacency)
    order = [0]
    for v in order:
        for nb, _ in adjacency[v]:
            if nb != parent[v]:
                parent[nb] = v
                order.append(nb)
    return order, parent


def random_isomer(n_carbons: int, rng: np.random.Generator) -> Hydrocarbon:
    """A random valid constitution: random skeleton, then a uniform valid double-bond set."""
    edges = random_skeleton(n_carbons, rng)
    return saturated(n_carbons, list(edges), set(random_double_bonds(n_carbons, edges, rng)))


def corruption_sites(mol: Hydrocarbon) -> dict[str, Sequence[tuple[int, ...]]]:
    """Where each error type applies: carbon indices, bond indices, or (double, single) pairs.

    Sites are cheap to list; only the chosen one is turned into a molecule by :func:`corrupt`.
    The ``n·(n-1)``-odd hydrogen moves are not even listed: :class:`HydrogenMoves` computes
    the site at an index.
    """
    n = mol.n_carbons
    h = mol.h_counts
    single = [k for k, (_, _, order) in enumerate(mol.bonds) if order == 1]
    double = [k for k, (_, _, order) in enumerate(mol.bonds) if order == 2]
    bonds_at: list[list[int]] = [[] for _ in range(n)]
    for k in single:
        i, j, _ = mol.bonds[k]
        bonds_at[i].append(k)
        bonds_at[j].append(k)
    donors = [b for b in range(n) if h[b] > 0]
    sites: dict[str, Sequence[tuple[int, ...]]] = {
        "carbon_valence_over_4": [(a,) for a in range(n)],
        "double_bond_on_saturated_carbon": [(k,) for k in single],
        "misplaced_double_bond": [
            (k, m) for k in double for atom in mol.bonds[k][:2] for m in bonds_at[atom]
        ],
        "misplaced_hydrogen": HydrogenMoves(n, donors),
        "carbon_valence_under_4": [(a,) for a in donors],
        "single_bond_on_unsaturated_carbon": [(k,) for k in double],
    }
    return {error: s for error, s in sites.items() if s}


class HydrogenMoves(Sequence[tuple[int, int]]):
    """The sites ``(a, b)`` of ``misplaced_hydrogen``: for each carbon ``b`` with a
    hydrogen (``donors``, ascending), every other carbon ``a`` in ascending order."""

    def __init__(self, n_carbons: int, donors: list[int]) -> None:
        self.others = n_carbons - 1
        self.donors = donors

    def __len__(self) -> int:
        return len(self.donors) * self.others

    @overload
    def __getitem__(self, index: int) -> tuple[int, int]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[int, int]]: ...

    def __getitem__(self, index: int | slice) -> tuple[int, int] | list[tuple[int, int]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        b = self.donors[index // self.others]
        a = index % self.others
        return (a if a < b else a + 1, b)


def corrupt(mol: Hydrocarbon, error: str, site: tuple[int, ...]) -> Hydrocarbon:
    """Apply one edit of type ``error`` at ``site`` (as listed by :func:`corruption_sites`)."""
    if error == "carbon_valence_over_4":
        return _with_h(mol, site[0], mol.h_counts[site[0]] + 1)
    if error == "carbon_valence_under_4":
        return _with_h(mol, site[0], mol.h_counts[site[0]] - 1)
    if error == "double_bond_on_saturated_carbon":
        return _with_order(mol, site[0], 2)
    if error == "single_bond_on_unsaturated_carbon":
        return _with_order(mol, site[0], 1)
    if error == "misplaced_hydrogen":
        moved = _with_h(mol, site[0], mol.h_counts[site[0]] + 1)
        return _with_h(moved, site[1], mol.h_counts[site[1]] - 1)
    if error == "misplaced_double_bond":
        return _with_order(_with_order(mol, site[0], 1), site[1], 2)
    raise ValueError(f"unknown error type {error!r}")


def corruptions(mol: Hydrocarbon) -> dict[str, list[Hydrocarbon]]:
    """Every single-edit invalid variant of a valid molecule, grouped by error type."""
    return {
        error: [corrupt(mol, error, site) for site in sites]
        for error, sites in corruption_sites(mol).items()
    }


def _with_h(mol: Hydrocarbon, atom: int, h: int) -> Hydrocarbon:
    counts = list(mol.h_counts)
    counts[atom] = h
    return mol.edited(tuple(counts), mol.bonds)


def _with_order(mol: Hydrocarbon, bond: int, order: int) -> Hydrocarbon:
    bonds = list(mol.bonds)
    i, j, _ = bonds[bond]
    bonds[bond] = (i, j, order)
    return mol.edited(mol.h_counts, tuple(bonds))


def carbon_quotas(n_valid: int, max_carbons: int) -> dict[int, int]:
    """Equal valid-molecule shares per carbon count, capped by how many isomers exist."""
    capacity = {
        n: ISOMER_COUNTS[n - 1] if n <= EXHAUSTIVE_MAX_CARBONS else n_valid
        for n in range(1, max_carbons + 1)
    }
    quotas = {n: 0 for n in capacity}
    remaining = n_valid
    open_counts = sorted(capacity, key=lambda n: capacity[n])
    while open_counts and remaining > 0:
        share, extra = divmod(remaining, len(open_counts))
        n = open_counts[0]
        if capacity[n] <= share:
            quotas[n] = capacity[n]
            remaining -= capacity[n]
            open_counts.pop(0)
            continue
        for i, n in enumerate(sorted(open_counts)):
            # the remainder goes to the largest counts, which have the most isomers
            quotas[n] = share + (1 if i >= len(open_counts) - extra else 0)
        break
    return quotas


def pick_valid(n: int, quota: int, rng: np.random.Generator) -> list[Hydrocarbon]:
    """``quota`` distinct valid isomers with ``n`` carbons: drawn from all of them up to
    ``EXHAUSTIVE_MAX_CARBONS``, sampled (labelled tree + uniform double bonds) above."""
    if n <= EXHAUSTIVE_MAX_CARBONS:
        isomers = all_isomers(n)
        chosen = np.sort(rng.choice(len(isomers), size=min(quota, len(isomers)), replace=False))
        return [isomers[i] for i in chosen]
    found: dict[str, Hydrocarbon] = {}
    for _ in range(quota * SAMPLING_ATTEMPTS_PER_MOLECULE):
        mol = random_isomer(n, rng)
        found.setdefault(mol.canonical_key, mol)
        if len(found) == quota:
            break
    return list(found.values())
