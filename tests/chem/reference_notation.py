"""The notation layout as first written: a search by recursion, slow but plain.

Kept as the definition that :func:`molbench.chem.notation.write` (and the canonical key)
must reproduce byte for byte: datasets already published depend on these strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from molbench.chem.hydrocarbon import Hydrocarbon, rooted_code

_BOND_SYMBOL = {1: "", 2: "=", 3: "#"}


@dataclass
class _Node:
    atom: int
    bond: int
    branches: list[_Node] = field(default_factory=list)
    next: _Node | None = None


def _hydrogens(h: int) -> str:
    return "" if h == 0 else "H" if h == 1 else f"H{h}"


def _height(mol: Hydrocarbon, v: int, parent: int) -> int:
    return 1 + max((_height(mol, nb, v) for nb, _ in mol.adjacency[v] if nb != parent), default=0)


def canonical_key(mol: Hydrocarbon) -> str:
    """Centres by brute force (least eccentricity), then AHU codes from them."""
    ecc = [_height(mol, v, -1) for v in range(mol.n_carbons)]
    centres = [v for v in range(mol.n_carbons) if ecc[v] == min(ecc)]
    if len(centres) == 1:
        return rooted_code(mol, centres[0], -1, {})
    a, b = centres
    codes = sorted((rooted_code(mol, a, b, {}), rooted_code(mol, b, a, {})))
    return f"{codes[0]}{dict(mol.adjacency[a])[b]}{codes[1]}"


def write(mol: Hydrocarbon) -> tuple[str, str, Hydrocarbon]:
    """Condensed formula, bracket SMILES and the renumbered molecule."""
    codes: dict[tuple[int, int], str] = {}

    def walk(v: int, parent: int, bond: int) -> _Node:
        node = _Node(v, bond)
        children = sorted(
            (nb for nb, _ in mol.adjacency[v] if nb != parent),
            key=lambda nb: (-_height(mol, nb, v), rooted_code(mol, nb, v, codes)),
        )
        orders = dict(mol.adjacency[v])
        if children:
            node.next = walk(children[0], v, orders[children[0]])
            rest = sorted(children[1:], key=lambda nb: rooted_code(mol, nb, v, codes))
            node.branches = [walk(nb, v, orders[nb]) for nb in rest]
        return node

    ecc = [_height(mol, v, -1) for v in range(mol.n_carbons)]
    starts = [
        v
        for v in range(mol.n_carbons)
        if ecc[v] == max(ecc) and (len(mol.adjacency[v]) == 1 or mol.n_carbons == 1)
    ]
    root = walk(min(starts, key=lambda s: rooted_code(mol, s, -1, codes)), -1, 0)
    order = _order(root)
    new = {old: i for i, old in enumerate(order)}
    bonds = tuple(sorted((min(new[i], new[j]), max(new[i], new[j]), o) for i, j, o in mol.bonds))
    renumbered = Hydrocarbon(tuple(mol.h_counts[old] for old in order), bonds)
    return _render(root, mol.h_counts, False), _render(root, mol.h_counts, True), renumbered


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
            if last in branches:
                branches.append(last)
                cursor = None
        i = 0
        while i < len(branches):
            j = i
            while j < len(branches) and branches[j] == branches[i]:
                j += 1
            parts.append(f"({branches[i]})" + (str(j - i) if j - i > 1 else ""))
            i = j
    return "".join(parts)


def _order(node: _Node) -> list[int]:
    out = []
    cursor: _Node | None = node
    while cursor is not None:
        out.append(cursor.atom)
        for b in cursor.branches:
            out.extend(_order(b))
        cursor = cursor.next
    return out
