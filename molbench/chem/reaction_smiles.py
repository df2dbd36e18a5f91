"""One side of a reaction SMILES: parsed once, split into molecules, canonicalised.

A side RDKit cannot sanitise is kept: it is parsed without sanitisation and given every
sanitisation step except the valence check, so it still gets canonical SMILES, rings,
aromaticity and hybridisation, and the failure is recorded in a short message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")

_ALL_BUT_VALENCE = Chem.SanitizeFlags.SANITIZE_ALL ^ Chem.SanitizeFlags.SANITIZE_PROPERTIES
_NONE = Chem.SanitizeFlags.SANITIZE_NONE
# One match per atom, in SMILES order; group 1 is the atom-map number of a bracket atom.
_ATOM = re.compile(r"\[[^\]:]*(?::(\d+))?\]|Br|Cl|[BCNOPSFIbcnops*]")
_MAP = re.compile(r":\d+\]")


class UnreadableSmilesError(ValueError):
    """SMILES that RDKit cannot parse even without sanitisation."""


@dataclass(frozen=True)
class Side:
    """A parsed side: its molecule without atom maps, the maps, and each molecule's SMILES."""

    mol: Chem.Mol  # without atom maps; atoms in the order of the SMILES string
    maps: tuple[int, ...]  # atom-map number per atom as written (0 = unmapped)
    fragments: tuple[tuple[int, ...], ...]  # atom indices per molecule, by first atom
    smiles: tuple[str, ...]  # canonical SMILES without atom maps, aligned with fragments
    error: str  # '' when every molecule sanitises
    chiral: bool  # the SMILES has tetrahedral marks; without them every chiral tag is 0
    # Each molecule's text as written (maps stripped) when the side sanitises and its
    # '.'-pieces are its molecules in atom order; a key for work shared across reactions.
    pieces: tuple[str, ...] | None = None


def read_side(smiles: str, label: str) -> Side:
    """Parse one side once; canonical SMILES per molecule come from a single writer call.

    Atom maps are read from the string and stripped before parsing (``[CH3:5]`` and
    ``[CH3]`` give the same atom), which is faster than clearing them atom by atom.
    """
    if not smiles:
        raise UnreadableSmilesError(f"{label}: empty")
    maps = tuple(int(number) if number else 0 for number in _ATOM.findall(smiles))
    bare = _MAP.sub("]", smiles) if any(maps) else smiles
    mol = Chem.MolFromSmiles(bare)
    problems: dict[int, str] = {}
    if mol is None:
        mol = Chem.MolFromSmiles(bare, sanitize=False)
        if mol is None:
            raise UnreadableSmilesError(f"{label}: RDKit cannot parse the SMILES")
        problems = _partial_sanitize(mol)
    if len(maps) != mol.GetNumAtoms():  # a token the pattern does not know: ask RDKit
        written = Chem.MolFromSmiles(smiles, sanitize=False)
        maps = tuple(a.GetAtomMapNum() for a in written.GetAtoms())
    fragments = Chem.GetMolFrags(mol, asMols=False, sanitizeFrags=False)
    written = None if problems else _written_pieces(bare, fragments)
    if written is not None and all(piece in _CANONICAL for piece in written):
        pieces = tuple(_CANONICAL[piece] for piece in written)
    else:
        pieces = tuple(fragment_smiles(mol, fragments))
        if written is not None:
            forget_if_full(_CANONICAL)
            _CANONICAL.update(zip(written, pieces, strict=True))
    error = "; ".join(
        f"{label} molecule {k + 1} {pieces[k]}: {message}" for k, message in problems.items()
    )
    return Side(mol, maps, fragments, pieces, error, "@" in smiles, written)


# Per process: canonical SMILES of each molecule as written (solvents, reagents and common
# reactants recur across thousands of reactions). A molecule's canonical SMILES does not
# depend on the other molecules of its side (see fragment_smiles), so the cache is exact.
_CANONICAL: dict[str, str] = {}
MOLECULE_CACHE_LIMIT = 200_000  # entries per per-molecule cache: bounded memory per worker


def forget_if_full(cache: dict) -> None:
    """Empty a per-process per-molecule cache that reached its bound (results never change)."""
    if len(cache) > MOLECULE_CACHE_LIMIT:
        cache.clear()


def _written_pieces(bare: str, fragments: tuple[tuple[int, ...], ...]) -> tuple[str, ...] | None:
    """The '.'-pieces of ``bare`` if they are exactly the molecules, in atom order."""
    written = bare.split(".")
    if len(written) != len(fragments):
        return None  # a ring bond across a '.' (``C1.C1``): pieces are not molecules
    start = 0
    for fragment in fragments:
        if fragment[0] != start or fragment[-1] != start + len(fragment) - 1:
            return None
        start += len(fragment)
    return tuple(written)


def atoms_of(mol: Chem.Mol) -> tuple[Chem.Atom, ...]:
    """All atoms of ``mol`` by index (faster than iterating ``GetAtoms()``)."""
    return tuple(map(mol.GetAtomWithIdx, range(mol.GetNumAtoms())))


def fragment_smiles(mol: Chem.Mol, fragments: tuple[tuple[int, ...], ...]) -> list[str]:
    """Canonical SMILES of each molecule of ``mol``, aligned with ``fragments``.

    The whole-mixture canonical SMILES splits into the per-molecule ones (the ranking never
    crosses molecules), so one writer call serves all; its atom output order says which
    piece is which molecule.
    """
    if len(fragments) < 2:
        return [Chem.MolToSmiles(mol)] if fragments else []
    pieces = Chem.MolToSmiles(mol).split(".")
    order = mol.GetProp("_smilesAtomOutputOrder").strip("[]").split(",")
    owner = {}
    for k, fragment in enumerate(fragments):
        for i in fragment:
            owner[i] = k
    out = [""] * len(fragments)
    position = 0
    for piece in pieces:
        k = owner[int(order[position])]
        out[k] = piece
        position += len(fragments[k])
    return out


def _partial_sanitize(mol: Chem.Mol) -> dict[int, str]:
    """Sanitise as far as RDKit allows; return the first problem of each failing molecule."""
    problems = Chem.DetectChemistryProblems(mol)
    mol.UpdatePropertyCache(strict=False)
    flags = _ALL_BUT_VALENCE
    while flags != _NONE:
        failed = Chem.SanitizeMol(mol, flags, catchErrors=True)
        if failed == _NONE:
            break
        flags ^= failed
    if not flags & Chem.SanitizeFlags.SANITIZE_SYMMRINGS:
        Chem.FastFindRings(mol)
    fragments = Chem.GetMolFrags(mol, asMols=False, sanitizeFrags=False)
    owner = {i: k for k, fragment in enumerate(fragments) for i in fragment}
    found: dict[int, str] = {}
    for problem in problems:
        first = (
            problem.GetAtomIndices()[0]
            if problem.GetType() == "KekulizeException"
            else problem.GetAtomIdx()
        )
        found.setdefault(owner[first], problem.Message())
    return found or {0: "does not sanitise"}


def sanitize_error(mol: Chem.Mol) -> str:
    """The first chemistry problem RDKit finds in ``mol``, as one line."""
    problems = Chem.DetectChemistryProblems(mol)
    return problems[0].Message() if problems else "does not sanitise"
