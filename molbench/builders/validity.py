"""The ``validity`` dataset: acyclic hydrocarbons labelled valid or invalid by carbon valence.

Every invalid molecule is a single-edit near-miss of a valid one (its ``parent_id``), with
the same number of carbons, so neither size nor "looks odd" separates the classes: a model
has to count bonds. Generated offline from a seed; this is molbench's embedded default.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
from molbench.chem.hydrocarbon import Hydrocarbon, formula
from molbench.chem.notation import Written, write
from molbench.chem.rdkit_oracle import OVER_VALENCE, UNDER_VALENCE, VALID, judge_many
from molbench.errors import BuildError, ParameterError
from molbench.parallel import ordered_map
from molbench.shortcuts import shortcut_report, unsaturation_rule
from molbench.splits import grouped_random_split, threshold_split

# Measured (1 worker): peak RSS 411 MB at 20,000 rows and 750 MB at 80,000, i.e. ~5.7 kB a
# row; Parquet ~150 B a row. Rounded down: only builds that cannot fit are refused.
MEMORY_BYTES_PER_ROW = 5_000
DISK_BYTES_PER_ROW = 140
EXHAUSTIVE_MAX_CARBONS = 10  # every isomer is enumerated up to here (4,206 at C10)
SAMPLING_ATTEMPTS_PER_MOLECULE = 30
CHUNK = 500  # molecules per unit of parallel work in the write-and-check phase
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
        """Pick molecules per carbon count, corrupt them, then write and RDKit-check in chunks."""
        quotas = carbon_quotas(params.n_molecules // 2, params.max_carbons)
        # Largest molecules first: they take longest, so the pool stays balanced.
        units = [(n, q, params.seed) for n, q in sorted(quotas.items(), reverse=True) if q > 0]
        with ordered_map(context.workers, context.dask) as imap:
            picked = list(
                tqdm(
                    imap(_pick_unit, units),
                    total=len(units),
                    desc="validity: choosing molecules",
                    unit="C-count",
                    disable=not context.progress,
                )
            )
            pairs = [pair for unit in reversed(picked) for pair in unit]  # by carbon count
            chunks = [pairs[i : i + CHUNK] for i in range(0, len(pairs), CHUNK)]
            bar = tqdm(
                total=len(pairs),
                desc="validity: writing + RDKit check",
                unit="mol",
                disable=not context.progress,
            )
            written: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
            for chunk_rows in imap(_write_and_check, chunks):
                written.extend(chunk_rows)
                bar.update(len(chunk_rows))
            bar.close()
        n_rows = sum(1 + (invalid is not None) for _, invalid in written)
        ids = np.random.default_rng([params.seed, _STREAM_IDS]).permutation(n_rows)
        ids_iter = iter(ids.tolist())
        counts = _Counts()
        for valid, invalid in written:
            valid["id"] = valid["parent_id"] = next(ids_iter)
            counts.add(valid)
            yield valid
            if invalid is not None:
                invalid["id"] = next(ids_iter)
                invalid["parent_id"] = valid["id"]
                counts.add(invalid)
                yield invalid
        shortfall = {n: q - len(unit) for (n, q, _), unit in zip(units, picked, strict=True)}
        context.counts.update(
            counts.summary(
                requested_rows=params.n_molecules,
                shortfall={str(n): s for n, s in shortfall.items() if s},
                unpaired=sum(1 for _, invalid in written if invalid is None),
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


def carbon_quotas(n_valid: int, max_carbons: int) -> dict[int, int]:
    """Equal valid-molecule shares per carbon count, capped by how many isomers exist."""
    capacity = {
        n: len(generate.all_isomers(n)) if n <= EXHAUSTIVE_MAX_CARBONS else n_valid
        for n in range(1, max_carbons + 1)
    }
    quotas = {n: 0 for n in capacity}
    remaining = n_valid
    open_counts = sorted(capacity, key=lambda n: capacity[n])
    while open_counts and remaining > 0:
        share, extra = divmod(remaining, len(open_counts))
        n = open_counts[0]
        if capacity[n] <= share:
            quotas[n] = capacity[n]
            remaining -= capacity[n]
            open_counts.pop(0)
            continue
        for i, n in enumerate(sorted(open_counts)):
            # the remainder goes to the largest counts, which have the most isomers
            quotas[n] = share + (1 if i >= len(open_counts) - extra else 0)
        break
    return quotas


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


def pick_valid(n: int, quota: int, rng: np.random.Generator) -> list[Hydrocarbon]:
    """``quota`` distinct valid isomers with ``n`` carbons: drawn from all of them up to
    ``EXHAUSTIVE_MAX_CARBONS``, sampled (labelled tree + uniform double bonds) above."""
    if n <= EXHAUSTIVE_MAX_CARBONS:
        isomers = generate.all_isomers(n)
        chosen = np.sort(rng.choice(len(isomers), size=min(quota, len(isomers)), replace=False))
        return [isomers[i] for i in chosen]
    found: dict[str, Hydrocarbon] = {}
    for _ in range(quota * SAMPLING_ATTEMPTS_PER_MOLECULE):
        mol = generate.random_isomer(n, rng)
        found.setdefault(mol.canonical_key, mol)
        if len(found) == quota:
            break
    return list(found.values())


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
) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    written = [(write(valid), write(bad) if bad else None, error) for valid, bad, error in pairs]
    smiles = [w.smiles for v, b, _ in written for w in (v, b) if w is not None]
    verdicts = iter(judge_many(smiles))
    out = []
    for valid, bad, error in written:
        verdict = next(verdicts)
        if verdict.status != VALID:
            raise BuildError(
                f"RDKit rejects generated valid molecule {valid.smiles}: {verdict.status}"
            )
        valid_row = _row(valid, verdict.canonical_smiles, 1, None)
        bad_row = None
        if bad is not None:
            verdict = next(verdicts)
            if verdict.status != _EXPECTED_VERDICT[error]:
                raise BuildError(
                    f"RDKit says {verdict.status} for {bad.smiles}, expected "
                    f"{_EXPECTED_VERDICT[error]} ({error})"
                )
            bad_row = _row(bad, verdict.canonical_smiles, 0, error)
        out.append((valid_row, bad_row))
    return out


def _row(w: Written, canonical: str | None, label: int, error: str | None) -> dict[str, Any]:
    mol = w.mol
    src = [i for i, _, _ in mol.bonds]
    dst = [j for _, j, _ in mol.bonds]
    orders = [o for _, _, o in mol.bonds]
    return {
        "condensed": w.condensed,
        "smiles": w.smiles,
        "canonical_smiles": canonical,
        "formula": formula(mol),
        "n_carbons": mol.n_carbons,
        "n_double_bonds": mol.n_double_bonds,
        "atom_h_counts": list(mol.h_counts),
        "edge_index": [src + dst, dst + src],
        "bond_orders": orders + orders,
        "label": label,
        "error": error,
    }


class _Counts:
    def __init__(self) -> None:
        self.labels = {0: 0, 1: 0}
        self.errors: dict[str, int] = {e: 0 for e in generate.ERROR_TYPES}
        self.valid_by_carbons: dict[int, int] = {}

    def add(self, row: dict[str, Any]) -> None:
        self.labels[row["label"]] += 1
        if row["error"]:
            self.errors[row["error"]] += 1
        else:
            n = row["n_carbons"]
            self.valid_by_carbons[n] = self.valid_by_carbons.get(n, 0) + 1

    def summary(
        self, requested_rows: int, shortfall: dict[str, int], unpaired: int
    ) -> dict[str, Any]:
        return {
            "requested_rows": requested_rows,
            "rows": self.labels[0] + self.labels[1],
            "valid": self.labels[1],
            "invalid": self.labels[0],
            "invalid_by_error": self.errors,
            "valid_by_carbons": {str(k): v for k, v in sorted(self.valid_by_carbons.items())},
            "exhaustive_up_to_carbons": EXHAUSTIVE_MAX_CARBONS,
            "sampling_shortfall_by_carbons": shortfall,
            "valid_without_invalid_partner": unpaired,
            "rdkit_checked": self.labels[0] + self.labels[1],
        }
