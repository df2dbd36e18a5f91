"""WLDN / rexgen ``.cbond`` files (Jin et al. 2017): ranked bond-edit sets per test line.

Line ``i`` belongs to source line ``i`` of the split (the build's ``source_line``). A line
holds up to five candidates, best first, each ended by ``|``; a candidate is a
space-separated list of edits ``a-b-t`` between atom-map numbers ``a``, ``b`` of that
line's mapped reactants, ``t`` the new bond (0 none, 1 single, 2 double, 3 triple,
4 aromatic). Each candidate is replayed on the mapped reactants with molbench's edit
replay (:func:`molbench.chem.reaction_edits.edited_mixture`). ``keep`` says what the
prediction names: ``mixture`` (every molecule after the edits, the authors' candidate,
for ``--rule subset``; an unedited precursor RDKit cannot sanitise is left out) or a product rule of
:data:`~molbench.chem.reaction_edits.PRODUCT_RULES` (for ``--rule exact``). An empty
candidate or one naming a map number the reactants lack is an empty (invalid)
prediction in its slot.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pyarrow as pa
from rdkit import Chem
from rdkit.rdBase import BlockLogs

from molbench.chem.reaction_edits import (
    PRODUCT_RULES,
    edited_mixture,
    mixture_smiles,
    predicted_product,
)
from molbench.chem.reaction_smiles import read_side
from molbench.errors import PredictionFormatError
from molbench.parallel import ordered_map

ORDERS = {"0": 0.0, "1": 1.0, "2": 2.0, "3": 3.0, "4": 1.5}
KEEP = ("mixture", *PRODUCT_RULES)
REPLAYS = ("molbench", "authors")
CHUNK = 256  # rows per unit of work
_BOND = {1.0: Chem.BondType.SINGLE, 1.5: Chem.BondType.AROMATIC, 2.0: Chem.BondType.DOUBLE}
_BOND[3.0] = Chem.BondType.TRIPLE
_UNCHARGED = frozenset({"Cl", "I", "P", "C"})  # the authors clear any charge on these
NEEDS = ("id", "source_line", "mapped_rxn", "atom_map", "in_reactant")


def read(
    path: Path, rows: pa.Table, keep: str = "mixture", replay: str = "molbench", workers: int = 1
) -> pa.Table:
    """Ranked product SMILES per row from the edit sets of its line.

    ``replay="authors"`` (with ``keep="mixture"`` only) rebuilds each candidate as the
    authors' evaluation does instead of molbench's valence repair: hydrogens left to
    RDKit's default valences, formal charges cleared on N (bond orders up to 3), O (bond
    orders 2) and C, P, Cl, I, molecules RDKit then rejects dropped, the first candidate
    tried on the Kekulé reactants too (see :func:`_authors_products`), empty candidates
    at the line's ends dropped as their scorer's ``strip`` drops them. ``workers``:
    processes replaying edits (the output does not depend on it).
    """
    if keep not in KEEP:
        raise PredictionFormatError(f"cbond: keep must be one of {', '.join(KEEP)}, not {keep!r}")
    if replay not in REPLAYS or (replay == "authors" and keep != "mixture"):
        raise PredictionFormatError(
            f"cbond: replay must be one of {', '.join(REPLAYS)} (authors: keep mixture only)"
        )
    missing = [c for c in NEEDS if c not in rows.column_names]
    if missing:
        raise PredictionFormatError(f"cbond needs the split's {', '.join(missing)} column(s)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise PredictionFormatError(f"{path}: not UTF-8 text ({e.reason})") from None
    source_lines = rows["source_line"].to_pylist()
    if source_lines and max(source_lines) > len(lines):
        raise PredictionFormatError(
            f"{path}: {len(lines):,} lines, but the split's rows come from source lines up to "
            f"{max(source_lines):,}: not this split's file"
        )
    items = [
        (row, lines[number - 1], number, path, keep, replay)
        for row, number in zip(rows.select(NEEDS[2:]).to_pylist(), source_lines, strict=True)
    ]
    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    with ordered_map(workers) as imap:  # results in row order, whatever the workers
        ranked = [guesses for done in imap(_chunk_predictions, chunks) for guesses in done]
    return pa.table({"id": rows["id"], "predictions": pa.array(ranked, pa.list_(pa.string()))})


def _chunk_predictions(items: list[tuple]) -> list[list[str]]:
    """The ranked guesses of some rows (one unit of work for a worker process)."""
    out = []
    for row, line, number, path, keep, replay in items:
        if replay == "authors":  # their scorer strips the line's ends, empty candidates too
            kept = line.strip("\r\n |")
            candidates = _candidates(kept + "|", path, number) if kept else []
            out.append(_authors_products(row["mapped_rxn"], candidates))
        else:
            out.append(_products(row, _candidates(line, path, number), keep))
    return out


def _candidates(line: str, path: Path, number: int) -> list[list[tuple[int, int, float]]]:
    """The edit sets of one line, best first (map numbers)."""
    *sets, rest = line.split("|")
    if rest.strip():
        raise PredictionFormatError(f"{path} line {number}: a candidate is not ended by '|'")
    out = []
    for text in sets:
        edits = []
        for token in text.split():
            a, _, tail = token.partition("-")
            b, _, t = tail.partition("-")
            if not (a.isdigit() and b.isdigit() and t in ORDERS):
                raise PredictionFormatError(
                    f"{path} line {number}: edit {token!r} is not atom-atom-bond (bond 0-4)"
                )
            edits.append((int(a), int(b), ORDERS[t]))
        out.append(edits)
    return out


def _products(row: dict, candidates: list[list[tuple[int, int, float]]], keep: str) -> list[str]:
    side = read_side(row["mapped_rxn"].partition(">>")[0], "precursors")
    index = {m: i for i, m in enumerate(side.maps) if m}
    reactant_maps = {m for m, r in zip(row["atom_map"], row["in_reactant"], strict=True) if r}
    reactant_atoms = {index[m] for m in reactant_maps if m in index}
    unedited = {frozenset(f): p for f, p in zip(side.fragments, side.smiles, strict=True)}
    out = []
    for edits in candidates:
        if not edits or any(a not in index or b not in index for a, b, _ in edits):
            out.append("")
            continue
        try:
            edits_by_atom = [(index[a], index[b], t) for a, b, t in edits]
            molecules = edited_mixture(side.mol, edits_by_atom, unedited)
        except (RuntimeError, ValueError):  # RDKit rejects the edited graph
            out.append("")
            continue
        if keep == "mixture":  # an unedited precursor RDKit cannot sanitise is left out
            out.append(mixture_smiles(molecules))
        else:
            out.append(predicted_product(molecules, reactant_atoms, keep))
    return out


def _authors_products(mapped_rxn: str, candidates: list[list[tuple[int, int, float]]]) -> list:
    """The edited mixtures as the authors' evaluation builds them (see :func:`read`).

    Their scorer replays the first candidate on the aromatic reactants and, when that
    mixture does not hold the recorded products, again on the Kekulé ones, counting it
    right if either does; every later candidate is replayed on the Kekulé reactants only
    (it kekulises them in place after the first miss). One slot names one mixture, so the
    first slot here is the Kekulé mixture exactly when that second try is the one that
    holds the recorded products (or when the aromatic one loses a molecule): the only
    place this replay looks at the product side, as their scorer does.
    """
    reactants, _, products = mapped_rxn.partition(">>")
    with BlockLogs():
        mol = Chem.MolFromSmiles(reactants)
        if mol is None:
            return [""] * len(candidates)
        index = {a.GetAtomMapNum(): a.GetIdx() for a in mol.GetAtoms() if a.GetAtomMapNum()}
        aromatic = _bare_copy(mol)
        kekule = Chem.RWMol(mol)
        kekule = _bare_copy(kekule) if _kekulize(kekule) else None
        out = []
        for k, edits in enumerate(candidates):
            if any(a not in index or b not in index for a, b, _ in edits):
                out.append("")  # an empty candidate is replayed: the reactants unchanged
                continue
            first = aromatic if k == 0 or kekule is None else kekule
            smiles, complete = _authors_mixture(first, index, edits)
            if k == 0 and kekule is not None:
                recorded = _recorded_products(products)
                if not recorded <= set(smiles.split(".")):
                    second, _ = _authors_mixture(kekule, index, edits)
                    if not complete or recorded <= set(second.split(".")):
                        smiles = second
            out.append(smiles)
    return out


def _recorded_products(mapped_products: str) -> frozenset[str]:
    """The recorded product molecules as the authors' scorer writes them (maps cleared)."""
    mol = Chem.MolFromSmiles(mapped_products)
    if mol is None:
        return frozenset({""})  # never a subset of a mixture of written molecules
    for atom in mol.GetAtoms():
        atom.SetAtomMapNum(0)
    return frozenset(Chem.MolToSmiles(mol).split("."))


def _kekulize(mol: Chem.RWMol) -> bool:
    try:
        Chem.Kekulize(mol)
    except Chem.KekulizeException:
        return False
    return True


def _bare_copy(mol: Chem.Mol) -> Chem.RWMol:
    """Elements, charges and bonds only: no hydrogen counts, stereo or aromatic flags."""
    rw = Chem.RWMol()
    for atom in mol.GetAtoms():
        bare = Chem.Atom(atom.GetAtomicNum())
        bare.SetFormalCharge(atom.GetFormalCharge())
        rw.AddAtom(bare)
    for bond in mol.GetBonds():
        rw.AddBond(bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), bond.GetBondType())
    return rw


@lru_cache(maxsize=1 << 16)
def _reread(piece: str) -> str:
    """One written molecule parsed back and written canonically ('' if RDKit rejects it)."""
    mol = Chem.MolFromSmiles(piece)
    return "" if mol is None else Chem.MolToSmiles(mol)


def _authors_mixture(
    bare: Chem.RWMol, index: dict[int, int], edits: list[tuple[int, int, float]]
) -> tuple[str, bool]:
    """One candidate: (the mixture's molecules, whether RDKit accepted them all).

    Every copy of a molecule is kept: their scorer compares sets, molbench's subset rule
    multisets, so two HCl in the recorded products need two in the mixture.
    """
    rw = Chem.RWMol(bare)
    for a, b, order in edits:
        i, j = index[a], index[b]
        if rw.GetBondBetweenAtoms(i, j) is not None:
            rw.RemoveBond(i, j)
        if order > 0:
            rw.AddBond(i, j, _BOND[order])
    for atom in rw.GetAtoms():
        if atom.GetFormalCharge() == 0:
            continue
        valence = sum(b.GetBondTypeAsDouble() for b in atom.GetBonds())
        symbol = atom.GetSymbol()
        if (
            (symbol == "N" and valence <= 3)
            or (symbol == "O" and valence == 2)
            or symbol in _UNCHARGED
        ):
            atom.SetFormalCharge(0)
    pieces = [_reread(p) for p in Chem.MolToSmiles(rw.GetMol()).split(".")]
    return ".".join(sorted(p for p in pieces if p)), all(pieces)
