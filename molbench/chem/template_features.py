"""Sparse features of one template candidate: what the rule changed, and where.

A learned ranker of template products (Coley et al. 2017) needs to tell apart candidates
that the same reactants give: another rule, or the same rule at another site. What tells
them apart is local, so the features are read around the atoms the rule changed:

* ``reactant environment``: Morgan environments (radius 0..``radius``) of the changed atoms
  in the reactants, and ``product environment``: the same atoms in the candidate product
  (one hashed space each, counts);
* ``edits``: each bond between changed atoms whose order changed (element, aromaticity of
  both ends, old and new order), each bond of a changed atom to an atom that leaves, and
  each changed atom's hydrogen count and charge change (the edit description of Coley et
  al. 2017), hashed into a third space.

Ids are folded into ``3 * bits`` with CRC-32 (never Python's salted ``hash``) so the same
candidate always gets the same features. The reactants' own fingerprint (context shared by
all of a reaction's candidates) is :func:`reactant_fingerprint`.
"""

from __future__ import annotations

import multiprocessing
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator
from rdkit.rdBase import BlockLogs

from molbench.chem.templates import Candidate, TemplateLibrary

__all__ = [
    "N_DENSE",
    "Featurizer",
    "candidate_features",
    "featurize_all",
    "reactant_fingerprint",
]

N_DENSE = 3  # dense features per candidate: product/reactant heavy atoms, changed atoms, edits
_GENERATORS: dict[int, object] = {}


def _generator(radius: int) -> object:
    if radius not in _GENERATORS:
        _GENERATORS[radius] = rdFingerprintGenerator.GetMorganGenerator(radius=radius)
    return _GENERATORS[radius]


def reactant_fingerprint(mol: Chem.Mol, bits: int, radius: int = 2) -> dict[int, float]:
    """Folded Morgan counts of the whole reactant side (the reaction's context)."""
    counts: Counter[int] = Counter()
    for key, n in _generator(radius).GetSparseCountFingerprint(mol).GetNonzeroElements().items():
        counts[key % bits] += n
    return dict(sorted(counts.items()))


def candidate_features(
    reactants: Chem.Mol, candidate: Candidate, bits: int, radius: int = 2
) -> tuple[dict[int, float], list[float]]:
    """(sparse id -> count over ``3 * bits`` ids, dense features) of one candidate.

    ``reactants`` is the parsed reactant SMILES the candidate came from: its atom ``i`` is
    the candidate's atom map ``i + 1`` (see :meth:`TemplateLibrary.candidates`).
    """
    with BlockLogs():
        product = Chem.MolFromSmiles(candidate.mapped)
        if product is None:  # rdchiral's mapped form may not sanitise as written
            product = Chem.MolFromSmiles(candidate.mapped, sanitize=False)
            product.UpdatePropertyCache(strict=False)
    by_map = {a.GetAtomMapNum(): a.GetIdx() for a in product.GetAtoms() if a.GetAtomMapNum()}
    changed = [m for m in candidate.changed if m in by_map and 0 < m <= reactants.GetNumAtoms()]
    counts: Counter[int] = Counter()
    if changed:
        generator = _generator(radius)
        in_reactants = [m - 1 for m in changed]
        in_product = [by_map[m] for m in changed]
        for offset, mol, atoms in ((0, reactants, in_reactants), (bits, product, in_product)):
            fp = generator.GetSparseCountFingerprint(mol, fromAtoms=atoms)
            for key, n in fp.GetNonzeroElements().items():
                counts[offset + key % bits] += n
    edits = _edits(reactants, product, changed, by_map)
    for edit in edits:
        counts[2 * bits + zlib.crc32(edit.encode()) % bits] += 1
    if not counts:
        counts[2 * bits + zlib.crc32(b"no change") % bits] = 1
    heavy = max(reactants.GetNumHeavyAtoms(), 1)
    dense = [product.GetNumHeavyAtoms() / heavy, len(changed) / 10, len(edits) / 10]
    return dict(sorted(counts.items())), dense


def _atom(atom: Chem.Atom) -> str:
    return f"{atom.GetSymbol()}{'a' if atom.GetIsAromatic() else ''}"


def _edits(
    reactants: Chem.Mol, product: Chem.Mol, changed: Sequence[int], by_map: dict[int, int]
) -> list[str]:
    """Bond-order changes among the changed atoms and their H / charge changes, as words."""
    words = []
    for i, m in enumerate(changed):
        r, p = reactants.GetAtomWithIdx(m - 1), product.GetAtomWithIdx(by_map[m])
        if r.GetTotalNumHs() != p.GetTotalNumHs() or r.GetFormalCharge() != p.GetFormalCharge():
            words.append(
                f"atom {_atom(r)} H{r.GetTotalNumHs()}>{p.GetTotalNumHs()} "
                f"q{r.GetFormalCharge()}>{p.GetFormalCharge()}"
            )
        for bond in r.GetBonds():  # a bond to an atom that leaves (not in the product)
            other = bond.GetOtherAtom(r)
            if other.GetIdx() + 1 not in by_map:
                words.append(f"leave {_atom(r)}-{_atom(other)} {bond.GetBondTypeAsDouble():g}")
        for n in changed[i + 1 :]:
            before = reactants.GetBondBetweenAtoms(m - 1, n - 1)
            after = product.GetBondBetweenAtoms(by_map[m], by_map[n])
            old = before.GetBondTypeAsDouble() if before is not None else 0.0
            new = after.GetBondTypeAsDouble() if after is not None else 0.0
            if old != new:
                ends = sorted((_atom(r), _atom(reactants.GetAtomWithIdx(n - 1))))
                words.append(f"bond {ends[0]}-{ends[1]} {old:g}>{new:g}")
    return words


@dataclass(frozen=True)
class Featurizer:
    """Every candidate of one reaction with its features: what a ranker trains and scores on.

    ``max_templates``: rules that give a product, most frequent first, before stopping
    (0 = all of them).
    """

    library: TemplateLibrary
    bits: int = 4096
    context_bits: int = 2048
    radius: int = 2
    max_templates: int = 0

    def __call__(self, reactants: str) -> dict[str, Any]:
        """A row: products, their rules, sparse ids/values and dense features, context."""
        with BlockLogs():
            mol = Chem.MolFromSmiles(reactants)
        row: dict[str, Any] = {k: [] for k in ("products", "templates", "ids", "values", "dense")}
        context = reactant_fingerprint(mol, self.context_bits) if mol is not None else {}
        row["context_ids"], row["context_values"] = list(context), list(context.values())
        if mol is None:
            return row
        for candidate in self.library.candidates(reactants, self.max_templates):
            sparse, dense = candidate_features(mol, candidate, self.bits, self.radius)
            row["products"].append(candidate.product)
            row["templates"].append(candidate.templates)
            row["ids"].append(list(sparse))
            row["values"].append(list(sparse.values()))
            row["dense"].append(dense)
        return row


_WORKER: dict[str, Featurizer] = {}


def _init_worker(featurizer: Featurizer) -> None:
    _WORKER["featurizer"] = featurizer


def _featurize_one(reactants: str) -> dict[str, Any]:
    return _WORKER["featurizer"](reactants)


def featurize_all(
    featurizer: Featurizer, reactants: Iterable[str], workers: int = 1
) -> Iterator[dict[str, Any]]:
    """The featurizer over many rows, in input order, on ``workers`` processes."""
    if workers <= 1:
        yield from map(featurizer, reactants)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(workers, _init_worker, (featurizer,)) as pool:
        yield from pool.imap(_featurize_one, reactants, chunksize=4)
