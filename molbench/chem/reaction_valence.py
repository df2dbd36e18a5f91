"""Re-deriving the hydrogens and formal charges of atoms whose bonds a reaction changed.

Bond edits say nothing about protons or charges, so each edited atom gets every
valence-consistent (charge, hydrogen count) state, ranked by a small cost model, and an
edited molecule RDKit cannot kekulise gets the hydrogen or charge shifts between aromatic
nitrogens that bond changes on rings force (rexgen_direct fixes the same cases with
post-sanitisation rules).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from functools import cache, lru_cache

from rdkit import Chem

MAX_FIXES = 40  # aromatic-nitrogen fixes tried per state combination that cannot be kekulised
_CHARGES = (0, 1, -1)
_PERIODIC_TABLE = Chem.GetPeriodicTable()
_SANITIZED = Chem.SanitizeFlags.SANITIZE_NONE

State = tuple[float, int, int]  # (cost, formal charge, total hydrogens)


def atom_states(atom: Chem.Atom, expected: float, plain: float, n_aromatic: int) -> list[State]:
    """Valence-consistent (charge, hydrogens) states of an edited atom, cheapest first.

    ``expected`` is the hydrogen count the edit implies, ``plain`` the sum of the atom's
    non-aromatic bond orders after the edits and ``n_aromatic`` its aromatic bonds then: a
    Kekulé structure gives those bonds ``n_aromatic`` or ``n_aromatic + 1`` valence units.
    """
    return list(
        _states(
            atom.GetAtomicNum(),
            atom.GetFormalCharge(),
            atom.GetTotalNumHs(),
            expected,
            plain + n_aromatic,
            1 if n_aromatic else 0,
        )
    )


@cache
def _valences(atomic_num: int) -> tuple[int, ...]:
    return tuple(_PERIODIC_TABLE.GetValenceList(atomic_num)) if atomic_num > 0 else ()


@lru_cache(maxsize=4096)
def _states(
    atomic_num: int, charge: int, hydrogens: int, expected: float, base: float, spread: int
) -> tuple[State, ...]:
    """The cost model: 3 per unit of charge, 1 per unit of charge change, 1 per hydrogen
    away from the expected count. Charged states follow RDKit's isoelectronic rule (N+ like
    C, O- like F). An element with several valences (S, P, I) may instead keep its
    hydrogens (sulfone -> sulfide leaves S bare). Metals, which RDKit lets take any
    valence, keep their hydrogens and may change charge.
    """
    if -1 in _valences(atomic_num):
        return tuple(
            sorted((float(abs(q - charge)), q, hydrogens) for q in range(charge - 2, charge + 3))
        )
    several = len(_valences(atomic_num)) > 1
    found: set[tuple[float, int, int, int]] = set()
    for q in dict.fromkeys((charge, *_CHARGES)):
        for v in _valences(atomic_num - q):
            if v < 0:
                continue
            for h in range(int(v - base - spread), int(v - base) + 1):
                if not 0 <= h <= 4 or not base + h <= v <= base + h + spread:
                    continue
                away = abs(h - expected)
                if several:
                    away = min(away, abs(h - hydrogens))
                found.add((3 * abs(q) + abs(q - charge) + away, abs(q), h, q))
    return tuple((cost, q, h) for cost, _, h, q in sorted(found))


def set_state(atom: Chem.Atom, state: State) -> None:
    """Give ``atom`` the state's charge and exactly its hydrogens (no implicit ones)."""
    _, charge, hydrogens = state
    atom.SetFormalCharge(charge)
    atom.SetNumExplicitHs(hydrogens)
    atom.SetNoImplicit(True)
    atom.SetNumRadicalElectrons(0)


def sanitized_forms(mol: Chem.RWMol) -> Iterator[tuple[str, str]]:
    """Canonical SMILES of ``mol`` or, if it cannot be kekulised, of its nitrogen fixes.

    Moving a bond onto or off an aromatic ring often moves a hydrogen or charge between its
    nitrogens (2-chloropyridine -> 2-pyridone, azole N-alkylation); the edits do not say
    so, so one or two such changes in the ring system RDKit could not kekulise are tried.
    Yields ("", reason) last when nothing sanitises.
    """
    trial = Chem.RWMol(mol)
    if Chem.SanitizeMol(trial, catchErrors=True) == _SANITIZED:
        yield Chem.MolToSmiles(trial), ""
        return
    problems = Chem.DetectChemistryProblems(mol)
    stuck = {i for p in problems if p.GetType() == "KekulizeException" for i in p.GetAtomIndices()}
    fixes = [(i, fix) for i in _aromatic_system(mol, stuck) for fix in _nitrogen_fixes(mol, i)]
    pairs = [[f, g] for f, g in itertools.combinations(fixes, 2) if f[0] != g[0]]
    for change in ([[f] for f in fixes] + pairs)[:MAX_FIXES]:
        trial = Chem.RWMol(mol)
        for i, (charge, hydrogens) in change:
            set_state(trial.GetAtomWithIdx(i), (0.0, charge, hydrogens))
        if Chem.SanitizeMol(trial, catchErrors=True) == _SANITIZED:
            yield Chem.MolToSmiles(trial), ""
    yield "", problems[0].Message() if problems else "edited product does not sanitise"


def _aromatic_system(mol: Chem.Mol, seeds: set[int]) -> list[int]:
    """The atoms joined to ``seeds`` by aromatic bonds (RDKit names only some of them)."""
    seen = set(seeds)
    queue = list(seeds)
    while queue:
        atom = mol.GetAtomWithIdx(queue.pop())
        for bond in atom.GetBonds():
            other = bond.GetOtherAtomIdx(atom.GetIdx())
            if bond.GetIsAromatic() and other not in seen:
                seen.add(other)
                queue.append(other)
    return sorted(seen)


def _nitrogen_fixes(mol: Chem.Mol, i: int) -> list[tuple[int, int]]:
    """Other (charge, hydrogens) of an aromatic nitrogen: [nH] <-> n, n(R) <-> [n+](R)."""
    atom = mol.GetAtomWithIdx(i)
    if atom.GetAtomicNum() != 7 or not atom.GetIsAromatic():
        return []
    charge, hydrogens, degree = atom.GetFormalCharge(), atom.GetNumExplicitHs(), atom.GetDegree()
    if charge == 0:
        if hydrogens:
            return [(0, 0)]
        return [(0, 1)] if degree == 2 else [(1, 0)]
    if charge == 1 and hydrogens == 0 and degree == 3:
        return [(0, 0)]
    return []
