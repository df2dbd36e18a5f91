"""The ``reactions`` dataset: USPTO-MIT and USPTO-15K forward reaction prediction (Jin et al. 2017).

The published splits are kept exactly (counts asserted), every reaction is kept — those
RDKit cannot sanitise are flagged, unreadable lines are quarantined with a reason — and
each row carries model-ready columns (token ids over the shared vocabulary, a "one big
graph" of all precursors with its edit labels) so GPU recipes need no RDKit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from molbench import sources
from molbench.builders.base import BuildContext, DatasetInfo, Quarantined, SplitDefinition
from molbench.chem import reaction
from molbench.chem.reaction_smiles import forget_if_full
from molbench.chem.tokens import VOCAB_VERSION, load_vocabulary
from molbench.errors import BuildError, ParameterError
from molbench.parallel import ordered_stream
from molbench.splits import SPLIT_NAMES, by_name, grouped_like, parse_split_names

CHUNK = 250  # reactions per unit of parallel work

MIT_URL = "https://github.com/connorcoley/rexgen_direct/raw/master/rexgen_direct/data/"
USPTO_15K_URL = "https://github.com/wengong-jin/nips17-rexgen/raw/master/USPTO-15K/data.zip"
USPTO_15K_SHA256 = "66b4f5cb6b5de4bd7c3d72bdb7fa0c5073c4b97984109f0dae0b10997a9aa723"

# group -> split -> the upstream file holding it (module data: tests swap in fixtures)
SOURCES: dict[str, dict[str, sources.SourceFile]] = {
    "uspto_mit": {
        "train": sources.SourceFile(
            "uspto_mit",
            "train.txt.tar.gz",
            MIT_URL + "train.txt.tar.gz",
            git_blob="b0b0c7cd965a9ec85d07125da9315d5a6b52daf6",
            member="train.txt",
            local_names=("train.txt", "train.txt.gz"),
            description="USPTO-MIT train split, 409,035 reactions",
        ),
        "validation": sources.SourceFile(
            "uspto_mit",
            "valid.txt.tar.gz",
            MIT_URL + "valid.txt.tar.gz",
            sha256="63efb7a1a0e33182db71ce4c3c8ee4260f5e69225d3bf21dfba987458ff40927",
            member="valid.txt",
            content_sha256="1a1b4fd51a2980aebcf89b79a4f300536176668264417653f5e3e493df05725c",
            local_names=("valid.txt", "valid.txt.gz"),
            description="USPTO-MIT valid split, 30,000 reactions",
        ),
        "test": sources.SourceFile(
            "uspto_mit",
            "test.txt.tar.gz",
            MIT_URL + "test.txt.tar.gz",
            sha256="5c94cf795ea38548d73e010a382ae6f164c0757fc5d2aa0550e82cbe63200d0c",
            member="test.txt",
            content_sha256="a376e1a8ade15ac8596c5696eb049c904f4034d3e00f3bb2098b11d0b2afdc09",
            local_names=("test.txt", "test.txt.gz"),
            description="USPTO-MIT test split, 40,000 reactions",
        ),
    },
    "uspto_15k": {
        split: sources.SourceFile(
            "uspto_15k",
            "data.zip",
            USPTO_15K_URL,
            sha256=USPTO_15K_SHA256,
            member=f"data/{member}.txt",
            description=f"USPTO-15K {member} split",
        )
        for split, member in (("train", "train"), ("validation", "valid"), ("test", "test"))
    },
}
PUBLISHED_COUNTS: dict[str, dict[str, int]] = {
    "uspto_mit": {"train": 409_035, "validation": 30_000, "test": 40_000},
    "uspto_15k": {"train": 10_500, "validation": 1_500, "test": 3_000},
}
_ID_PREFIX = {"uspto_mit": "mit", "uspto_15k": "15k"}
_PARSERS = {"uspto_mit": reaction.parse_mit_line, "uspto_15k": reaction.parse_15k_line}


@dataclass(frozen=True)
class ReactionsParams:
    """Build parameters; every field is a ``molbench build reactions --option``."""

    splits: str = field(
        default="train,validation,test",
        metadata={
            "help": "Published splits to read, comma-separated. 'validation,test' builds an "
            "evaluation-only dataset (no train file needed)."
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed of the scaffold split."})

    def __post_init__(self) -> None:
        parse_split_names(self.splits)
        if self.seed < 0:
            raise ParameterError(f"--seed must be >= 0, got {self.seed}")

    @property
    def split_list(self) -> list[str]:
        return parse_split_names(self.splits)


EDIT = pa.struct(
    [
        ("atom_a", pa.int32()),
        ("atom_b", pa.int32()),
        ("new_order", pa.float32()),
        ("old_order", pa.float32()),
    ]
)
TOKENS = pa.list_(pa.int16())
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("published_split", pa.string()),
        ("source_line", pa.int32()),
        ("mapped_rxn", pa.string()),
        ("edits", pa.list_(EDIT)),
        ("reactants", pa.string()),
        ("reagents", pa.string()),
        ("products", pa.string()),
        ("precursors_mixed", pa.string()),
        ("rdkit_sanitizes", pa.bool_()),
        ("sanitize_error", pa.string()),
        ("edits_reproduce_product", pa.bool_()),
        ("edit_check_error", pa.string()),
        ("product_inchikey", pa.string()),
        ("product_scaffold", pa.string()),
        ("reaction_key", pa.string()),
        ("reaction_in_train", pa.bool_()),
        ("product_in_train", pa.bool_()),
        ("src_tokens_separated", TOKENS),
        ("src_tokens_mixed", TOKENS),
        ("tgt_tokens", TOKENS),
        ("n_atoms", pa.int32()),
        ("atom_features", pa.list_(pa.list_(pa.int16()))),
        ("edge_index", pa.list_(pa.list_(pa.int32()))),
        ("bond_orders", pa.list_(pa.float32())),
        ("component", pa.list_(pa.int16())),
        ("atom_map", pa.list_(pa.int32())),
        ("in_reactant", pa.list_(pa.bool_())),
        ("edit_index", pa.list_(pa.list_(pa.int32()))),
        ("edit_orders", pa.list_(pa.float32())),
    ]
)

INFO = DatasetInfo(
    name="reactions",
    version="1.0.0",
    title="USPTO-MIT and USPTO-15K forward reaction prediction",
    summary=(
        "Atom-mapped reactions from US patents (Lowe's text-mined USPTO set) as curated by "
        "Jin et al. (2017): **USPTO-MIT** (409,035 / 30,000 / 40,000 reactions, the standard "
        "benchmark of WLDN, Molecular Transformer, Chemformer, LocalTransform, ...) and "
        "**USPTO-15K** (10,500 / 1,500 / 3,000). The published splits are kept exactly. "
        "Each reaction is canonicalised with RDKit, separated into reactants and reagents, "
        "tokenised over molbench's shared SMILES vocabulary and given as one graph of all "
        "precursors with its reaction-centre edits."
    ),
    license="other",
    citation=(
        "@inproceedings{jin2017predicting,\n  title = {Predicting Organic Reaction Outcomes "
        "with Weisfeiler-Lehman Network},\n  author = {Jin, Wengong and Coley, Connor W. and "
        "Barzilay, Regina and Jaakkola, Tommi},\n  booktitle = {Advances in Neural Information "
        "Processing Systems},\n  year = {2017}\n}\n"
        "@misc{lowe2017uspto,\n  title = {Chemical reactions from US patents (1976-Sep2016)},\n"
        "  author = {Lowe, Daniel},\n  year = {2017},\n  doi = {10.6084/m9.figshare.5104873}\n}"
    ),
    columns={
        "id": "Stable row id: set, published split and line number in the upstream file "
        "(`mit_test_000001`).",
        "published_split": "The split the upstream file puts the reaction in.",
        "source_line": "1-based line number in the upstream file.",
        "mapped_rxn": "The atom-mapped reaction SMILES exactly as published (reagents mixed "
        "into the left side).",
        "edits": "Reaction-centre bond changes: atom-map numbers `atom_a < atom_b`, the bond "
        "order in the product (`new_order`, 0 = no bond, 1.5 aromatic) and in the reactants.",
        "reactants": "Canonical RDKit SMILES (no atom maps) of the precursor molecules that "
        "contribute at least one atom to the product, sorted, '.'-joined.",
        "reagents": "The other precursor molecules (solvents, catalysts, ...), same form.",
        "products": "Canonical SMILES of the product side (the prediction target).",
        "precursors_mixed": "All precursor molecules together (the 'mixed' task input).",
        "rdkit_sanitizes": "False for reactions current RDKit cannot sanitise (e.g. "
        "pentavalent carbocations); kept, with canonical forms from the unsanitised graph.",
        "sanitize_error": "Why sanitisation failed ('' when it did not).",
        "edits_reproduce_product": "Applying `edits` to the mapped reactants yields "
        "`products` (the graph-edit step of WLDN-style models).",
        "edit_check_error": "Why the edit check failed ('' when it passed).",
        "product_inchikey": "InChIKey of the product side (audits).",
        "product_scaffold": "Bemis-Murcko scaffold of the product ('' for acyclic products).",
        "reaction_key": "`reactants>>products` canonical: the structure key of the audits.",
        "reaction_in_train": "Test/validation rows: the same reaction (reaction_key) is in "
        "train. Null when the build has no train split.",
        "product_in_train": "Test/validation rows: the same product (InChIKey) is a train "
        "product. Null when the build has no train split.",
        "src_tokens_separated": "Token ids of `reactants>reagents` (Molecular Transformer's "
        "separated input), with <bos>/<eos>, over the shared SMILES vocabulary v"
        f"{VOCAB_VERSION}.",
        "src_tokens_mixed": "Token ids of `precursors_mixed` (the mixed input).",
        "tgt_tokens": "Token ids of `products`.",
        "n_atoms": "Atoms in the precursor graph.",
        "atom_features": "Per precursor atom: " + ", ".join(reaction.ATOM_FEATURES) + ".",
        "edge_index": "Two lists [sources, targets]; each bond once (source < target).",
        "bond_orders": "Order of each bond in `edge_index` (1, 1.5, 2, 3).",
        "component": "Per atom: which precursor molecule (disjoint subgraph) it is in.",
        "atom_map": "Per atom: its atom-map number in `mapped_rxn` (0 = unmapped).",
        "in_reactant": "Per atom: its molecule is a reactant (not a reagent).",
        "edit_index": "Two lists: graph atom indices of each edit, aligned with `edits`.",
        "edit_orders": "New bond order of each edit (the label of reaction-centre models).",
    },
    structure_column="reaction_key",
    notes="""
## Sources

- **USPTO-MIT**: `train.txt.tar.gz`, `valid.txt.tar.gz`, `test.txt.tar.gz` from
  `connorcoley/rexgen_direct` (`rexgen_direct/data/`). Valid and test are pinned by sha256,
  train by its git blob id (`git hash-object`). One reaction per line: atom-mapped reaction
  SMILES, a space, the reaction-centre atom-map pairs `a-b;c-d` without bond orders — the
  new orders are read from the mapped product.
- **USPTO-15K**: `data.zip` from `wengong-jin/nips17-rexgen` (MIT licence), members
  `data/{train,valid,test}.txt`: mapped reactants `>>` an *unmapped* product, then four
  `;`-separated edit groups. The product's atom mapping is recovered by applying the
  recorded edits to the mapped reactants and checking the result is the recorded product.
- The reactions themselves come from D. Lowe's text-mined USPTO reactions (CC0, figshare
  10.6084/m9.figshare.5104873). The `rexgen_direct` repository is GPL-3.0 and states no
  separate data licence; USPTO-15K's repository is MIT. Check before redistributing.

## How rows are made

- Every published line becomes a row, in the published split, with its line number in the
  id. Counts are asserted against the published ones (409,035 / 30,000 / 40,000 and
  10,500 / 1,500 / 3,000); a mismatch fails the build.
- A reaction RDKit cannot sanitise is **kept**: `rdkit_sanitizes` is false and its
  canonical forms come from the unsanitised graph. Lines that cannot be read at all are
  quarantined in `quarantine/<group>.jsonl` with the reason and still counted.
- Reactants vs reagents: a precursor molecule is a reactant when at least one of its
  mapped atoms appears in the product (for USPTO-15K, in the product recovered from the
  edits). This is the "separated" task; `precursors_mixed` is the "mixed" one.
- `--splits validation,test` builds an evaluation-only dataset on purpose; the card and the
  manifest then list the absent split and how to get it.

## Configs

- `uspto_mit`: the published USPTO-MIT split.
- `uspto_mit_scaffold`: the same 479,035 reactions regrouped by the product's Bemis-Murcko
  scaffold — scaffold families larger than half the test set stay in train, the rest are
  shuffled with `seed` and poured into test, then validation, until each holds as many
  rows as the published split. No product scaffold is in two splits. Built when all
  three USPTO-MIT files are present.
- `uspto_15k`: the published USPTO-15K split.

## Leakage

The published splits are kept as published even where they overlap: the audits count
reactions in two splits (same `reaction_key`), test products that are train products and
test reactant sets seen in train, and — across sets — USPTO-15K train reactions that are
USPTO-MIT validation/test reactions. `reaction_in_train` / `product_in_train` mark the
overlapping rows, so results can also be reported on the clean subset (the evaluator does).
""",
)


def _published(table: pa.Table, params: ReactionsParams) -> dict[str, np.ndarray]:
    return by_name(table["published_split"].to_numpy(zero_copy_only=False))


def _scaffold(table: pa.Table, params: ReactionsParams) -> dict[str, np.ndarray]:
    groups = table["product_scaffold"].to_numpy(zero_copy_only=False).astype(str)
    return grouped_like(groups, _published(table, params), params.seed)


class ReactionsBuilder:
    info = INFO
    params_type = ReactionsParams
    schemas = MappingProxyType({"uspto_mit": SCHEMA, "uspto_15k": SCHEMA})
    split_definitions = (
        SplitDefinition(
            "uspto_mit",
            "USPTO-MIT as published (Jin et al. 2017)",
            _published,
            leak_free=False,
            group="uspto_mit",
        ),
        SplitDefinition(
            "uspto_mit_scaffold",
            "USPTO-MIT regrouped by product Bemis-Murcko scaffold, published sizes, seeded",
            _scaffold,
            group="uspto_mit",
            requires_splits=SPLIT_NAMES,
        ),
        SplitDefinition(
            "uspto_15k",
            "USPTO-15K as published (Jin et al. 2017)",
            _published,
            leak_free=False,
            group="uspto_15k",
        ),
    )
    default_configs = ("uspto_mit", "uspto_15k")
    cross_audit_columns = ("published_split", "reaction_key")
    raw_sources = ("uspto_mit", "uspto_15k")
    # what splits, derive and audits read: the build keeps these in memory, streams the rest
    key_columns = MappingProxyType(
        dict.fromkeys(
            ("uspto_mit", "uspto_15k"),
            (
                "published_split",
                "product_scaffold",
                "reaction_key",
                "product_inchikey",
                "reactants",
            ),
        )
    )

    def planned_splits(self, params: ReactionsParams, group: str) -> list[str]:
        """The published splits a build reads (what ``--splits`` asks for)."""
        return params.split_list

    def parameters_for(self, params: ReactionsParams, group: str) -> dict[str, Any]:
        """The seed only shapes the scaffold split of USPTO-MIT."""
        chosen = {"splits": ",".join(s for s in SPLIT_NAMES if s in params.split_list)}
        return chosen | ({"seed": params.seed} if group == "uspto_mit" else {})

    def rows(
        self, params: ReactionsParams, context: BuildContext, group: str
    ) -> Iterator[dict[str, Any]]:
        """The rows of :meth:`batches`, one dict each."""
        for batch in self.batches(params, context, group):
            yield from batch.to_pylist()

    def batches(
        self, params: ReactionsParams, context: BuildContext, group: str
    ) -> Iterator[pa.RecordBatch]:
        """Resolve every requested split's file first (fail fast), then stream its lines.

        Workers return Arrow columns, not a dict per row: the client (the one process
        every row passes through, however many local or Dask workers) only counts and
        spills them, so it does not cap the build's throughput at scale. (Measured on 2,000
        USPTO-MIT rows: pickling and unpickling the dicts cost 131 µs a row, the batch 3.)"""
        wanted = [s for s in SPLIT_NAMES if s in params.split_list]
        # USPTO-15K's three splits are members of one zip, checked (and warned about) once
        by_file: dict[tuple[str, str, str | None], sources.ResolvedSource] = {}
        resolved = {}
        for split in wanted:
            file = SOURCES[group][split]
            key = (file.source, file.filename, file.content_sha256)
            if key not in by_file:
                by_file[key] = sources.resolve_split(
                    file,
                    split,
                    context.source_dir,
                    allow_unverified=context.allow_unverified,
                    progress=context.progress,
                )
            resolved[split] = dataclasses.replace(by_file[key], file=file)
        for split in SPLIT_NAMES:
            if split not in wanted:
                file = SOURCES[group][split]
                context.absent_splits[split] = (
                    f"not requested (--splits {params.splits}); get {file.filename} from "
                    f"{file.url} into <raw root>/{file.source}/ and rebuild with "
                    "--splits train,validation,test --force"
                )
        context.sources.extend(sources.record(r) for r in resolved.values())
        counts = _Counts()
        bar = tqdm(
            total=sum(PUBLISHED_COUNTS[group][s] for s in wanted),
            desc=f"reactions: {group}",
            unit="rxn",
            unit_scale=True,
            disable=not context.progress,
        )
        with ordered_stream(context.workers, client=context.dask) as stream:
            for split in wanted:
                lines = _chunks(group, split, resolved[split])
                seen = 0
                for done in stream(_process_chunk, lines):
                    seen += done.batch.num_rows + len(done.quarantined)
                    context.quarantine.extend(done.quarantined)
                    counts.quarantined[split] += len(done.quarantined)
                    counts.merge(split, done.counts)
                    if done.batch.num_rows:
                        yield done.batch
                    bar.update(done.batch.num_rows + len(done.quarantined))
                expected = PUBLISHED_COUNTS[group][split]
                if seen != expected:
                    raise BuildError(
                        f"{SOURCES[group][split].label} has {seen:,} lines, the published "
                        f"{split} split has {expected:,}: wrong or damaged file, nothing written"
                    )
        bar.close()
        context.counts.update(counts.summary())

    def derive(
        self, keys: pa.Table, params: ReactionsParams, group: str
    ) -> dict[str, pa.Array | pa.ChunkedArray]:
        """Mark validation/test rows whose reaction or product is also in train."""
        is_train = pc.equal(keys["published_split"], "train")
        if not pc.any(is_train).as_py():
            nulls = pa.nulls(keys.num_rows, pa.bool_())
            return {"reaction_in_train": nulls, "product_in_train": nulls}
        derived = {}
        for column, key in (
            ("reaction_in_train", "reaction_key"),
            ("product_in_train", "product_inchikey"),
        ):
            train_keys = pc.unique(pc.filter(keys[key], is_train))
            seen = pc.is_in(keys[key], value_set=train_keys)
            derived[column] = pc.and_(pc.invert(is_train), seen)
        return derived

    def audit(
        self,
        table: pa.Table,
        splits: Mapping[str, Mapping[str, np.ndarray]],
        params: Any,
        group: str,
    ) -> dict[str, Any]:
        """Overlaps that matter for forward prediction, per config and split pair."""
        keys = {
            name: np.asarray(table[name].to_pylist(), dtype=object)
            for name in ("reaction_key", "product_inchikey", "reactants")
        }
        report: dict[str, Any] = {}
        for config, split in splits.items():
            if "train" not in split:
                report[config] = {
                    "note": "no train split in this build: overlaps with train cannot be measured"
                }
                continue
            train = {k: set(v[split["train"]].tolist()) for k, v in keys.items()}
            named = {
                "reaction_in_train": "reaction_key",
                "product_in_train": "product_inchikey",
                "reactant_set_in_train": "reactants",
            }
            report[config] = {
                held_out: {"rows": len(split[held_out])}
                | {name: _in(keys[key][split[held_out]], train[key]) for name, key in named.items()}
                for held_out in ("validation", "test")
                if held_out in split
            }
        return {"overlap_with_train": report}

    def cross_audit(self, tables: Mapping[str, pa.Table]) -> dict[str, Any]:
        """A model trained on one set and scored on the other: how many test reactions it saw."""
        if not {"uspto_mit", "uspto_15k"} <= set(tables):
            return {}
        report = {}
        for train_group, test_group in (("uspto_15k", "uspto_mit"), ("uspto_mit", "uspto_15k")):
            train = _keys_in_split(tables[train_group], "train")
            if not train:
                continue
            for split in ("validation", "test"):
                held = _key_list_in_split(tables[test_group], split)
                if held:
                    report[f"{train_group}/train reactions in {test_group}/{split}"] = _in(
                        np.asarray(held, dtype=object), train
                    )
        return {"reactions_shared_across_sets": report}


def _chunks(
    group: str, split: str, resolved: sources.ResolvedSource
) -> Iterator[tuple[str, str, str, list[tuple[int, str]]]]:
    chunk: list[tuple[int, str]] = []
    for number, text in sources.read_lines(resolved):
        chunk.append((number, text))
        if len(chunk) == CHUNK:
            yield group, split, resolved.file.label, chunk
            chunk = []
    if chunk:
        yield group, split, resolved.file.label, chunk


class ChunkResult(NamedTuple):
    """What a worker returns for a chunk of lines: its rows as columns, its quarantined
    lines and its counts (merged by the client in chunk order)."""

    batch: pa.RecordBatch
    quarantined: list[Quarantined]
    counts: _Counts


def _process_chunk(unit: tuple[str, str, str, list[tuple[int, str]]]) -> ChunkResult:
    group, split, label, lines = unit
    parse = _PARSERS[group]
    vocab = load_vocabulary()
    rows: list[dict[str, Any]] = []
    quarantined: list[Quarantined] = []
    counts = _Counts()
    for number, text in lines:
        try:
            raw = parse(text)
            record = reaction.process(raw)
        except reaction.ReactionParseError as e:
            quarantined.append(Quarantined(label, number, str(e), text))
            continue
        row = _row(group, split, number, raw, record, vocab)
        counts.add(split, row)
        rows.append(row)
    schema = ReactionsBuilder.schemas[group]
    return ChunkResult(pa.RecordBatch.from_pylist(rows, schema=schema), quarantined, counts)


def _row(
    group: str, split: str, number: int, raw: Any, record: dict[str, Any], vocab: Any
) -> dict[str, Any]:
    tokens, unknown = _token_columns(record, vocab, _MOLECULE_TOKENS)
    edits = [
        {"atom_a": a, "atom_b": b, "new_order": new, "old_order": old}
        for (a, b, new), old in zip(record["edits"], record["old_orders"], strict=True)
    ]
    return {
        "id": f"{_ID_PREFIX[group]}_{split}_{number:06d}",
        "published_split": split,
        "source_line": number,
        "mapped_rxn": raw.mapped_rxn,
        "edits": edits,
        **{k: record[k] for k in _RECORD_COLUMNS},
        "reaction_in_train": None,
        "product_in_train": None,
        **tokens,
        "_unknown_tokens": unknown,
    }


# Per worker process: token ids of each molecule seen (reagents and solvents repeat across
# thousands of reactions). Ids of a joined SMILES are the ids of its molecules with the
# '.' / '>' ids between them: those two tokens never merge with a neighbour.
_MOLECULE_TOKENS: dict[str, tuple[list[int], int]] = {}


def _token_columns(
    record: dict[str, Any], vocab: Any, cache: dict[str, tuple[list[int], int]]
) -> tuple[dict[str, list[int]], int]:
    """The three token columns of a record, and how many of their tokens are ``<unk>``."""
    forget_if_full(cache)
    dot, arrow = vocab.index["."], vocab.index[">"]
    unknown = 0

    def ids(smiles: str) -> list[int]:
        nonlocal unknown
        out: list[int] = []
        for k, molecule in enumerate(smiles.split(".") if smiles else ()):
            if molecule not in cache:
                encoded = vocab.encode(molecule, add_bos_eos=False)
                cache[molecule] = (encoded, vocab.n_unknown(encoded))
            molecule_ids, n_unknown = cache[molecule]
            if k:
                out.append(dot)
            out.extend(molecule_ids)
            unknown += n_unknown
        return out

    separated = ids(record["reactants"])
    if record["reagents"]:
        separated += [arrow, *ids(record["reagents"])]
    columns = {
        "src_tokens_separated": separated,
        "src_tokens_mixed": ids(record["precursors_mixed"]),
        "tgt_tokens": ids(record["products"]),
    }
    bos, eos = vocab.bos_id, vocab.eos_id
    return {name: [bos, *values, eos] for name, values in columns.items()}, unknown


_RECORD_COLUMNS = (
    "reactants",
    "reagents",
    "products",
    "precursors_mixed",
    "rdkit_sanitizes",
    "sanitize_error",
    "edits_reproduce_product",
    "edit_check_error",
    "product_inchikey",
    "product_scaffold",
    "reaction_key",
    "n_atoms",
    "atom_features",
    "edge_index",
    "bond_orders",
    "component",
    "atom_map",
    "in_reactant",
    "edit_index",
    "edit_orders",
)


class _Counts:
    def __init__(self) -> None:
        self.rows = dict.fromkeys(SPLIT_NAMES, 0)
        self.quarantined = dict.fromkeys(SPLIT_NAMES, 0)
        self.unsanitizable = dict.fromkeys(SPLIT_NAMES, 0)
        self.edit_mismatch = dict.fromkeys(SPLIT_NAMES, 0)
        self.unknown_tokens = 0
        self.rows_with_unknown_tokens = 0
        self.examples: dict[str, list[str]] = {"unsanitizable": [], "edit_mismatch": []}

    def add(self, split: str, row: dict[str, Any]) -> None:
        self.rows[split] += 1
        unknown = row.pop("_unknown_tokens")
        self.unknown_tokens += unknown
        self.rows_with_unknown_tokens += unknown > 0
        if not row["rdkit_sanitizes"]:
            self.unsanitizable[split] += 1
            _note(self.examples["unsanitizable"], f"{row['id']}: {row['sanitize_error']}")
        if not row["edits_reproduce_product"]:
            self.edit_mismatch[split] += 1
            _note(self.examples["edit_mismatch"], f"{row['id']}: {row['edit_check_error']}")

    def merge(self, split: str, other: _Counts) -> None:
        """Add a chunk's counts of ``split`` (examples kept in order, up to the limit)."""
        self.rows[split] += other.rows[split]
        self.unsanitizable[split] += other.unsanitizable[split]
        self.edit_mismatch[split] += other.edit_mismatch[split]
        self.unknown_tokens += other.unknown_tokens
        self.rows_with_unknown_tokens += other.rows_with_unknown_tokens
        for kind, examples in other.examples.items():
            for text in examples:
                _note(self.examples[kind], text)

    def summary(self) -> dict[str, Any]:
        present = [s for s in SPLIT_NAMES if self.rows[s] or self.quarantined[s]]
        return {
            "rows": {s: self.rows[s] for s in present},
            "quarantined": {s: self.quarantined[s] for s in present},
            "rdkit_unsanitizable": {s: self.unsanitizable[s] for s in present},
            "edits_do_not_reproduce_product": {s: self.edit_mismatch[s] for s in present},
            "vocabulary": f"molbench-smiles-v{VOCAB_VERSION}",
            "unknown_tokens": self.unknown_tokens,
            "rows_with_unknown_tokens": self.rows_with_unknown_tokens,
            "examples": self.examples,
        }


def _note(examples: list[str], text: str, limit: int = 10) -> None:
    if len(examples) < limit:
        examples.append(text[:300])


def _in(values: np.ndarray, reference: set) -> int:
    return int(sum(1 for v in values.tolist() if v in reference))


def _keys_in_split(table: pa.Table, split: str) -> set:
    return set(_key_list_in_split(table, split))


def _key_list_in_split(table: pa.Table, split: str) -> list:
    mask = pc.equal(table["published_split"], split)
    return pc.filter(table["reaction_key"], mask).to_pylist()
