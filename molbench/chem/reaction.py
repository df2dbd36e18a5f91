"""USPTO-MIT and USPTO-15K reactions (Jin et al. 2017): one raw line in, one record out.

Pure functions: the builder reads files, runs them in parallel and writes the table. Each
side of a reaction is parsed once; everything below comes from those two parses.

Record fields (plain str/bool/int/float/list values):

- ``reactants``, ``reagents``, ``products``, ``precursors_mixed`` (str): canonical RDKit
  SMILES without atom maps, one per molecule (a connected fragment, so the two ions of a
  salt are two molecules), sorted, joined by '.'. A precursor molecule is a reactant when
  at least one of its atom maps appears in the product, else a reagent; a counter-ion
  that the product keeps (``[Na+:2]`` next to a sulfinate) is therefore a reactant. The
  USPTO-15K product is unmapped: the edited molecule that matches it gives its maps.
- ``rdkit_sanitizes`` (bool), ``sanitize_error`` (str): every molecule on both sides
  sanitises; else which molecule fails and why. Such rows are kept, canonicalised from
  the unsanitised parse.
- ``edits`` (list of [map_a, map_b, new_order], map_a < map_b, sorted) and ``old_orders``
  (list of float, aligned): bond orders 0 (no bond), 1, 1.5 (aromatic), 2, 3. USPTO-MIT
  takes the new order from the mapped product, USPTO-15K from its edit groups.
- ``edits_reproduce_product`` (bool), ``edit_check_error`` (str): applying the edits to the
  reactants gives exactly the recorded product (see :mod:`molbench.chem.reaction_edits`).
- ``product_inchikey`` (str, '' if InChI fails), ``reaction_key`` (str):
  ``reactants + ">>" + products``.
- graph columns from :func:`molbench.chem.reaction_graph.graph_arrays`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rdkit import Chem

from molbench.chem.reaction_edits import reproduce
from molbench.chem.reaction_graph import ATOM_FEATURES, graph_arrays
from molbench.chem.reaction_smiles import Side, UnreadableSmilesError, atoms_of, read_side
from molbench.chem.scaffold import scaffold_of

__all__ = [
    "ATOM_FEATURES",
    "BOND_ORDERS",
    "RawReaction",
    "ReactionParseError",
    "parse_15k_line",
    "parse_mit_line",
    "process",
]

BOND_ORDERS = (0.0, 1.0, 1.5, 2.0, 3.0)  # 0 = no bond, 1.5 = aromatic


class ReactionParseError(ValueError):
    """A line that cannot be read at all; the builder quarantines it with this message."""


@dataclass(frozen=True)
class RawReaction:
    """One line as given: the mapped reaction SMILES and its reaction-centre bonds."""

    mapped_rxn: str  # MIT: mapped reactants>>mapped products; 15K: mapped>>UNMAPPED product
    core: tuple[tuple[int, int], ...]  # atom-map pairs whose bond changes
    new_orders: tuple[float, ...] | None  # 15K: new order per core pair; MIT: None
    # 15K: (atom map, net hydrogen change) from edit groups 1-2; MIT: None (not given)
    hydrogen_changes: tuple[tuple[int, int], ...] | None = None


def _fields(line: str, expected_edits: str) -> tuple[str, str]:
    fields = line.split()
    if len(fields) != 2:
        raise ReactionParseError(
            f"expected 2 whitespace-separated fields (reaction SMILES, {expected_edits}), "
            f"got {len(fields)}"
        )
    rxn, edits = fields
    if rxn.count(">>") != 1 or rxn.startswith(">>") or rxn.endswith(">>"):
        raise ReactionParseError("field 1 is not 'reactants>>products'")
    return rxn, edits


def _map_number(text: str, where: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise ReactionParseError(f"{where}: {text!r} is not a positive atom-map number")
    return int(text)


def parse_mit_line(line: str) -> RawReaction:
    """Read ``<mapped reactants>>mapped products> <a-b;c-d;...>`` (USPTO-MIT valid/test/train).

    The second field lists the atom-map pairs whose bond changes; the new orders are not
    given and come from the mapped product in :func:`process`.
    """
    rxn, field = _fields(line, "'a-b;c-d' edits")
    core = []
    for pair in field.split(";"):
        parts = pair.split("-")
        if len(parts) != 2:
            raise ReactionParseError(f"edit {pair!r} is not 'a-b'")
        core.append((_map_number(parts[0], f"edit {pair!r}"), _map_number(parts[1], pair)))
    return RawReaction(rxn, tuple(core), None)


def parse_15k_line(line: str) -> RawReaction:
    """Read ``<mapped reactants>>product> <g1;g2;g3;g4>`` (USPTO-15K train/valid/test).

    The four ``;``-separated groups, checked against all 15,000 lines:

    1. atom maps that lose a hydrogen, one entry per hydrogen (``10,11,6``; may repeat);
    2. atom maps that gain a hydrogen, likewise;
    3. bonds broken or changed, ``a-b-order`` with their order in the reactants;
    4. bonds formed or changed, ``a-b-order`` with their order in the product.

    A pair in group 3 only is deleted (new order 0); in group 4 it takes that order.
    Upstream's reader (nips17-rexgen ``USPTO-15K/core-wln-global/ioutils.py``) uses only
    the pairs of groups 3 and 4 as labels; groups 1 and 2 are kept as net hydrogen changes,
    which the edit check uses (some reactions only move a proton: ``3;;;``).
    """
    rxn, field = _fields(line, "'h-;h+;broken;formed' edits")
    groups = field.split(";")
    if len(groups) != 4:
        raise ReactionParseError(f"edits field has {len(groups)} ';' groups, expected 4")
    hydrogens: dict[int, int] = {}
    for sign, group in ((-1, groups[0]), (1, groups[1])):
        for item in filter(None, group.split(",")):
            number = _map_number(item, "hydrogen group")
            hydrogens[number] = hydrogens.get(number, 0) + sign
    new: dict[tuple[int, int], float] = {}
    for k, group in enumerate(groups[2:]):
        for item in filter(None, group.split(",")):
            parts = item.split("-")
            if len(parts) != 3:
                raise ReactionParseError(f"bond {item!r} is not 'a-b-order'")
            a, b = _map_number(parts[0], item), _map_number(parts[1], item)
            try:
                order = float(parts[2])
            except ValueError:
                raise ReactionParseError(f"bond {item!r}: order is not a number") from None
            if order not in BOND_ORDERS[1:]:
                raise ReactionParseError(f"bond {item!r}: order not in 1, 1.5, 2, 3")
            key = (min(a, b), max(a, b))
            if k == 0:
                new.setdefault(key, 0.0)
            else:
                new[key] = order
    changes = tuple(sorted((n, c) for n, c in hydrogens.items() if c))
    return RawReaction(rxn, tuple(new), tuple(new.values()), changes)


def process(raw: RawReaction) -> dict[str, Any]:
    """Turn one raw reaction into one record of plain Python values (see module docs).

    Raises ReactionParseError for a reaction that cannot be used at all: SMILES RDKit
    cannot parse, repeated atom maps, or edits naming atoms that are not in the reactants.
    """
    left, _, right = raw.mapped_rxn.partition(">>")
    try:
        precursors = read_side(left, "reactants")
        product = read_side(right, "product")
    except UnreadableSmilesError as e:
        raise ReactionParseError(str(e)) from None
    index = _atom_index(precursors.maps)
    edits, old_orders = _edits(raw, precursors.mol, product, index)
    edit_atoms = [(index[a], index[b]) for a, b, _ in edits]
    product_groups = _product_groups(product, index)
    check = reproduce(
        precursors.mol,
        [(i, j, order) for (i, j), (_, _, order) in zip(edit_atoms, edits, strict=True)],
        product.smiles,
        product_groups,
        _hydrogen_changes(raw, index),
    )
    error = check.error
    if not check.ok and product_groups is not None:
        changed = _unedited_changes(precursors, product, index, {m for e in edits for m in e[:2]})
        if changed:
            error = "product changes charges or hydrogens of unedited atoms " + ",".join(
                map(str, changed[:5])
            )
    if not check.ok and product.error:
        error = f"recorded product does not sanitise; {error}"
    in_product = (
        frozenset().union(*product_groups) if product_groups is not None else check.product_atoms
    )
    is_reactant = [bool(in_product.intersection(f)) for f in precursors.fragments]
    reactants = sorted(s for s, r in zip(precursors.smiles, is_reactant, strict=True) if r)
    reagents = sorted(s for s, r in zip(precursors.smiles, is_reactant, strict=True) if not r)
    products = ".".join(sorted(product.smiles))
    errors = [e for e in (precursors.error, product.error) if e]
    record: dict[str, Any] = {
        "reactants": ".".join(reactants),
        "reagents": ".".join(reagents),
        "products": products,
        "precursors_mixed": ".".join(sorted(precursors.smiles)),
        "rdkit_sanitizes": not errors,
        "sanitize_error": "; ".join(errors),
        "edits": [list(e) for e in edits],
        "old_orders": old_orders,
        "edits_reproduce_product": check.ok,
        "edit_check_error": error,
        "product_inchikey": _inchikey(product),
        "product_scaffold": scaffold_of(product.mol),
        "reaction_key": ".".join(reactants) + ">>" + products,
    }
    record.update(
        graph_arrays(
            precursors,
            is_reactant,
            edit_atoms,
            [order for _, _, order in edits],
        )
    )
    return record


def _atom_index(maps: tuple[int, ...]) -> dict[int, int]:
    index: dict[int, int] = {}
    for i, number in enumerate(maps):
        if number:
            if number in index:
                raise ReactionParseError(f"atom map {number} appears twice in the reactants")
            index[number] = i
    return index


def _edits(
    raw: RawReaction, mol: Chem.Mol, product: Side, index: dict[int, int]
) -> tuple[list[tuple[int, int, float]], list[float]]:
    """Sorted ``(map_a, map_b, new_order)`` edits (map_a < map_b) and their old orders."""
    if raw.new_orders is None:
        new_orders = _orders_in(product, raw.core)
    elif len(raw.new_orders) != len(raw.core):
        raise ReactionParseError("core and new_orders differ in length")
    else:
        new_orders = list(raw.new_orders)
    edits: dict[tuple[int, int], float] = {}
    for (a, b), order in zip(raw.core, new_orders, strict=True):
        if a == b or a not in index or b not in index:
            raise ReactionParseError(f"edit {a}-{b} does not name two reactant atoms")
        if order not in BOND_ORDERS:
            raise ReactionParseError(f"edit {a}-{b}: bond order {order} not supported")
        key = (min(a, b), max(a, b))
        if edits.setdefault(key, order) != order:
            raise ReactionParseError(f"edit {a}-{b} is given twice with different orders")
    old = []
    for a, b in sorted(edits):
        bond = mol.GetBondBetweenAtoms(index[a], index[b])
        old.append(bond.GetBondTypeAsDouble() if bond is not None else 0.0)
    return [(a, b, edits[a, b]) for a, b in sorted(edits)], old


def _hydrogen_changes(raw: RawReaction, index: dict[int, int]) -> dict[int, int] | None:
    if raw.hydrogen_changes is None:
        return None
    missing = [n for n, _ in raw.hydrogen_changes if n not in index]
    if missing:
        raise ReactionParseError(f"hydrogen change names atom map {missing[0]}, not a reactant")
    return {index[n]: change for n, change in raw.hydrogen_changes}


def _orders_in(product: Side, pairs: tuple[tuple[int, int], ...]) -> list[float]:
    """Bond orders between mapped atoms of the product; 0 if unbonded or absent."""
    index = {number: i for i, number in enumerate(product.maps) if number}
    orders = []
    for a, b in pairs:
        bond = None
        if a in index and b in index:
            bond = product.mol.GetBondBetweenAtoms(index[a], index[b])
        orders.append(bond.GetBondTypeAsDouble() if bond is not None else 0.0)
    return orders


def _product_groups(product: Side, index: dict[int, int]) -> list[frozenset[int]] | None:
    """Per product molecule, the reactant atoms it is made of; None if the product is unmapped.

    Unmapped atoms in a mapped product cannot come from the reactants: they are ignored
    here, so the edit check (which compares whole molecules) reports the mismatch.
    """
    maps = product.maps
    if not any(maps):
        return None
    groups = []
    for fragment in product.fragments:
        numbers = [maps[i] for i in fragment if maps[i]]
        missing = [n for n in numbers if n not in index]
        if missing:
            raise ReactionParseError(f"product atom map {missing[0]} is not in the reactants")
        groups.append(frozenset(index[n] for n in numbers))
    return groups


def _unedited_changes(
    precursors: Side, product: Side, index: dict[int, int], edited: set[int]
) -> list[int]:
    """Atom maps whose charge or hydrogen count changes although no edit touches them."""
    changed = []
    for atom, number in zip(atoms_of(product.mol), product.maps, strict=True):
        if number and number not in edited:
            before = precursors.mol.GetAtomWithIdx(index[number])
            if (atom.GetFormalCharge(), atom.GetTotalNumHs()) != (
                before.GetFormalCharge(),
                before.GetTotalNumHs(),
            ):
                changed.append(number)
    return changed


def _inchikey(side: Side) -> str:
    try:
        return Chem.MolToInchiKey(side.mol)
    except (RuntimeError, ValueError):
        return ""
