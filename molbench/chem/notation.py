"""Writing and reading hydrocarbons as condensed formulae and explicit-hydrogen SMILES.

Both notations are written from one canonical layout (main chain = a longest path,
branches in canonical order), so the same constitution always gets the same strings and
atom ``i`` of the graph columns is the ``i``-th carbon of both strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from molbench.chem.hydrocarbon import Hydrocarbon, rooted_code

_BOND_SYMBOL = {1: "", 2: "=", 3: "#"}
_SYMBOL_BOND = {"=": 2, "#": 3}


class NotationError(ValueError):
    """A condensed formula that cannot be read."""


@dataclass
class _Node:
    atom: int
    bond: int  # order of the bond from the parent (0 for the first atom)
    branches: list[_Node] = field(default_factory=list)
    next: _Node | None = None


def _hydrogens(h: int) -> str:
    return "" if h == 0 else "H" if h == 1 else f"H{h}"


def _heights(mol: Hydrocarbon, v: int, parent: int, memo: dict[tuple[int, int], int]) -> int:
    key = (v, parent)
    if key not in memo:
        memo[key] = 1 + max(
            (_heights(mol, nb, v, memo) for nb, _ in mol.adjacency[v] if nb != parent), default=0
        )
    return memo[key]


def _layout(
    mol: Hydrocarbon,
    start: int,
    codes: dict[tuple[int, int], str],
    heights: dict[tuple[int, int], int],
) -> _Node:
    def walk(v: int, parent: int, bond: int) -> _Node:
        node = _Node(v, bond)
        children = sorted(
            (nb for nb, _ in mol.adjacency[v] if nb != parent),
            key=lambda nb: (-_heights(mol, nb, v, heights), rooted_code(mol, nb, v, codes)),
        )
        orders = dict(mol.adjacency[v])
        if children:
            node.next = walk(children[0], v, orders[children[0]])
            branch_atoms = sorted(children[1:], key=lambda nb: rooted_code(mol, nb, v, codes))
            node.branches = [walk(nb, v, orders[nb]) for nb in branch_atoms]
        return node

    return walk(start, -1, 0)


def _chain_starts(mol: Hydrocarbon, heights: dict[tuple[int, int], int]) -> list[int]:
    """Ends of the longest paths: the candidates for the first atom of the main chain."""
    if mol.n_carbons == 1:
        return [0]
    ecc = [_heights(mol, v, -1, heights) for v in range(mol.n_carbons)]
    diameter = max(ecc)
    return [v for v in range(mol.n_carbons) if ecc[v] == diameter and len(mol.adjacency[v]) == 1]


def _render(node: _Node, h_counts: tuple[int, ...], smiles: bool) -> str:
    parts = []
    cursor: _Node | None = node
    first = True
    while cursor is not None:
        bond = "" if first else _BOND_SYMBOL[cursor.bond]
        atom = f"C{_hydrogens(h_counts[cursor.atom])}"
        parts.append(bond + (f"[{atom}]" if smiles else atom))
        branches = [_BOND_SYMBOL[b.bond] + _render(b, h_counts, smiles) for b in cursor.branches]
        cursor, first = cursor.next, False
        if smiles:
            parts.extend(f"({b})" for b in branches)
            continue
        if cursor is not None and cursor.next is None and not cursor.branches:
            last = _BOND_SYMBOL[cursor.bond] + f"C{_hydrogens(h_counts[cursor.atom])}"
            if last in branches:  # CH(CH3)CH3 -> CH(CH3)2, C(CH3)2CH3 -> C(CH3)3
                branches.append(last)
                cursor = None
        parts.extend(_group(branches))
    return "".join(parts)


def _group(branches: list[str]) -> list[str]:
    """``(CH3)(CH3)`` → ``(CH3)2``: the multiplier notation of condensed formulae."""
    out: list[str] = []
    i = 0
    while i < len(branches):
        j = i
        while j < len(branches) and branches[j] == branches[i]:
            j += 1
        out.append(f"({branches[i]})" + (str(j - i) if j - i > 1 else ""))
        i = j
    return out


def _order(node: _Node) -> list[int]:
    out = []
    cursor: _Node | None = node
    while cursor is not None:
        out.append(cursor.atom)
        for b in cursor.branches:
            out.extend(_order(b))
        cursor = cursor.next
    return out


@dataclass(frozen=True)
class Written:
    """A molecule in writing order with both of its notations."""

    mol: Hydrocarbon  # renumbered: atom i is the i-th carbon of both strings
    condensed: str
    smiles: str


def write(mol: Hydrocarbon) -> Written:
    """Canonical condensed formula and bracket SMILES, and the molecule renumbered to match."""
    codes: dict[tuple[int, int], str] = {}
    heights: dict[tuple[int, int], int] = {}
    # Starts with equal codes give identical strings, so the smallest code is canonical.
    start = min(_chain_starts(mol, heights), key=lambda s: rooted_code(mol, s, -1, codes))
    root = _layout(mol, start, codes, heights)
    order = _order(root)
    new_index = {old: new for new, old in enumerate(order)}
    bonds = tuple(
        sorted(
            (min(new_index[i], new_index[j]), max(new_index[i], new_index[j]), o)
            for i, j, o in mol.bonds
        )
    )
    renumbered = Hydrocarbon(tuple(mol.h_counts[old] for old in order), bonds)
    condensed = _render(root, mol.h_counts, smiles=False)
    return Written(renumbered, condensed, _render(root, mol.h_counts, smiles=True))


def parse_condensed(text: str) -> Hydrocarbon:
    """Read a condensed formula such as ``CH3CH(CH3)CH=CH2`` or ``CH3C(CH3)2CH3``.

    Hydrogen counts are taken as written (``CH4CH3`` parses), so invalid molecules round-trip.
    """
    h_counts: list[int] = []
    bonds: list[tuple[int, int, int]] = []
    pos = 0

    def fail(why: str) -> NotationError:
        return NotationError(f"cannot read condensed formula {text!r} at position {pos}: {why}")

    def number() -> int | None:
        nonlocal pos
        start = pos
        while pos < len(text) and text[pos].isdigit():
            pos += 1
        return int(text[start:pos]) if pos > start else None

    def bond() -> int:
        nonlocal pos
        if pos < len(text) and text[pos] in _SYMBOL_BOND:
            pos += 1
            return _SYMBOL_BOND[text[pos - 1]]
        return 1

    def atom() -> int:
        nonlocal pos
        if pos >= len(text) or text[pos] != "C":
            raise fail("expected 'C'")
        pos += 1
        h = 0
        if pos < len(text) and text[pos] == "H":
            pos += 1
            count = number()
            h = 1 if count is None else count
        h_counts.append(h)
        return len(h_counts) - 1

    def chain(prev: int | None, order: int) -> None:
        nonlocal pos
        while True:
            current = atom()
            if prev is not None:
                bonds.append((prev, current, order))
            while pos < len(text) and text[pos] == "(":
                pos += 1
                start = pos
                chain(current, bond())
                if pos >= len(text) or text[pos] != ")":
                    raise fail("expected ')'")
                pos += 1
                end = pos
                repeat = number() or 1
                after = pos
                for _ in range(repeat - 1):
                    pos = start
                    chain(current, bond())
                    pos = end
                pos = after
            if pos >= len(text) or text[pos] == ")":
                return
            prev, order = current, bond()

    if not text:
        raise NotationError("empty condensed formula")
    chain(None, 1)
    if pos != len(text):
        raise fail("unexpected character")
    return Hydrocarbon(tuple(h_counts), tuple(sorted(bonds)))
