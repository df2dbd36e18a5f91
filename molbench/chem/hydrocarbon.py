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
    def shape(self) -> Shape:
        """The carbon skeleton's layout facts (no hydrogens, no bond orders): shared, not
        recomputed, by molecules made from this one by changing counts or orders."""
        return Shape(len(self.h_counts), [(i, j) for i, j, _ in self.bonds])

    @cached_property
    def codes(self) -> list[str]:
        """Per carbon, the AHU code (see :func:`rooted_code`) of its branch pointing away
        from the centre: computed once, shared by the canonical key and the notation."""
        shape = self.shape
        h = self.h_counts
        bonds = self.bonds
        code = [""] * len(h)
        below = shape.kids
        for v in reversed(shape.order):
            if not below[v]:
                code[v] = f"{h[v]}()"
            elif len(below[v]) == 1:
                c, k = below[v][0]
                code[v] = f"{h[v]}({bonds[k][2]}{code[c]})"
            else:
                kids = [f"{bonds[k][2]}{code[c]}" for c, k in below[v]]
                kids.sort()
                code[v] = f"{h[v]}({','.join(kids)})"
        return code

    @cached_property
    def canonical_key(self) -> str:
        """A string equal for two molecules exactly when they are the same constitution."""
        shape = self.shape
        code = self.codes
        if shape.second_centre < 0:
            return code[shape.root]
        a, b = shape.root, shape.second_centre
        bonds = self.bonds
        kids = sorted(f"{bonds[k][2]}{code[c]}" for c, k in shape.kids[a] if c != b)
        codes = sorted((f"{self.h_counts[a]}({','.join(kids)})", code[b]))
        return f"{codes[0]}{bonds[shape.parent_bond[b]][2]}{codes[1]}"

    def edited(
        self, h_counts: tuple[int, ...], bonds: tuple[tuple[int, int, int], ...]
    ) -> Hydrocarbon:
        """The same skeleton with other hydrogen counts or bond orders (bond ``k`` still
        joins the same carbons), keeping the computed :attr:`shape`."""
        mol = Hydrocarbon(h_counts, bonds)
        mol.__dict__["shape"] = self.shape  # what cached_property would store
        return mol


def saturated(
    n_carbons: int, edges: list[tuple[int, int]], doubles: set[int], like: Hydrocarbon | None = None
) -> Hydrocarbon:
    """The valid hydrocarbon on a skeleton, with edges indexed by ``doubles`` made double;
    ``like``, a molecule already made on the same ``edges``, lends its :attr:`shape`."""
    bonds = []
    used = [0] * n_carbons
    for k, (i, j) in enumerate(edges):
        order = 2 if k in doubles else 1
        bonds.append((min(i, j), max(i, j), order))
        used[i] += order
        used[j] += order
    h_counts = tuple(CARBON_VALENCE - u for u in used)
    bonds.sort()
    return like.edited(h_counts, tuple(bonds)) if like else Hydrocarbon(h_counts, tuple(bonds))


def formula(mol: Hydrocarbon) -> str:
    """Hill-order molecular formula, e.g. ``C4H8`` (``CH4`` for one carbon)."""
    c = "C" if mol.n_carbons == 1 else f"C{mol.n_carbons}"
    h = mol.n_hydrogens
    return c + ("" if h == 0 else "H" if h == 1 else f"H{h}")


class Shape:
    """A carbon tree hung from ``root``, its (first) centre; ``second_centre`` is -1 or the
    bonded twin. ``order`` is breadth-first from the root. Per atom: ``neighbours`` and
    ``kids`` (away from the root) as ``(atom, bond index)`` pairs, ``parent`` (-1 at the
    root) and ``parent_bond``, ``height`` (atoms on the longest path down into its branch)
    and ``up`` (the same for the rest of the tree, seen from its parent). ``ends``: the
    atoms that end a longest path, where a main chain may start."""

    __slots__ = (
        "ends",
        "height",
        "kids",
        "neighbours",
        "order",
        "parent",
        "parent_bond",
        "root",
        "second_centre",
        "up",
    )

    def __init__(self, n: int, edges: list[tuple[int, int]]) -> None:
        neighbours: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for k, (i, j) in enumerate(edges):
            neighbours[i].append((j, k))
            neighbours[j].append((i, k))
        for nbs in neighbours:
            if len(nbs) > 1:
                nbs.sort()
        centres = _tree_centres(neighbours)
        root = centres[0]
        parent = [-1] * n
        parent_bond = [-1] * n
        kids: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        order = [root]
        add = order.append
        for v in order:
            p = parent[v]
            below = kids[v]
            for nb, k in neighbours[v]:
                if nb != p:
                    parent[nb] = v
                    parent_bond[nb] = k
                    below.append((nb, k))
                    add(nb)
        height = [1] * n
        for v in reversed(order):
            below = kids[v]
            if len(below) == 1:
                height[v] = height[below[0][0]] + 1
            elif below:
                height[v] = 1 + max([height[c] for c, _ in below])
        up = [0] * n
        for v in order:
            below = kids[v]
            if not below:
                continue
            above = up[v]  # 0 at the root
            if len(below) == 1:
                up[below[0][0]] = above + 1
                continue
            tall = sorted([height[c] for c, _ in below], reverse=True)
            first, second = tall[0], tall[1]
            for c, _ in below:
                rest = second if height[c] == first else first
                up[c] = 1 + (above if above > rest else rest)
        if n == 1:
            ends = [0]
        else:
            # a leaf's eccentricity: the rest of the tree seen from it (the root is a leaf
            # only in ethane-like two-carbon trees)
            leaves = [v for v in range(n) if not kids[v]]
            if len(neighbours[root]) == 1:
                leaves.append(root)
            reach = [up[v] if v != root else height[kids[v][0][0]] for v in leaves]
            diameter = max(reach)
            ends = sorted(v for v, r in zip(leaves, reach, strict=True) if r == diameter)
        self.neighbours = neighbours
        self.root = root
        self.second_centre = centres[1] if len(centres) == 2 else -1
        self.order = order
        self.parent = parent
        self.parent_bond = parent_bond
        self.kids = kids
        self.height = height
        self.up = up
        self.ends = ends


def _tree_centres(neighbours: list[list[tuple[int, int]]]) -> list[int]:
    n = len(neighbours)
    if n <= 2:
        return list(range(n))
    degree = [len(a) for a in neighbours]
    leaves = [v for v in range(n) if degree[v] == 1]
    remaining = n
    while remaining > 2:
        remaining -= len(leaves)
        next_leaves = []
        for leaf in leaves:
            for nb, _ in neighbours[leaf]:
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
