"""Acyclic hydrocarbons as small labelled trees: carbons carry hydrogen counts, edges bond orders.

The representation deliberately allows *wrong* hydrogen counts and bond orders, so the
same type describes a valid molecule and its near-miss corruption (``CH4CH3``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

CARBON_VALENCE = 4


@dataclass(frozen=True)
class Hydrocarbon:
    """Carbons ``0..n-1`` with hydrogen counts, joined by bonds ``(i, j, order)`` with ``i < j``."""

    h_counts: tuple[int, ...]
    bonds: tuple[tuple[int, int, int], ...]

    @property
    def n_carbons(self) -> int:
        return len(self.h_counts)

    @property
    def n_hydrogens(self) -> int:
        return sum(self.h_counts)

    @property
    def n_double_bonds(self) -> int:
        return sum(1 for _, _, order in self.bonds if order == 2)

    @cached_property
    def adjacency(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """Per carbon: ``(neighbour, bond order)`` pairs in ascending neighbour order."""
        adj: list[list[tuple[int, int]]] = [[] for _ in self.h_counts]
        for i, j, order in self.bonds:
            adj[i].append((j, order))
            adj[j].append((i, order))
        return tuple(tuple(sorted(a)) for a in adj)

    def valence(self, atom: int) -> int:
        """Bonds to carbon plus hydrogens: 4 for every carbon of a valid molecule."""
        return self.h_counts[atom] + sum(order for _, order in self.adjacency[atom])

    def is_valid(self) -> bool:
        """True when every carbon has exactly four bonds (the rule the dataset teaches)."""
        return all(self.valence(a) == CARBON_VALENCE for a in range(self.n_carbons))

    def is_tree(self) -> bool:
        """Connected and acyclic: one molecule, no rings."""
        n = self.n_carbons
        if n == 0 or len(self.bonds) != n - 1:
            return False
        seen = {0}
        stack = [0]
        while stack:
            for nb, _ in self.adjacency[stack.pop()]:
                if nb not in seen:
                    seen.add(nb)
                    stack.append(nb)
        return len(seen) == n

    @cached_property
    def rooted(self) -> Rooted:
        """The tree hung from its (first) centre, with every downward branch's code and
        height: computed once, shared by the canonical key and the notation layout."""
        return _rooted(self)

    @cached_property
    def canonical_key(self) -> str:
        """A string equal for two molecules exactly when they are the same constitution."""
        tree = self.rooted
        if tree.second_centre < 0:
            return tree.code[tree.root]
        a, b = tree.root, tree.second_centre
        kids = sorted(f"{order}{tree.code[nb]}" for nb, order in self.adjacency[a] if nb != b)
        codes = sorted((f"{self.h_counts[a]}({','.join(kids)})", tree.code[b]))
        return f"{codes[0]}{tree.pbond[b]}{codes[1]}"


def saturated(n_carbons: int, edges: list[tuple[int, int]], doubles: set[int]) -> Hydrocarbon:
    """The valid hydrocarbon on a skeleton, with edges indexed by ``doubles`` made double."""
    bonds = []
    used = [0] * n_carbons
    for k, (i, j) in enumerate(edges):
        order = 2 if k in doubles else 1
        bonds.append((min(i, j), max(i, j), order))
        used[i] += order
        used[j] += order
    return Hydrocarbon(tuple(CARBON_VALENCE - u for u in used), tuple(sorted(bonds)))


def formula(mol: Hydrocarbon) -> str:
    """Hill-order molecular formula, e.g. ``C4H8`` (``CH4`` for one carbon)."""
    c = "C" if mol.n_carbons == 1 else f"C{mol.n_carbons}"
    h = mol.n_hydrogens
    return c + ("" if h == 0 else "H" if h == 1 else f"H{h}")


@dataclass(frozen=True)
class Rooted:
    """A molecule's tree hung from ``root``, a centre; ``second_centre`` is -1 or its
    bonded twin. ``order`` is breadth-first; per atom: ``parent`` (-1 at the root),
    ``pbond`` (order of the bond to it), ``code`` (AHU code of the atom's branch pointing
    away from its parent, see :func:`rooted_code`) and ``height`` (atoms on its longest
    downward path)."""

    root: int
    second_centre: int
    order: list[int]
    parent: list[int]
    pbond: list[int]
    code: list[str]
    height: list[int]


def _rooted(mol: Hydrocarbon) -> Rooted:
    adjacency = mol.adjacency
    h = mol.h_counts
    n = len(h)
    centres = _tree_centres(mol)
    root = centres[0]
    parent = [-1] * n
    pbond = [0] * n
    order = [root]
    for v in order:
        p = parent[v]
        for nb, o in adjacency[v]:
            if nb != p:
                parent[nb] = v
                pbond[nb] = o
                order.append(nb)
    code = [""] * n
    height = [1] * n
    for v in reversed(order):
        p = parent[v]
        kids = [f"{o}{code[nb]}" for nb, o in adjacency[v] if nb != p]
        if kids:
            kids.sort()
            height[v] = 1 + max([height[nb] for nb, _ in adjacency[v] if nb != p])
        code[v] = f"{h[v]}({','.join(kids)})"
    return Rooted(root, centres[1] if len(centres) == 2 else -1, order, parent, pbond, code, height)


def _tree_centres(mol: Hydrocarbon) -> list[int]:
    n = mol.n_carbons
    if n <= 2:
        return list(range(n))
    adjacency = mol.adjacency
    degree = [len(a) for a in adjacency]
    leaves = [v for v in range(n) if degree[v] == 1]
    remaining = n
    while remaining > 2:
        remaining -= len(leaves)
        next_leaves = []
        for leaf in leaves:
            for nb, _ in adjacency[leaf]:
                degree[nb] -= 1
                if degree[nb] == 1:
                    next_leaves.append(nb)
        leaves = next_leaves
    return sorted(leaves)


def rooted_code(mol: Hydrocarbon, root: int, parent: int, memo: dict[tuple[int, int], str]) -> str:
    """AHU code of the branch at ``root`` pointing away from ``parent`` (-1: whole tree).

    Equal codes mean identical branches, so sorting by code orders branches canonically.
    The reference definition: :attr:`Hydrocarbon.rooted` computes the same codes in one
    pass, and the tests hold the two equal.
    """
    key = (root, parent)
    if key not in memo:
        children = sorted(
            f"{order}{rooted_code(mol, nb, root, memo)}"
            for nb, order in mol.adjacency[root]
            if nb != parent
        )
        memo[key] = f"{mol.h_counts[root]}({','.join(children)})"
    return memo[key]
