"""Apply reaction-centre bond edits to the reactants and check that they give the product.

WLDN's edit labels (Jin et al. 2017) are new bond orders only; the hydrogens and formal
charges of the atoms they touch must be re-derived, as rexgen_direct's ``edit_mol`` does
with element-specific rules. Here each edited atom gets its valence-consistent (charge, H)
states ranked by cost (:mod:`molbench.chem.reaction_valence`); the product counts as
reproduced when the cheapest state, or failing that one of the few next cheapest
combinations per product molecule, matches it exactly. Unedited atoms keep their
hydrogens and charges, so a product that differs from the reactants away from the edits
(a tautomer drawn another way, a counter-ion protonated in work-up) is reported, not
hidden.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from rdkit import Chem

from molbench.chem.reaction_smiles import fragment_smiles
from molbench.chem.reaction_valence import State, atom_states, sanitized_forms, set_state

BOND_TYPE = {
    1.0: Chem.BondType.SINGLE,
    1.5: Chem.BondType.AROMATIC,
    2.0: Chem.BondType.DOUBLE,
    3.0: Chem.BondType.TRIPLE,
}
MAX_COMBINATIONS = 24  # (charge, H) combinations tried per product molecule
_SANITIZED = Chem.SanitizeFlags.SANITIZE_NONE

Edit = tuple[int, int, float]  # (atom index, atom index, new bond order; 0 = no bond)


@dataclass(frozen=True)
class Reproduction:
    """Whether the edits give the product, why not, and which reactant atoms end in it."""

    ok: bool
    error: str
    product_atoms: frozenset[int]


def reproduce(
    mol: Chem.Mol,
    edits: Sequence[Edit],
    product_smiles: Sequence[str],
    product_atoms: Sequence[frozenset[int]] | None,
    hydrogen_changes: Mapping[int, int] | None = None,
) -> Reproduction:
    """Apply ``edits`` (atom indices of ``mol``) and compare with the product molecules.

    ``mol`` is the reactant side without atom maps. ``product_smiles`` are the canonical
    product molecules; ``product_atoms`` gives, per product molecule, the reactant atoms it
    is made of (mapped product) or is None when the product is unmapped (USPTO-15K): the
    edited molecules that match then say which reactant atoms end in the product.
    ``hydrogen_changes`` (USPTO-15K gives them) fixes each atom's hydrogen change, atoms
    without bond edits included; without it an edited atom is expected to lose as many
    hydrogens as its bond orders gain.
    """
    rw = _apply_bonds(mol, edits)
    states = _candidate_states(mol, rw, edits, hydrogen_changes)
    for i, options in states.items():
        set_state(rw.GetAtomWithIdx(i), options[0])
    if product_atoms is not None:
        return _check_mapped(rw, states, product_smiles, product_atoms)
    return _match_unmapped(rw, states, product_smiles)


def _apply_bonds(mol: Chem.Mol, edits: Sequence[Edit]) -> Chem.RWMol:
    rw = Chem.RWMol(mol)
    for a, b, order in edits:
        bond = rw.GetBondBetweenAtoms(a, b)
        if order == 0:
            if bond is not None:
                rw.RemoveBond(a, b)
            continue
        if bond is None:
            rw.AddBond(a, b, BOND_TYPE[order])
            bond = rw.GetBondBetweenAtoms(a, b)
        else:
            bond.SetBondType(BOND_TYPE[order])
        bond.SetIsAromatic(order == 1.5)
    return rw


def _candidate_states(
    mol: Chem.Mol,
    rw: Chem.RWMol,
    edits: Sequence[Edit],
    hydrogen_changes: Mapping[int, int] | None,
) -> dict[int, list[State]]:
    """Ranked states of every atom whose bonds (or, when given, hydrogens) change."""
    delta: dict[int, float] = dict.fromkeys(hydrogen_changes or (), 0.0)
    for a, b, order in edits:
        bond = mol.GetBondBetweenAtoms(a, b)
        change = order - (bond.GetBondTypeAsDouble() if bond is not None else 0.0)
        delta[a] = delta.get(a, 0.0) + change
        delta[b] = delta.get(b, 0.0) + change
    states = {}
    for i, gained in delta.items():
        atom = rw.GetAtomWithIdx(i)
        before = mol.GetAtomWithIdx(i)
        if hydrogen_changes is None:
            expected = before.GetTotalNumHs() - gained
        else:
            expected = before.GetTotalNumHs() + hydrogen_changes.get(i, 0)
        plain, n_aromatic = 0.0, 0
        for bond in atom.GetBonds():
            if bond.GetIsAromatic():
                n_aromatic += 1
            else:
                plain += bond.GetBondTypeAsDouble()
        atom.SetIsAromatic(n_aromatic > 0)
        states[i] = atom_states(before, expected, plain, n_aromatic) or [
            (0.0, before.GetFormalCharge(), before.GetTotalNumHs())
        ]
    return states


def _keep_only(rw: Chem.RWMol, keep: Set[int]) -> None:
    rw.BeginBatchEdit()
    for i in range(rw.GetNumAtoms()):
        if i not in keep:
            rw.RemoveAtom(i)
    rw.CommitBatchEdit()


def _first_guess(rw: Chem.RWMol, keep: Set[int] | None) -> Chem.RWMol | None:
    """The edited mixture (only ``keep`` atoms) with every atom in its cheapest state."""
    guess = Chem.RWMol(rw)
    if keep is not None:
        _keep_only(guess, keep)
    if Chem.SanitizeMol(guess, catchErrors=True) != _SANITIZED:
        return None
    return guess


def _check_mapped(
    rw: Chem.RWMol,
    states: dict[int, list[State]],
    product_smiles: Sequence[str],
    product_atoms: Sequence[frozenset[int]],
) -> Reproduction:
    kept = frozenset().union(*product_atoms)
    guess = _first_guess(rw, kept)
    if guess is not None and sorted(Chem.MolToSmiles(guess).split(".")) == sorted(product_smiles):
        return Reproduction(True, "", kept)
    components = Chem.GetMolFrags(rw, asMols=False, sanitizeFrags=False)
    by_atoms = {frozenset(c): c for c in components}
    for atoms, target in zip(product_atoms, product_smiles, strict=True):
        component = by_atoms.get(atoms)
        if component is None:
            return Reproduction(False, "edited bonds do not give the product's molecules", kept)
        error = _search(rw, component, states, {target})[1]
        if error:
            return Reproduction(False, error, kept)
    return Reproduction(True, "", kept)


def _match_unmapped(
    rw: Chem.RWMol,
    states: dict[int, list[State]],
    product_smiles: Sequence[str],
) -> Reproduction:
    """Find the edited molecules that are the product molecules; they give its mapping."""
    components = Chem.GetMolFrags(rw, asMols=False, sanitizeFrags=False)
    remaining = list(product_smiles)
    matched: set[int] = set()
    guess = _first_guess(rw, None)
    if guess is not None:
        for component, smiles in zip(components, fragment_smiles(guess, components), strict=True):
            if smiles in remaining:
                remaining.remove(smiles)
                matched.update(component)
    if remaining:
        sizes = {Chem.MolFromSmiles(s, sanitize=False).GetNumAtoms() for s in remaining}
        for component in components:
            if remaining and len(component) in sizes and matched.isdisjoint(component):
                found, _ = _search(rw, component, states, set(remaining))
                if found is not None:
                    remaining.remove(found)
                    matched.update(component)
    if not remaining:
        return Reproduction(True, "", frozenset(matched))
    if not matched:  # best guess for the reactant/reagent split: the largest edited molecule
        edited = [c for c in components if not states.keys().isdisjoint(c)] or list(components)
        matched.update(max(edited, key=len))
    return Reproduction(False, "no edited molecule matches the product", frozenset(matched))


def _search(
    rw: Chem.RWMol,
    component: tuple[int, ...],
    states: dict[int, list[State]],
    targets: set[str],
) -> tuple[str | None, str]:
    """Try the cheapest state combinations of one edited molecule against ``targets``."""
    edited = [i for i in component if i in states]
    frag = Chem.RWMol(rw)
    _keep_only(frag, set(component))
    index = {old: new for new, old in enumerate(sorted(component))}
    combos = sorted(
        itertools.product(*(states[i] for i in edited)), key=lambda c: sum(s[0] for s in c)
    )
    first_error = ""
    for combo in combos[:MAX_COMBINATIONS]:
        trial = Chem.RWMol(frag)
        for i, state in zip(edited, combo, strict=True):
            set_state(trial.GetAtomWithIdx(index[i]), state)
        for smiles, error in sanitized_forms(trial):
            if smiles in targets:
                return smiles, ""
            first_error = first_error or error or f"edited product {smiles} differs"
    return None, first_error or "no valence-consistent hydrogens and charges"


PRODUCT_RULES = ("largest", "reactants")  # which edited molecules a graph-edit model predicts


@dataclass(frozen=True)
class EditedMolecule:
    """One molecule of the edited mixture: its atoms (indices of the precursors) and SMILES."""

    atoms: frozenset[int]
    smiles: str  # canonical, '' when no hydrogen/charge repair lets it sanitise
    touched: bool  # an edit changed one of its bonds


def edited_mixture(
    mol: Chem.Mol, edits: Sequence[Edit], unedited: Mapping[frozenset[int], str] | None = None
) -> list[EditedMolecule]:
    """Every molecule after applying ``edits`` to ``mol``, each edited atom in its cheapest
    valence-consistent state (the rest unchanged), as a graph-edit model's candidate is.

    ``unedited``: the canonical SMILES of the precursor molecules by their atoms, reused for
    the molecules no edit touches (writing SMILES is most of the cost of a big mixture).
    """
    rw = _apply_bonds(mol, edits)
    for i, options in _candidate_states(mol, rw, edits, None).items():
        set_state(rw.GetAtomWithIdx(i), options[0])
    touched = {i for a, b, _ in edits for i in (a, b)}
    components = [frozenset(c) for c in Chem.GetMolFrags(rw, asMols=False, sanitizeFrags=False)]
    known = unedited or {}
    todo = [c for c in components if not touched.isdisjoint(c) or c not in known]
    written = dict(zip(todo, _write(rw, todo), strict=True))
    return [
        EditedMolecule(c, written[c] if c in written else known[c], not touched.isdisjoint(c))
        for c in components
    ]


def _write(rw: Chem.RWMol, components: Sequence[frozenset[int]]) -> list[str]:
    """Canonical SMILES of these molecules of ``rw`` ('' for one that cannot be repaired)."""
    if not components:
        return []
    part = Chem.RWMol(rw)
    _keep_only(part, frozenset().union(*components))
    # removing atoms keeps their order, and GetMolFrags lists molecules by lowest atom
    ordered = sorted(components, key=min)
    pieces = Chem.GetMolFrags(part, asMols=False, sanitizeFrags=False)
    if Chem.SanitizeMol(part, catchErrors=True) == _SANITIZED:
        by_component = dict(zip(ordered, fragment_smiles(part, pieces), strict=True))
    else:  # repair (or give up on) each molecule alone, so one bad one spoils only itself
        by_component = {}
        for component in ordered:
            frag = Chem.RWMol(rw)
            _keep_only(frag, component)
            by_component[component] = next((s for s, _ in sanitized_forms(frag) if s), "")
    return [by_component[c] for c in components]


def mixture_smiles(molecules: Sequence[EditedMolecule]) -> str:
    """The whole edited mixture, every molecule '.'-joined (sorted), as the WLDN authors'
    candidate is; '' when an edited molecule does not sanitise (that spoils the guess)."""
    if any(m.touched and not m.smiles for m in molecules):
        return ""
    return ".".join(sorted(m.smiles for m in molecules if m.smiles))


def predicted_product(
    molecules: Sequence[EditedMolecule], reactant_atoms: Set[int] | None, rule: str
) -> str:
    """The product a graph-edit model names from its edited mixture ('' if it has none).

    ``largest``: the largest molecule an edit touched. ``reactants``: that molecule plus
    every reactant molecule the edits left whole (a salt's counter-ion, an HCl kept with
    an amine), which needs ``reactant_atoms`` (the separated setting's reactants). Leaving
    groups (other edited molecules) are dropped by both.
    """
    if rule not in PRODUCT_RULES:
        raise ValueError(f"unknown product rule {rule!r}; known: {', '.join(PRODUCT_RULES)}")
    edited = [m for m in molecules if m.touched] or list(molecules)
    if not edited:
        return ""
    main = max(edited, key=lambda m: len(m.atoms))
    kept = [main]
    if rule == "reactants" and reactant_atoms is not None:
        kept += [m for m in molecules if not m.touched and m.atoms <= reactant_atoms]
    if any(not m.smiles for m in kept):
        return ""
    return ".".join(sorted(m.smiles for m in kept))
