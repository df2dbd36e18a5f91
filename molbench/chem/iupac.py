"""Systematic IUPAC names (2013 recommendations) for acyclic hydrocarbons.

A name is a second notation a model can be asked to read or write, so it must be the one
preferred name, not just any name that denotes the structure. The rules followed, in order:

1. Principal chain (P-44.3, P-44.4, P-45). Since 2013 the LONGEST chain wins first, then the
   chain with more multiple bonds, then more double bonds (P-44.4.1.1-2); then lower locants
   for multiple bonds all together, then for double bonds (P-31.1.4.2.4); then more
   substituent prefixes (P-45.2.1), lower locants for all prefixes (P-45.2.2), lower locants
   for the prefix cited first in alphanumerical order (P-45.2.3, P-31.1.4.3.4), and finally
   the name that comes first in alphanumerical order (P-45.5). So ``CH2=C(C2H5)C4H9`` is
   3-methylideneheptane (the 1993 rules gave 2-ethylhex-1-ene). All longest chains of a
   tree pass through its centre, so the candidates are the longest paths through it; each is
   tried in both directions, and chain choice and numbering are one minimisation.
2. Substituent prefixes (P-29, P-44.1): the chain of a substituent must contain the free
   valence; it is the longest such chain, then the criteria above, with the lowest locant
   for the free valence (P-31.1.4.2.4 (d)) before those for multiple bonds. Preferred
   prefixes follow: "alkyl" when a saturated chain carries the free valence at C1 (propyl,
   2-methylpropyl, ethylidene), otherwise locants (propan-2-yl, butan-2-yl, prop-1-en-2-yl,
   prop-2-en-1-yl, ethenyl); tert-butyl is the one retained preferred prefix (P-29.6), not
   isopropyl, sec-butyl, isobutyl, vinyl or allyl. Prefixes with locants are enclosed,
   nested as ( [ { (P-16.5.4). Repeats take di/tri for unsubstituted prefixes, enclosed or
   not (di(propan-2-yl), di-tert-butyl, as the Blue Book's 1,4-di(propan-2-yl)cyclohexane),
   and bis/tris/tetrakis for substituted ones (bis(2-methylpropyl)) (P-16.9.2).
3. Order and spelling: prefixes in alphanumerical order of their complete names, ignoring
   multiplying prefixes of simple prefixes and italic "tert" (P-14.5); all locants cited
   except in one- and two-carbon parents (ethene, ethenyl), so prop-1-ene and
   2-methylpropane (P-14.3.4); "a" added to the stem before a consonant (buta-1,3-diene);
   final "e" elided before a vowel or "y" (pent-1-en-4-yne, propan-2-yl) (P-16.7.1); 2013
   numerals (icosane, henicosane, docosane).

E/Z and other stereodescriptors are out of scope: the generator emits no stereo. Triple bonds
(``yne``, ``ylidyne``) are named, although the dataset has none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations, pairwise

from molbench.chem.hydrocarbon import Hydrocarbon

_UNITS = ("", "hen", "do", "tri", "tetra", "penta", "hexa", "hepta", "octa", "nona")
_TENS = ("", "deca", "cosa", "triaconta", "tetraconta", "pentaconta")
_TENS += ("hexaconta", "heptaconta", "octaconta", "nonaconta")
_SMALL_ROOTS = {1: "meth", 2: "eth", 3: "prop", 4: "but"}
_FREE_VALENCE = {1: "yl", 2: "ylidene", 3: "ylidyne"}
_ENDING = {2: "ene", 3: "yne"}
_VOWELS = frozenset("aeiouy")
_BRACKETS = ("()", "[]", "{}")
_RETAINED = {"2-methylpropan-2-yl": "tert-butyl"}  # P-29.6: the one retained preferred prefix


def numeral(n: int) -> str:
    """The IUPAC numerical term for ``n`` (P-14.2.1): di, tri, ..., undeca, icosa, henicosa."""
    if not 1 <= n <= 99:
        raise ValueError(f"numerical terms are implemented for 1..99, not {n}")
    special = {1: "mono", 2: "di", 11: "undeca", 20: "icosa", 21: "henicosa"}
    if n in special:
        return special[n]
    return _UNITS[n % 10] + _TENS[n // 10]


def chain_root(n: int) -> str:
    """Stem of the unbranched chain of ``n`` carbons: meth, eth, prop, but, pent, ..., icos."""
    return _SMALL_ROOTS.get(n) or numeral(n)[:-1]


def _multiplier(count: int, substituted: bool = False) -> str:
    """'' for one; di/tri/tetra for simple prefixes, bis/tris/tetrakis for substituted ones."""
    if count == 1:
        return ""
    if substituted:
        return {2: "bis", 3: "tris"}.get(count) or numeral(count) + "kis"
    return numeral(count)


@dataclass(frozen=True)
class _Prefix:
    """A substituent prefix as written inside a name, e.g. ``methyl`` or ``2-methylpropyl``."""

    text: str
    substituted: bool  # carries prefixes of its own: multiplied with bis/tris (P-16.9.2)

    @cached_property
    def order_key(self) -> tuple[str, tuple[int, ...], str]:
        """Alphanumerical order (P-14.5): roman letters, then locants, then italic prefixes."""
        roman = self.text.replace("tert-", "")
        letters = "".join(ch for ch in roman if ch.isalpha())
        locants = tuple(int(x) for x in re.findall(r"\d+", self.text))
        return letters, locants, self.text

    def enclosed(self) -> str:
        """Wrap in the next enclosing mark after the deepest one inside: ( then [ then {."""
        depth = level = 0
        for ch in self.text:
            if ch in "([{":
                level += 1
                depth = max(depth, level)
            elif ch in ")]}":
                level -= 1
        opening, closing = _BRACKETS[depth % 3]
        return f"{opening}{self.text}{closing}"

    def multiplied(self, count: int) -> str:
        """``dimethyl``, ``di-tert-butyl``, ``di(propan-2-yl)``, ``bis(2-methylpropyl)``.

        Prefixes with locants are enclosed (P-16.5.1); substituted ones, and ``decyl`` where
        ``tridecyl`` would read as one C13 group, take bis/tris/tetrakis (P-16.9.2).
        """
        has_locants = any(ch.isdigit() for ch in self.text)
        ambiguous = count > 2 and not has_locants and self.text.startswith("dec")
        if self.substituted or ambiguous:
            return _multiplier(count, substituted=True) + self.enclosed()
        mult = _multiplier(count)
        if has_locants:
            return mult + self.enclosed()
        return f"{mult}-{self.text}" if mult and self.text.startswith("tert-") else mult + self.text


def _hydride(
    length: int, bonds: list[tuple[int, int]], free_valence: tuple[int, int] | None
) -> str:
    """Parent hydride or substituent group name of a chain with ``(locant, order)`` bonds.

    ``free_valence`` is ``(locant, order of the bond to the parent)`` for substituent groups.
    """
    root = chain_root(length)
    cite = length > 2  # ethene, ethenyl, ethylidene: no other position is possible
    words: list[tuple[list[int], str]] = []
    for order in (2, 3):
        locants = [loc for loc, o in bonds if o == order]
        if locants:
            words.append((locants, _multiplier(len(locants)) + _ENDING[order]))
    if free_valence is not None:
        locant, order = free_valence
        if not words and locant == 1:  # the "alkyl" method: propyl, 2-methylpropyl
            return root + _FREE_VALENCE[order]
        if not words:
            words.append(([], "ane"))
        words.append(([locant], _FREE_VALENCE[order]))
    elif not words:
        return root + "ane"
    if words[0][1][0] not in _VOWELS:
        root += "a"  # buta-1,3-diene
    parts = [root]
    for i, (locants, word) in enumerate(words):
        if i + 1 < len(words) and words[i + 1][1][0] in _VOWELS:
            word = word[:-1]  # pent-1-en-4-yne, propan-2-yl
        if cite and locants:
            parts.append(f"-{','.join(map(str, locants))}-")
        parts.append(word)
    return "".join(parts)


def _prefix_block(substituents: list[tuple[int, _Prefix]]) -> str:
    """``3-ethyl-2,2-dimethyl``: grouped, multiplied, in alphanumerical order."""
    groups: dict[_Prefix, list[int]] = {}
    for locant, prefix in substituents:
        groups.setdefault(prefix, []).append(locant)
    parts = []
    for prefix in sorted(groups, key=lambda p: p.order_key):
        locants = ",".join(map(str, sorted(groups[prefix])))
        parts.append(f"{locants}-{prefix.multiplied(len(groups[prefix]))}")
    return "-".join(parts)


@dataclass(frozen=True)
class _Candidate:
    """One chain numbered in one direction, with everything the selection rules compare."""

    key: tuple
    length: int
    bonds: list[tuple[int, int]]
    free_valence: tuple[int, int] | None
    substituents: list[tuple[int, _Prefix]]

    @cached_property
    def name(self) -> str:
        return _prefix_block(self.substituents) + _hydride(
            self.length, self.bonds, self.free_valence
        )


def _best(candidates: list[_Candidate]) -> _Candidate:
    """The smallest key; names, the costly part, only break the remaining ties."""
    best = min(c.key for c in candidates)
    return min((c for c in candidates if c.key == best), key=lambda c: c.name)


class _Namer:
    """Names one molecule; memoises per directed bond so each branch is named once."""

    def __init__(self, mol: Hydrocarbon) -> None:
        self.orders = [dict(a) for a in mol.adjacency]
        self._deep: dict[tuple[int, int], tuple[int, list[tuple[int, ...]]]] = {}
        self._prefixes: dict[tuple[int, int], _Prefix] = {}

    def deepest(self, atom: int, parent: int) -> tuple[int, list[tuple[int, ...]]]:
        """Atom count of the longest paths from ``atom`` away from ``parent``, and the paths."""
        key = (atom, parent)
        if key not in self._deep:
            depth, paths = 0, []
            for nb in self.orders[atom]:
                if nb == parent:
                    continue
                d, ps = self.deepest(nb, atom)
                if d > depth:
                    depth, paths = d, list(ps)
                elif d == depth:
                    paths.extend(ps)
            self._deep[key] = (depth + 1, [(atom, *p) for p in paths] or [(atom,)])
        return self._deep[key]

    def chains_through(self, atom: int, parent: int) -> list[tuple[int, ...]]:
        """Every longest path through ``atom`` on its side of ``parent``, in both directions."""
        branches = [self.deepest(nb, atom) for nb in self.orders[atom] if nb != parent]
        if len(branches) < 2:
            paths = [(atom, *p) for _, ps in branches for p in ps] or [(atom,)]
        else:
            best = sum(sorted((d for d, _ in branches), reverse=True)[:2])
            paths = [
                (*p[::-1], atom, *q)
                for (d1, ps), (d2, qs) in combinations(branches, 2)
                if d1 + d2 == best
                for p in ps
                for q in qs
            ]
        return paths + [p[::-1] for p in paths if len(p) > 1]

    def candidate(self, chain: tuple[int, ...], parent: int) -> _Candidate:
        """Rank ``chain`` numbered from its first atom (``parent`` >= 0: a substituent's chain)."""
        position = {atom: i + 1 for i, atom in enumerate(chain)}
        steps = pairwise(chain)
        bonds = [
            (i + 1, self.orders[a][b]) for i, (a, b) in enumerate(steps) if self.orders[a][b] > 1
        ]
        substituents = [
            (position[atom], self.prefix(nb, atom))
            for atom in chain
            for nb in self.orders[atom]
            if nb not in position and nb != parent
        ]
        free_valence = None
        if parent >= 0:  # only the substituent's own first atom is bonded to the parent
            free_valence = next(
                (position[a], self.orders[a][parent]) for a in chain if parent in self.orders[a]
            )
        cited = sorted(substituents, key=lambda s: (s[1].order_key, s[0]))
        key = (  # the selection rules in order; the smallest key wins
            -len(bonds),  # more multiple bonds (P-44.4.1.1)
            -sum(1 for _, order in bonds if order == 2),  # more double bonds (P-44.4.1.2)
            free_valence[0] if free_valence else 0,  # free valence low (P-31.1.4.2.4 d)
            [loc for loc, _ in bonds],  # multiple bonds low (P-31.1.4.2.4 e)
            [loc for loc, order in bonds if order == 2],  # then double bonds low
            -len(substituents),  # more prefixes (P-45.2.1)
            sorted(loc for loc, _ in substituents),  # prefixes low (P-45.2.2, P-31.1.4.3)
            [loc for loc, _ in cited],  # in order of citation (P-45.2.3, P-31.1.4.3.4)
            [p.order_key for _, p in cited],  # alphanumerically first (P-45.5)
        )
        return _Candidate(key, len(chain), bonds, free_valence, substituents)

    def prefix(self, atom: int, parent: int) -> _Prefix:
        """The preferred prefix of the branch at ``atom`` hanging off ``parent``."""
        key = (atom, parent)
        if key not in self._prefixes:
            best = _best([self.candidate(c, parent) for c in self.chains_through(atom, parent)])
            retained = _RETAINED.get(best.name)
            self._prefixes[key] = (
                _Prefix(retained, False)
                if retained
                else _Prefix(best.name, bool(best.substituents))
            )
        return self._prefixes[key]

    def name(self) -> str:
        """Every longest chain of a tree passes through its centre: try those, both ways."""
        end = self.deepest(0, -1)[1][0][-1]  # the far end of a longest path from any atom
        longest = self.deepest(end, -1)[1][0]  # is one end of a longest chain
        centre = longest[(len(longest) - 1) // 2]
        return _best([self.candidate(c, -1) for c in self.chains_through(centre, -1)]).name


def name(mol: Hydrocarbon) -> str:
    """The preferred IUPAC name of a valid acyclic hydrocarbon, e.g. ``2-methylbut-2-ene``.

    Raises ``ValueError`` for molecules that have no name: wrong valences, rings, several
    fragments, or bond orders other than 1, 2 and 3.
    """
    if not mol.is_tree():
        raise ValueError("only connected acyclic molecules (trees of carbons) are named")
    if any(order not in (1, 2, 3) for _, _, order in mol.bonds):
        raise ValueError("bond orders must be 1, 2 or 3")
    if not mol.is_valid():
        raise ValueError("every carbon must have exactly four bonds to be named")
    return _Namer(mol).name()
