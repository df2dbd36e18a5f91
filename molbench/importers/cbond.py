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

from pathlib import Path

import pyarrow as pa

from molbench.chem.reaction_edits import PRODUCT_RULES, edited_mixture, predicted_product
from molbench.chem.reaction_smiles import read_side
from molbench.errors import PredictionFormatError

ORDERS = {"0": 0.0, "1": 1.0, "2": 2.0, "3": 3.0, "4": 1.5}
KEEP = ("mixture", *PRODUCT_RULES)
NEEDS = ("id", "source_line", "mapped_rxn", "atom_map", "in_reactant")


def read(path: Path, rows: pa.Table, keep: str = "mixture") -> pa.Table:
    """Ranked product SMILES per row from the edit sets of its line."""
    if keep not in KEEP:
        raise PredictionFormatError(f"cbond: keep must be one of {', '.join(KEEP)}, not {keep!r}")
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
    ranked = []
    for row, number in zip(rows.select(NEEDS[2:]).to_pylist(), source_lines, strict=True):
        candidates = _candidates(lines[number - 1], path, number)
        ranked.append(_products(row, candidates, keep))
    return pa.table({"id": rows["id"], "predictions": pa.array(ranked, pa.list_(pa.string()))})


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
        if keep == "mixture":  # an edited molecule that does not sanitise spoils the guess
            bad = any(m.touched and not m.smiles for m in molecules)
            smiles = sorted(m.smiles for m in molecules if m.smiles)
            out.append("" if bad else ".".join(smiles))
        else:
            out.append(predicted_product(molecules, reactant_atoms, keep))
    return out
