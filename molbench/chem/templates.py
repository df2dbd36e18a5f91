"""Forward reaction templates: extract them from atom-mapped reactions, apply them, rank.

rdchiral (Coley et al. 2019) extracts *retro* templates from an atom-mapped reaction: the
changed atoms, their neighbours, special groups and whole leaving groups. Its two halves,
reactant fragments and product fragments, are read here the other way round, reactants
>> product, so one template is one forward rule. The reactant fragments are grouped into
one reactant template, ``(a.b)>>p``, so a rule applies to all reactants written as one
'.'-joined molecule without having to know which fragment sits in which molecule (the
price: two fragments may also match inside one molecule, an extra wrong candidate). Only
the reactant molecules that give the product an atom enter a rule, never the reagents.

USPTO-15K publishes an unmapped product: its atom maps are recovered here by applying the
reaction-centre edits to the mapped reactants and matching the product onto the edited
molecule (elements and connectivity; of the symmetric matches the one whose bond orders
agree best). A reaction that gives no template is kept with the reason, so callers can
count it.

Prediction ranks a rule by how many training reactions gave it (ties by the SMARTS text)
and keeps each product the first time a rule gives it. A cheap screen runs first: every
reactant fragment of a rule must be a substructure of the reactants (RDKit pattern
fingerprints, then a substructure match), before rdchiral applies the rule.
"""

from __future__ import annotations

import contextlib
import functools
import io
import multiprocessing
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rdchiral import template_extractor
from rdchiral.initialization import rdchiralReactants, rdchiralReaction
from rdchiral.main import rdchiralRun
from rdchiral.template_extractor import extract_from_reaction
from rdkit import Chem, DataStructs
from rdkit.rdBase import BlockLogs

__all__ = [
    "Candidate",
    "Extraction",
    "TemplateError",
    "TemplateLibrary",
    "apply_template",
    "canonical",
    "check_extraction",
    "extract_forward_template",
    "map_product",
    "predict_all",
]

_BOND = {
    1.0: Chem.BondType.SINGLE,
    1.5: Chem.BondType.AROMATIC,
    2.0: Chem.BondType.DOUBLE,
    3.0: Chem.BondType.TRIPLE,
}
MAX_MATCHES = 1000  # symmetric matches of a product onto its edited reactants tried
FINGERPRINT_BITS = 2048


class TemplateError(ValueError):
    """A reaction that gives no usable template; the message says why."""


@dataclass(frozen=True)
class Extraction:
    """One training reaction's forward template, or why it has none.

    ``self_consistent``: applying the template to the reaction's own reactants gives its
    recorded product (None when there is no template).
    """

    template: str
    error: str = ""
    self_consistent: bool | None = None


@functools.lru_cache(maxsize=200_000)
def canonical(smiles: str) -> str | None:
    """RDKit canonical SMILES, or None when it does not parse."""
    with BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def map_product(mapped_reactants: str, edits: Sequence[Mapping[str, float]], products: str) -> str:
    """The product with the reactants' atom maps, from the reaction-centre edits.

    ``edits`` are the dataset's ``{atom_a, atom_b, new_order}`` by atom-map number. Raises
    TemplateError when a product molecule matches no edited reactant molecule.
    """
    with BlockLogs():
        mol = Chem.MolFromSmiles(mapped_reactants)
    if mol is None:
        raise TemplateError("mapped reactants do not parse")
    index = {a.GetAtomMapNum(): a.GetIdx() for a in mol.GetAtoms()}
    edited = Chem.RWMol(mol)
    for edit in edits:
        a, b = index.get(int(edit["atom_a"])), index.get(int(edit["atom_b"]))
        if a is None or b is None:
            raise TemplateError("an edit names an atom map the reactants lack")
        _set_bond(edited, a, b, float(edit["new_order"]))
    sizes = {i: len(c) for c in Chem.GetMolFrags(edited, sanitizeFrags=False) for i in c}
    target = _skeleton(edited)
    mapped = []
    for smiles in products.split("."):
        with BlockLogs():
            product = Chem.MolFromSmiles(smiles)
        if product is None:
            raise TemplateError("product does not parse")
        match = _best_match(edited, target, product, sizes)
        for i, j in enumerate(match):
            product.GetAtomWithIdx(i).SetAtomMapNum(edited.GetAtomWithIdx(j).GetAtomMapNum())
        mapped.append(Chem.MolToSmiles(product))
    return ".".join(mapped)


def _set_bond(mol: Chem.RWMol, a: int, b: int, order: float) -> None:
    bond = mol.GetBondBetweenAtoms(a, b)
    if order == 0:
        if bond is not None:
            mol.RemoveBond(a, b)
    elif bond is None:
        mol.AddBond(a, b, _BOND[order])
    else:
        bond.SetBondType(_BOND[order])


def _skeleton(mol: Chem.Mol) -> Chem.Mol:
    """Elements and connectivity only: every bond single, no charges, hydrogens or stereo."""
    rw = Chem.RWMol(mol)
    for atom in rw.GetAtoms():
        atom.SetIsAromatic(False)
        atom.SetFormalCharge(0)
        atom.SetNoImplicit(True)
        atom.SetNumExplicitHs(0)
        atom.SetIsotope(0)
        atom.SetAtomMapNum(0)
        atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    for bond in rw.GetBonds():
        bond.SetBondType(Chem.BondType.SINGLE)
        bond.SetIsAromatic(False)
        bond.SetStereo(Chem.BondStereo.STEREONONE)
    return rw.GetMol()


def _best_match(
    edited: Chem.Mol, target: Chem.Mol, product: Chem.Mol, sizes: Mapping[int, int]
) -> tuple[int, ...]:
    """The whole-molecule match of the product whose bond orders agree most with the edit."""
    query = _skeleton(product)
    best: tuple[int, tuple[int, ...]] | None = None
    for match in target.GetSubstructMatches(query, uniquify=False, maxMatches=MAX_MATCHES):
        if sizes[match[0]] != product.GetNumAtoms():
            continue
        agree = 0
        for bond in product.GetBonds():
            other = edited.GetBondBetweenAtoms(
                match[bond.GetBeginAtomIdx()], match[bond.GetEndAtomIdx()]
            )
            agree += other.GetBondType() == bond.GetBondType()
        if best is None or agree > best[0]:
            best = (agree, match)
    if best is None:
        raise TemplateError("no edited reactant molecule matches the product")
    return best[1]


def _maps(smiles: str) -> set[int]:
    with BlockLogs():
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
    return {a.GetAtomMapNum() for a in mol.GetAtoms()} - {0} if mol is not None else set()


def extract_forward_template(
    mapped_rxn: str, edits: Sequence[Mapping[str, float]], products: str = "", radius: int = 1
) -> str:
    """The forward template (reaction SMARTS) of one atom-mapped reaction.

    Only the reactant molecules that give the product an atom take part, so reagents never
    enter a rule. An unmapped product side (USPTO-15K) is mapped with :func:`map_product`
    from ``edits`` and ``products``. ``radius=0``: a general rule, the changed atoms and
    the leaving groups only (rdchiral's default 1 adds their neighbours and special groups).
    Raises TemplateError with the reason on failure.
    """
    left, _, right = mapped_rxn.partition(">>")
    right = right.split(">")[-1]
    if not _maps(right):
        right = map_product(left, edits, products or right)
    in_product = _maps(right)
    reactants = [m for m in left.split(".") if _maps(m) & in_product]
    if not reactants:
        raise TemplateError("no reactant gives the product an atom")
    reaction = {"reactants": ".".join(reactants), "products": right, "_id": 0}
    with BlockLogs(), contextlib.redirect_stdout(io.StringIO()), _seeded_numpy(), _radius(radius):
        try:
            extracted = extract_from_reaction(reaction)
        except (ValueError, KeyError, IndexError, RuntimeError) as e:
            raise TemplateError(f"rdchiral: {type(e).__name__}") from None
    if not extracted or "reactants" not in extracted:
        raise TemplateError("rdchiral finds no template (no changed atoms or bad mapping)")
    return f"({extracted['reactants']})>>({extracted['products']})"


@contextlib.contextmanager
def _radius(radius: int) -> Iterator[None]:
    """rdchiral fixes the reactant radius at 1 inside ``extract_from_reaction``: for another
    radius, wrap the fragment finder it calls for the time of one extraction."""
    if radius == 1:
        yield
        return
    original = template_extractor.get_fragments_for_changed_atoms

    def fragments(mols: Any, tags: Any, **kwargs: Any) -> Any:
        if kwargs.get("category", "reactants") == "reactants":
            kwargs["radius"] = radius
        return original(mols, tags, **kwargs)

    template_extractor.get_fragments_for_changed_atoms = fragments
    try:
        yield
    finally:
        template_extractor.get_fragments_for_changed_atoms = original


@contextlib.contextmanager
def _seeded_numpy() -> Iterator[None]:
    """rdchiral shuffles stereocentres with numpy's global RNG: fix it, then restore it.

    It also prints its failures, hence the stdout redirect around the call.
    """
    state = np.random.get_state()
    np.random.seed(0)
    try:
        yield
    finally:
        np.random.set_state(state)


def apply_template(template: str, reactants: str) -> list[str]:
    """Canonical products of one forward template on '.'-joined reactants, sorted."""
    return _run(rdchiralReaction(template), reactants)


def _run(rxn: rdchiralReaction, reactants: str | rdchiralReactants) -> list[str]:
    with BlockLogs(), contextlib.redirect_stdout(io.StringIO()):
        try:
            if isinstance(reactants, str):
                reactants = rdchiralReactants(reactants)
            outcomes = rdchiralRun(rxn, reactants)
        except (ValueError, KeyError, IndexError, RuntimeError, AttributeError):
            return []  # rdchiral gives up on some stereo and valence cases: no product
    return sorted({s for s in map(canonical, outcomes) if s})


def _run_mapped(
    rxn: rdchiralReaction, reactants: rdchiralReactants
) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Canonical product -> (atom-mapped product, maps of the atoms the rule changed)."""
    with BlockLogs(), contextlib.redirect_stdout(io.StringIO()):
        try:
            result = rdchiralRun(rxn, reactants, return_mapped=True)
        except (ValueError, KeyError, IndexError, RuntimeError, AttributeError):
            return {}
    if not result:  # rdchiral returns a bare [] when RDKit finds no match
        return {}
    outcomes, mapped = result
    by_canonical = {canonical(k): v for k, v in sorted(mapped.items())}
    fallback = next(iter(by_canonical.values()), None)
    found = {}
    for smiles in sorted({s for s in map(canonical, outcomes) if s}):
        # a racemate merged from two enantiomers has no mapped form of its own
        entry = by_canonical.get(smiles, fallback)
        if entry is not None:
            found[smiles] = (entry[0], tuple(sorted(entry[1])))
    return found


def check_extraction(
    mapped_rxn: str,
    edits: Sequence[Mapping[str, float]],
    reactants: str,
    products: str,
    radius: int = 1,
) -> Extraction:
    """Extract a training reaction's template and check it recovers its own product."""
    try:
        template = extract_forward_template(mapped_rxn, edits, products, radius)
    except TemplateError as e:
        return Extraction("", str(e))
    try:
        rxn = rdchiralReaction(template)
    except (ValueError, KeyError, IndexError, RuntimeError) as e:
        return Extraction("", f"rdchiral cannot load the template: {type(e).__name__}")
    return Extraction(template, "", canonical(products) in _run(rxn, reactants))


@dataclass
class Candidate:
    """One product of a reaction's rules: which rules give it, and how (for a ranker)."""

    product: str  # canonical SMILES
    templates: list[int]  # library indices of the rules that give it, most frequent first
    mapped: str  # atom-mapped product: reactant atom i has map i + 1
    changed: tuple[int, ...]  # maps of the atoms the first rule changed


@dataclass
class TemplateLibrary:
    """Forward templates with their training counts, most frequent first.

    Compiled state (fragment queries, fingerprints, rdchiral reactions) is built on first
    use in each process and is not pickled, so a worker receives only the SMARTS.
    """

    templates: tuple[str, ...]
    counts: tuple[int, ...]
    _compiled: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_templates(cls, templates: Iterable[str], min_count: int = 1) -> TemplateLibrary:
        """Count templates; keep those seen ``min_count`` times; order by count, then text."""
        counted = sorted(Counter(t for t in templates if t).items(), key=lambda x: (-x[1], x[0]))
        kept = [(t, n) for t, n in counted if n >= min_count]
        return cls(tuple(t for t, _ in kept), tuple(n for _, n in kept))

    def __len__(self) -> int:
        return len(self.templates)

    def __getstate__(self) -> dict[str, Any]:
        return {"templates": self.templates, "counts": self.counts, "_compiled": None}

    def _compile(self) -> dict[str, Any]:
        if self._compiled is None:
            fragments: dict[str, int] = {}
            per_template = []
            for template in self.templates:
                reactant_side = template.split(">>")[0][1:-1]
                ids = {fragments.setdefault(f, len(fragments)) for f in reactant_side.split(".")}
                per_template.append(sorted(ids))
            with BlockLogs():
                queries = [Chem.MolFromSmarts(f) for f in fragments]
            for query in queries:
                query.UpdatePropertyCache(strict=False)
            # fragment ids per template, padded with an id that always passes the screen
            width = max((len(ids) for ids in per_template), default=1)
            padded = np.full((len(per_template), width), len(queries), dtype=np.int64)
            for row, ids in enumerate(per_template):
                padded[row, : len(ids)] = ids
            fingerprints = [_fingerprint(q) for q in queries]
            self._compiled = {
                "queries": queries,
                "fingerprints": np.stack(fingerprints)
                if fingerprints
                else np.zeros((0, FINGERPRINT_BITS // 64), dtype=np.uint64),
                "per_template": per_template,
                "padded": padded,
                "reactions": {},
            }
        return self._compiled

    def predict(self, reactants: str, top_k: int = 10) -> list[str]:
        """Up to ``top_k`` distinct canonical products, from the most frequent rule down."""
        products: list[str] = []
        for _, outcomes in self._outcomes(reactants, mapped=False):
            for product in outcomes:
                if product not in products:
                    products.append(product)
            if len(products) >= top_k:
                break
        return products[:top_k]

    def candidates(self, reactants: str, max_templates: int = 0) -> list[Candidate]:
        """Every product any rule gives, first-seen order (the frequency ranking).

        ``max_templates``: stop after that many rules gave a product (0 = try them all).
        Each candidate carries the rules that give it and one atom-mapped form (reactant
        atom ``i`` has map ``i + 1``) with the maps of the atoms the rule changed, which is
        what a learned ranker reads.
        """
        found: dict[str, Candidate] = {}
        for fired, (index, outcomes) in enumerate(self._outcomes(reactants, mapped=True), 1):
            for product, (mapped, changed) in outcomes.items():
                if product in found:
                    found[product].templates.append(index)
                else:
                    found[product] = Candidate(product, [index], mapped, tuple(changed))
            if max_templates and fired >= max_templates:
                break
        return list(found.values())

    def _outcomes(self, reactants: str, mapped: bool) -> Iterator[tuple[int, Any]]:
        """(rule index, its products) for every rule that gives any, most frequent first."""
        with BlockLogs():
            mol = Chem.MolFromSmiles(reactants)
        if mol is None or not self.templates:
            return
        compiled = self._compile()
        screen = np.append(_screen(compiled["fingerprints"], _fingerprint(mol)), True)
        passing = np.flatnonzero(screen[compiled["padded"]].all(axis=1))
        matched: dict[int, bool] = {}
        prepared: rdchiralReactants | None = None
        for index in passing.tolist():
            ids = compiled["per_template"][index]
            if not all(_matches(mol, compiled["queries"], i, matched) for i in ids):
                continue
            prepared = prepared or rdchiralReactants(reactants)
            rxn = self._reaction(index)
            outcomes = _run_mapped(rxn, prepared) if mapped else _run(rxn, prepared)
            if outcomes:
                yield index, outcomes

    def _reaction(self, index: int) -> rdchiralReaction:
        reactions = self._compile()["reactions"]
        if index not in reactions:
            reactions[index] = rdchiralReaction(self.templates[index])
        return reactions[index]


def _fingerprint(mol: Chem.Mol) -> np.ndarray:
    """RDKit's pattern fingerprint (a query's bits are a subset of any match's) as uint64s."""
    bits = Chem.PatternFingerprint(mol, fpSize=FINGERPRINT_BITS)
    array = np.zeros(FINGERPRINT_BITS, dtype=np.uint8)
    DataStructs.ConvertToNumpyArray(bits, array)
    return np.packbits(array).view(np.uint64)


def _screen(queries: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Queries whose every fingerprint bit is set in the target (may still not match)."""
    return ~np.any(queries & ~target, axis=1)


def _matches(mol: Chem.Mol, queries: Sequence[Chem.Mol], i: int, seen: dict[int, bool]) -> bool:
    if i not in seen:
        seen[i] = mol.HasSubstructMatch(queries[i])
    return seen[i]


_WORKER: dict[str, Any] = {}


def _init_worker(library: TemplateLibrary, top_k: int) -> None:
    _WORKER.update(library=library, top_k=top_k)


def _predict_one(reactants: str) -> list[str]:
    return _WORKER["library"].predict(reactants, _WORKER["top_k"])


def predict_all(
    library: TemplateLibrary, reactants: Iterable[str], top_k: int = 10, workers: int = 1
) -> Iterator[list[str]]:
    """:meth:`TemplateLibrary.predict` over many rows, in input order, on ``workers`` processes.

    Each worker receives the library once (its initializer), not once per row.
    """
    if workers <= 1:
        for smiles in reactants:
            yield library.predict(smiles, top_k)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(workers, _init_worker, (library, top_k)) as pool:
        yield from pool.imap(_predict_one, reactants, chunksize=8)
