"""The ``validity`` dataset: acyclic hydrocarbons labelled valid or invalid by carbon valence.

Every invalid molecule is a single-edit near-miss of a valid one (its ``parent_id``), with
the same number of carbons, so neither size nor "looks odd" separates the classes: a model
has to count bonds. Generated offline from a seed; this is molbench's embedded default.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
from tqdm.auto import tqdm

from molbench.builders.base import (
    DEFAULT_GROUP,
    BuildContext,
    DatasetInfo,
    Footprint,
    SplitDefinition,
)
from molbench.chem import generate
from molbench.chem.generate import EXHAUSTIVE_MAX_CARBONS, carbon_quotas, pick_valid
from molbench.chem.hydrocarbon import Hydrocarbon, formula
from molbench.chem.notation import Written, write
from molbench.chem.rdkit_oracle import OVER_VALENCE, UNDER_VALENCE, VALID, judge
from molbench.errors import BuildError, ParameterError
from molbench.parallel import ordered_map
from molbench.shortcuts import shortcut_report, unsaturation_rule
from molbench.splits import grouped_random_split, threshold_split

# Measured (1 worker): peak RSS 411 MB at 20,000 rows and 750 MB at 80,000, i.e. ~5.7 kB a
# row, with per-row dicts; with columns from the workers 337 MB and 513 MB (~2.9 kB a row).
# Parquet ~150 B a row. Kept at 5 kB: only builds that cannot fit are refused.
MEMORY_BYTES_PER_ROW = 5_000
DISK_BYTES_PER_ROW = 140
_STREAM_MOLECULES, _STREAM_IDS = 1, 2  # independent random streams under one seed
_EXPECTED_VERDICT = {e: OVER_VALENCE for e in generate.OVER_VALENCE_ERRORS} | {
    e: UNDER_VALENCE for e in generate.UNDER_VALENCE_ERRORS
}


@dataclass(frozen=True)
class ValidityParams:
    """Build parameters; every field is a ``molbench build validity --option``."""

    n_molecules: int = field(
        default=100_000, metadata={"help": "Rows in total: half valid, half invalid."}
    )
    max_carbons: int = field(default=20, metadata={"help": "Largest carbon count (2..60)."})
    size_ood_max_train_carbons: int = field(
        default=16,
        metadata={"help": "size_ood config: train/validation up to this many carbons, test above."},
    )
    seed: int = field(default=0, metadata={"help": "Seed of every random choice in the build."})

    def __post_init__(self) -> None:
        if self.n_molecules < 20:
            raise ParameterError(f"--n-molecules must be at least 20, got {self.n_molecules}")
        if not 2 <= self.max_carbons <= 60:
            raise ParameterError(f"--max-carbons must be in 2..60, got {self.max_carbons}")
        if not 1 <= self.size_ood_max_train_carbons < self.max_carbons:
            raise ParameterError(
                f"--size-ood-max-train-carbons must be in 1..{self.max_carbons - 1} "
                f"(below --max-carbons), got {self.size_ood_max_train_carbons}"
            )
        if self.seed < 0:
            raise ParameterError(f"--seed must be >= 0, got {self.seed}")


INFO = DatasetInfo(
    name="validity",
    version="1.0.0",
    title="Hydrocarbon valence validity",
    summary=(
        "Acyclic hydrocarbons (alkanes, alkenes, cumulenes) written as condensed structural "
        "formulae and explicit-hydrogen SMILES, labelled **valid** (every carbon has four "
        "bonds) or **invalid**. Each invalid molecule is a one-edit near-miss of a valid "
        "molecule with the same carbon count — an extra or missing hydrogen, a bond order "
        "written wrongly, a misplaced double bond — so the classes are balanced per size "
        "and a model must learn valence, not string length. The smallest case of molbench's "
        "view of chemistry: atoms with a budget of bonds."
    ),
    license="cc0-1.0",
    citation=(
        "@software{molbench,\n  title = {molbench: versioned datasets and benchmarks for "
        "molecular machine learning},\n  year = {2026},\n  note = {dataset: validity 1.0.0}\n}"
    ),
    columns={
        "id": "Row id, unique within the build (a seeded permutation: it carries no label).",
        "condensed": "Condensed structural formula, e.g. `CH3CH(CH3)CH=CH2`; "
        "invalid rows keep their wrong hydrogen counts (`CH3CH4`).",
        "smiles": "Explicit-hydrogen bracket SMILES in the same atom order, e.g. "
        "`[CH3][CH]([CH3])[CH]=[CH2]`, so invalid molecules are representable.",
        "canonical_smiles": "RDKit canonical SMILES: implicit hydrogens for valid rows; for "
        "invalid rows every hydrogen count in brackets, from the unsanitised graph. "
        "The structure key of the audits.",
        "formula": "Hill formula (`C5H10`), wrong hydrogen totals included.",
        "n_carbons": "Number of carbon atoms.",
        "n_double_bonds": "Number of C=C bonds as written.",
        "atom_h_counts": "Hydrogens on carbon i (node feature); atom i is the i-th carbon of "
        "`smiles` (and of `condensed` with multipliers such as `(CH3)2` written out).",
        "edge_index": "Two lists [sources, targets]; every bond appears in both directions "
        "(PyG convention).",
        "bond_orders": "Bond order of each directed edge, aligned with `edge_index`.",
        "label": "1 valid, 0 invalid.",
        "error": "Null for valid rows; else the edit that broke the molecule: "
        + ", ".join(f"`{e}`" for e in generate.ERROR_TYPES)
        + ".",
        "parent_id": "The valid molecule an invalid row was derived from (its own id if valid).",
    },
    structure_column="canonical_smiles",
    notes="""
## How it is made

1. **Valid molecules.** For each carbon count 1..`max_carbons` an equal share of the valid
   half (counts with fewer isomers give all they have; the rest is shared by larger
   counts). Up to C10 every constitutional isomer is enumerated (skeletons of degree ≤ 4,
   then every double-bond set that keeps each carbon at four bonds) and the share is drawn
   uniformly without replacement. Above C10 molecules are sampled: a uniform labelled
   tree (Prüfer code, degree ≤ 4) and then a uniform valid set of double bonds (exact tree
   dynamic programming), deduplicated by canonical form. Sampling over labelled trees
   slightly under-represents highly symmetric skeletons; the manifest records any shortfall.
2. **Invalid molecules.** One per valid molecule: an error type is drawn uniformly from
   those that apply, then a position; the result must be a structure not used before.
   `carbon_valence_over_4` and `double_bond_on_saturated_carbon` leave a carbon with five
   bonds; `carbon_valence_under_4` and `single_bond_on_unsaturated_carbon` leave one with
   three; `misplaced_double_bond` and `misplaced_hydrogen` leave one carbon with five and
   another with three — and keep the molecular formula and the number of double bonds,
   so no formula-level rule can catch them.
3. **Independent check.** RDKit judges every SMILES: valid rows must sanitise with no
   radical electrons; over-valent rows must fail sanitisation with a valence error;
   under-valent rows must sanitise with radical electrons. Any disagreement stops the build.

Triple bonds, rings, charges and stereochemistry (E/Z) are out of scope.

**Shortcut warning.** `formula` and `n_double_bonds` are metadata, not model inputs: the
identity H = 2C + 2 - 2·(double bonds) flags every edit except the two `misplaced_*`
types (see `unsaturation_rule` under audits). Feed models `smiles`, `condensed` or the
graph columns.

## Configs

- `random`: 80/10/10, grouped by `parent_id` so a molecule and its corruption never
  straddle splits.
- `size_ood`: train and validation (90/10, grouped) have at most
  `size_ood_max_train_carbons` carbons; test has only larger molecules.
""",
)


def _random_split(table: pa.Table, params: ValidityParams) -> dict[str, np.ndarray]:
    groups = table["parent_id"].to_numpy()
    return grouped_random_split(groups, (0.8, 0.1, 0.1), params.seed)


def _size_ood_split(table: pa.Table, params: ValidityParams) -> dict[str, np.ndarray]:
    return threshold_split(
        table["n_carbons"].to_numpy(),
        params.size_ood_max_train_carbons,
        table["parent_id"].to_numpy(),
        validation_fraction=0.1,
        seed=params.seed,
    )


SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("condensed", pa.string()),
        ("smiles", pa.string()),
        ("canonical_smiles", pa.string()),
        ("formula", pa.string()),
        ("n_carbons", pa.int16()),
        ("n_double_bonds", pa.int16()),
        ("atom_h_counts", pa.list_(pa.int8())),
        ("edge_index", pa.list_(pa.list_(pa.int32()))),
        ("bond_orders", pa.list_(pa.int8())),
        ("label", pa.int8()),
        ("error", pa.string()),
        ("parent_id", pa.int64()),
    ]
)


class ValidityBuilder:
    info = INFO
    params_type = ValidityParams
    schemas = MappingProxyType({DEFAULT_GROUP: SCHEMA})
    default_configs = ("random", "size_ood")
    raw_sources = ()
    concurrent_writes = True  # small rows: a row group per writer thread is cheap
    # what splits and audits read: the build keeps these in memory, streams the rest
    key_columns = MappingProxyType(
        {
            DEFAULT_GROUP: (
                "parent_id",
                "n_carbons",
                "condensed",
                "label",
                "formula",
                "n_double_bonds",
            )
        }
    )
    split_definitions = (
        SplitDefinition("random", "80/10/10 random, grouped by parent_id", _random_split),
        SplitDefinition("size_ood", "test = more carbons than train/validation", _size_ood_split),
    )

    def footprint(self, params: ValidityParams, group: str = DEFAULT_GROUP) -> Footprint:
        return Footprint(
            params.n_molecules, MEMORY_BYTES_PER_ROW, DISK_BYTES_PER_ROW, "--n-molecules"
        )

    def rows(
        self, params: ValidityParams, context: BuildContext, group: str = DEFAULT_GROUP
    ) -> Iterator[dict[str, Any]]:
        """The rows of :meth:`batches`, one dict each."""
        for batch in self.batches(params, context, group):
            yield from batch.to_pylist()

    def batches(
        self, params: ValidityParams, context: BuildContext, group: str = DEFAULT_GROUP
    ) -> Iterator[pa.RecordBatch]:
        """Per carbon count, in a worker: pick molecules, corrupt, write, RDKit-check, and
        return Arrow columns; here only ids are added (they need every count's row total)."""
        quotas = carbon_quotas(params.n_molecules // 2, params.max_carbons)
        # Largest molecules first: they take longest, so the pool stays balanced.
        units = [(n, q, params.seed) for n, q in sorted(quotas.items(), reverse=True) if q > 0]
        pa.array(np.zeros(1))  # pyarrow's lazy imports, once here: forked workers inherit them
        with ordered_map(context.workers, context.dask) as imap:
            built = list(
                tqdm(
                    imap(_build_unit, units),
                    total=len(units),
                    desc="validity: molecules, notation, RDKit check",
                    unit="C-count",
                    disable=not context.progress,
                )
            )
        built.reverse()  # rows go by carbon count, smallest first
        n_rows = sum(unit.num_rows for unit, _ in built)
        ids = np.random.default_rng([params.seed, _STREAM_IDS]).permutation(n_rows)
        counts = _Counts()
        offset = 0
        for unit, _ in built:
            own = ids[offset : offset + unit.num_rows]
            offset += unit.num_rows
            valid = unit.column("label").to_numpy(zero_copy_only=False) == 1
            parent = np.arange(unit.num_rows)
            parent[~valid] -= 1  # an invalid row follows the valid molecule it came from
            counts.add(unit)
            yield pa.RecordBatch.from_arrays(
                [pa.array(own), *unit.columns, pa.array(own[parent])], schema=SCHEMA
            )
        picked = zip(units, reversed(built), strict=True)
        shortfall = {n: q - n_valid for (n, q, _), (_, n_valid) in picked}
        context.counts.update(
            counts.summary(
                requested_rows=params.n_molecules,
                shortfall={str(n): s for n, s in shortfall.items() if s},
            )
        )

    def audit(
        self,
        table: pa.Table,
        splits: Mapping[str, Mapping[str, np.ndarray]],
        params: Any,
        group: str = DEFAULT_GROUP,
    ) -> dict[str, Any]:
        """Shortcut baselines per config: what you get without learning valence."""
        text = table["condensed"].to_pylist()
        labels = table["label"].to_numpy()
        by_formula = unsaturation_rule(
            table["formula"].to_pylist(), table["n_double_bonds"].to_numpy()
        )
        report = {}
        for config, split in splits.items():
            report[config] = shortcut_report(text, labels, split["train"], split["test"])
            test = split["test"]
            report[config]["unsaturation_rule"] = round(
                float(np.mean(by_formula[test] == labels[test])), 4
            )
        return {"shortcut_test_accuracy": report}

    def cross_audit(self, tables: Mapping[str, pa.Table]) -> dict[str, Any]:
        return {}  # one group: nothing to compare across


def _build_unit(unit: tuple[int, int, int]) -> tuple[pa.RecordBatch, int]:
    """One carbon count's rows (without ``id``/``parent_id``) and its number of valid ones."""
    with _collector_paused():
        pairs = _pick_unit(unit)
        return _write_and_check(pairs), len(pairs)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a unit runs: its millions of small tuples, lists
    and strings hold no cycles, yet they keep triggering collections (measured: 15-20 % of
    a unit's time). The collector's previous state comes back afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _pick_unit(
    unit: tuple[int, int, int],
) -> list[tuple[Hydrocarbon, Hydrocarbon | None, str | None]]:
    """Valid molecules of one carbon count and one unused corruption of each."""
    n, quota, seed = unit
    rng = np.random.default_rng([seed, _STREAM_MOLECULES, n])
    valid = pick_valid(n, quota, rng)
    used: set[str] = set()
    pairs = []
    for mol in valid:
        error, bad = _pick_corruption(mol, rng, used)
        pairs.append((mol, bad, error))
    return pairs


def _pick_corruption(
    mol: Hydrocarbon, rng: np.random.Generator, used: set[str]
) -> tuple[str | None, Hydrocarbon | None]:
    """A uniformly drawn error type, then position; falls back to any unused variant."""
    sites = generate.corruption_sites(mol)
    errors = list(sites)
    for e in rng.permutation(len(errors)):
        error = errors[e]
        for s in rng.permutation(len(sites[error])):
            bad = generate.corrupt(mol, error, sites[error][s])
            if bad.canonical_key not in used:
                used.add(bad.canonical_key)
                return error, bad
    return None, None


def _write_and_check(
    pairs: list[tuple[Hydrocarbon, Hydrocarbon | None, str | None]],
) -> pa.RecordBatch:
    """Both notations of every molecule, RDKit's verdict on each, as columns (valid row,
    then its invalid partner): any verdict other than the expected one stops the build."""
    columns = _Columns()
    for valid, bad, error in pairs:
        written = write(valid)
        verdict = judge(written.smiles, expected=VALID)
        if verdict.status != VALID:
            raise BuildError(
                f"RDKit rejects generated valid molecule {written.smiles}: {verdict.status}"
            )
        columns.add(written, verdict.canonical_smiles, None)
        if bad is not None and error is not None:
            written = write(bad)
            verdict = judge(written.smiles, expected=_EXPECTED_VERDICT[error])
            if verdict.status != _EXPECTED_VERDICT[error]:
                raise BuildError(
                    f"RDKit says {verdict.status} for {written.smiles}, expected "
                    f"{_EXPECTED_VERDICT[error]} ({error})"
                )
            columns.add(written, verdict.canonical_smiles, error)
    return columns.batch()


class _Columns:
    """Rows gathered as flat lists, turned into Arrow arrays once (no per-row dicts)."""

    def __init__(self) -> None:
        self.condensed: list[str] = []
        self.smiles: list[str] = []
        self.canonical: list[str | None] = []
        self.formula: list[str] = []
        self.n_carbons: list[int] = []
        self.n_double: list[int] = []
        self.h_counts: list[int] = []  # flat; atom offsets from n_carbons
        self.edges: list[int] = []  # flat: per row sources+targets, then targets+sources
        self.orders: list[int] = []  # flat: per row orders twice
        self.n_bonds: list[int] = []
        self.error: list[str | None] = []

    def add(self, w: Written, canonical: str | None, error: str | None) -> None:
        mol = w.mol
        bonds = mol.bonds
        src = [i for i, _, _ in bonds]
        dst = [j for _, j, _ in bonds]
        orders = [o for _, _, o in bonds]
        self.condensed.append(w.condensed)
        self.smiles.append(w.smiles)
        self.canonical.append(canonical)
        self.formula.append(formula(mol))
        self.n_carbons.append(len(mol.h_counts))
        self.n_double.append(orders.count(2))
        self.h_counts.extend(mol.h_counts)
        self.edges.extend(src + dst + dst + src)
        self.orders.extend(orders + orders)
        self.n_bonds.append(len(bonds))
        self.error.append(error)

    def batch(self) -> pa.RecordBatch:
        atoms = np.zeros(len(self.n_carbons) + 1, dtype=np.int32)
        np.cumsum(self.n_carbons, out=atoms[1:])
        directed = np.zeros(len(self.n_bonds) + 1, dtype=np.int32)
        np.cumsum(np.asarray(self.n_bonds, dtype=np.int32) * 2, out=directed[1:])
        inner = np.zeros(2 * len(self.n_bonds) + 1, dtype=np.int32)
        np.cumsum(np.repeat(np.asarray(self.n_bonds, dtype=np.int32) * 2, 2), out=inner[1:])
        edge_lists = pa.ListArray.from_arrays(
            pa.array(inner), pa.array(np.asarray(self.edges, dtype=np.int32))
        )
        labels = np.fromiter((e is None for e in self.error), dtype=np.int8, count=len(self.error))
        return pa.RecordBatch.from_arrays(
            [
                pa.array(self.condensed, pa.string()),
                pa.array(self.smiles, pa.string()),
                pa.array(self.canonical, pa.string()),
                pa.array(self.formula, pa.string()),
                pa.array(np.asarray(self.n_carbons, dtype=np.int16)),
                pa.array(np.asarray(self.n_double, dtype=np.int16)),
                pa.ListArray.from_arrays(
                    pa.array(atoms), pa.array(np.asarray(self.h_counts, dtype=np.int8))
                ),
                pa.ListArray.from_arrays(
                    pa.array(np.arange(len(self.n_bonds) + 1, dtype=np.int32) * 2), edge_lists
                ),
                pa.ListArray.from_arrays(
                    pa.array(directed), pa.array(np.asarray(self.orders, dtype=np.int8))
                ),
                pa.array(labels),
                pa.array(self.error, pa.string()),
            ],
            schema=_UNIT_SCHEMA,
        )


_UNIT_SCHEMA = pa.schema([f for f in SCHEMA if f.name not in ("id", "parent_id")])


class _Counts:
    def __init__(self) -> None:
        self.labels = {0: 0, 1: 0}
        self.errors: dict[str, int] = {e: 0 for e in generate.ERROR_TYPES}
        self.valid_by_carbons: dict[int, int] = {}
        self.unpaired = 0

    def add(self, unit: pa.RecordBatch) -> None:
        """Count one carbon count's rows (valid rows, each followed by its partner, if any)."""
        labels = unit.column("label").to_numpy(zero_copy_only=False)
        n_valid = int(labels.sum())
        self.labels[1] += n_valid
        self.labels[0] += len(labels) - n_valid
        for error in unit.column("error").drop_null().to_pylist():
            self.errors[error] += 1
        if n_valid:
            n = int(unit.column("n_carbons")[0].as_py())
            self.valid_by_carbons[n] = self.valid_by_carbons.get(n, 0) + n_valid
        self.unpaired += 2 * n_valid - len(labels)

    def summary(self, requested_rows: int, shortfall: dict[str, int]) -> dict[str, Any]:
        return {
            "requested_rows": requested_rows,
            "rows": self.labels[0] + self.labels[1],
            "valid": self.labels[1],
            "invalid": self.labels[0],
            "invalid_by_error": self.errors,
            "valid_by_carbons": {str(k): v for k, v in sorted(self.valid_by_carbons.items())},
            "exhaustive_up_to_carbons": EXHAUSTIVE_MAX_CARBONS,
            "sampling_shortfall_by_carbons": shortfall,
            "valid_without_invalid_partner": self.unpaired,
            "rdkit_checked": self.labels[0] + self.labels[1],
        }
