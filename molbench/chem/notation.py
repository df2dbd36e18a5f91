"""Writing and reading hydrocarbons as condensed formulae and explicit-hydrogen SMILES.

Both notations are written from one canonical layout (main chain = a longest path,
branches in canonical order), so the same constitution always gets the same strings and
atom ``i`` of the graph columns is the ``i``-th carbon of both strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from molbench.chem.hydrocarbon import Hydrocarbon

_BOND_SYMBOL = {1: "", 2: "=", 3: "#"}
_SYMBOL_BOND = {"=": 2, "#": 3}


_HYDROGENS = ("", "H", *(f"H{h}" for h in range(2, 10)))


class NotationError(ValueError):
    """A condensed formula that cannot be read."""


def _hydrogens(h: int) -> str:
    return _HYDROGENS[h] if 0 <= h < len(_HYDROGENS) else f"H{h}"


@dataclass(frozen=True)
class Written:
    """A molecule in writing order with both of its notations."""

    mol: Hydrocarbon  # renumbered: atom i is the i-th carbon of both strings
    condensed: str
    smiles: str


def write(mol: Hydrocarbon) -> Written:
    """Canonical condensed formula and bracket SMILES, and the molecule renumbered to match.

    The main chain starts at an end of a longest path (the one whose whole-tree code is
    smallest) and continues, at every atom, into the tallest child branch (smallest code
    among equals); the other children become branches in code order. Heights come from
    the skeleton's :attr:`~Hydrocarbon.shape`, the codes of branches pointing away from
    the centre from :attr:`~Hydrocarbon.codes`; only those on the way from a candidate
    start up to the centre are coded here.
    """
    shape = mol.shape
    code = mol.codes
    h = mol.h_counts
    bonds = mol.bonds
    neighbours, parent, parent_bond, kids = (
        shape.neighbours,
        shape.parent,
        shape.parent_bond,
        shape.kids,
    )
    height, up, root = shape.height, shape.up, shape.root
    up_code: dict[int, str] = {}

    def away(v: int) -> str:
        """Code of the branch at ``parent[v]`` pointing away from ``v`` (memoised, coded
        from the root down; not recursive, so the closure holds no cycle)."""
        path = []
        u = v
        while u not in up_code:
            path.append(u)
            if parent[u] == root:
                break
            u = parent[u]
        for u in reversed(path):
            p = parent[u]
            entries = [f"{bonds[k][2]}{code[c]}" for c, k in kids[p] if c != u]
            if p != root:
                entries.append(f"{bonds[parent_bond[p]][2]}{up_code[p]}")
            entries.sort()
            up_code[u] = f"{h[p]}({','.join(entries)})"
        return up_code[v]

    ends = shape.ends
    if len(ends) == 1:
        start = ends[0]
    else:
        # Starts with equal codes give identical strings, so the smallest code is canonical.
        start = min(
            ends,
            key=lambda s: code[s] if s == root else f"{h[s]}({bonds[parent_bond[s]][2]}{away(s)})",
        )
    layout = _Layout(
        ["C" + _hydrogens(x) for x in h],
        [_BOND_SYMBOL[o] for _, _, o in bonds],
        neighbours,
        parent,
        code,
        height,
        up,
        away,
    )
    condensed, smiles = _chain(layout, start, -1)
    order = layout.order
    new_index = [0] * len(h)
    for new, old in enumerate(order):
        new_index[old] = new
    renumbered_bonds = []
    for i, j, o in bonds:
        a, b = new_index[i], new_index[j]
        renumbered_bonds.append((a, b, o) if a < b else (b, a, o))
    renumbered_bonds.sort()
    renumbered = Hydrocarbon(tuple([h[old] for old in order]), tuple(renumbered_bonds))
    return Written(renumbered, condensed, smiles)


class _Layout:
    """What :func:`_chain` reads: one molecule's atom texts, bond symbols and branch tables,
    and the writing order it fills."""

    __slots__ = (
        "atoms",
        "away",
        "code",
        "height",
        "neighbours",
        "order",
        "parent",
        "symbols",
        "up",
    )

    def __init__(
        self,
        atoms: list[str],
        symbols: list[str],
        neighbours: list[list[tuple[int, int]]],
        parent: list[int],
        code: list[str],
        height: list[int],
        up: list[int],
        away: Callable[[int], str],
    ) -> None:
        self.atoms = atoms
        self.symbols = symbols
        self.neighbours = neighbours
        self.parent = parent
        self.code = code
        self.height = height
        self.up = up
        self.away = away
        self.order: list[int] = []


def _chain(t: _Layout, v: int, came: int) -> tuple[str, str]:
    """Condensed and SMILES text of the chain from ``v`` with all of its branches."""
    atoms, symbols, neighbours, parent = t.atoms, t.symbols, t.neighbours, t.parent
    code, height, up, away, order = t.code, t.height, t.up, t.away, t.order
    condensed: list[str] = []
    smiles: list[str] = []
    bond = ""
    fold = False  # the last atom was folded into a multiplier: no condensed text
    while True:
        order.append(v)
        atom = atoms[v]
        if not fold:
            condensed.append(bond + atom)
        smiles.append(f"{bond}[{atom}]")
        nbs = neighbours[v]
        if len(nbs) == 2 or (came < 0 and len(nbs) == 1):  # no branch here: walk on
            nb, k = nbs[0] if nbs[0][0] != came else nbs[1]
            bond = symbols[k]
            came, v = v, nb
            continue
        children = [
            (nb, k, code[nb], height[nb]) if parent[nb] == v else (nb, k, away(v), up[v])
            for nb, k in nbs
            if nb != came
        ]
        if not children:
            return "".join(condensed), "".join(smiles)
        children.sort(key=lambda c: (-c[3], c[2]))
        texts = []
        for nb, k, _, _ in sorted(children[1:], key=lambda c: c[2]):
            c_text, s_text = _chain(t, nb, v)
            texts.append(symbols[k] + c_text)
            smiles.append(f"({symbols[k]}{s_text})")
        nb, k = children[0][:2]
        bond = symbols[k]
        if not fold:
            if len(neighbours[nb]) == 1:
                last = bond + atoms[nb]
                if last in texts:  # CH(CH3)CH3 -> CH(CH3)2, C(CH3)2CH3 -> C(CH3)3
                    texts.append(last)
                    fold = True
            condensed.extend(_group(texts))
        came, v = v, nb


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
