"""The ``text`` dataset: molecules paired with natural-language text.

Two families of configs: ChEBI-20 (Edwards et al. 2021, in MolT5's tab-separated form) for
Text2Mol / MoleculeSTM-style retrieval and MolT5-style generation, and ``hydrocarbon_names``,
which molbench generates offline: every valid acyclic hydrocarbon from the validity
generator paired with its systematic IUPAC name, checked by a round trip through OPSIN.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rdkit import Chem, RDLogger
from tqdm.auto import tqdm

from molbench import sources
from molbench.builders.base import (
    BuildContext,
    DatasetInfo,
    Footprint,
    Quarantined,
    SplitDefinition,
)
from molbench.chem import iupac, opsin
from molbench.chem.generate import carbon_quotas, pick_valid
from molbench.chem.graph import ATOM_FEATURES, molecule_graph
from molbench.chem.hydrocarbon import Hydrocarbon, formula
from molbench.chem.notation import write
from molbench.chem.scaffold import murcko_scaffold
from molbench.chem.tokens import VOCAB_VERSION, load_vocabulary
from molbench.errors import BuildError, ParameterError, SourceFormatError
from molbench.parallel import ordered_map, ordered_stream
from molbench.splits import (
    SPLIT_NAMES,
    by_name,
    grouped_like,
    grouped_random_split,
    merged_groups,
    parse_split_names,
    threshold_split,
)

log = logging.getLogger(__name__)
RDLogger.DisableLog("rdApp.*")

CHUNK = 250
MOLT5_URL = "https://raw.githubusercontent.com/blender-nlp/MolT5/main/ChEBI-20_data/"
CHEBI_HEADER = "CID\tSMILES\tdescription"
STRUCTURES_HEADER = "CID\tSMILES"
_STREAM_NAMES, _STREAM_IDS = 3, 4  # random streams under the seed (validity uses 1 and 2)

# split -> the upstream MolT5 file (module data: tests swap in fixtures)
SOURCES: dict[str, sources.SourceFile] = {
    "train": sources.SourceFile(
        "chebi20",
        "train.txt",
        MOLT5_URL + "train.txt",
        git_blob="c1b42b82fdc8fb5287614e159196e25370763aac",
        local_names=("train.txt.gz",),
        description="ChEBI-20 train split with descriptions, 26,407 pairs",
    ),
    "validation": sources.SourceFile(
        "chebi20",
        "validation.txt",
        MOLT5_URL + "validation.txt",
        sha256="f410b58e6825986577d01b4f0c14b59ed61c1343a15118ba584de4bbcea1508c",
        git_blob="694d328d621966d5c9ad0f36083fdfcf293191d5",
        local_names=("validation.txt.gz",),
        description="ChEBI-20 validation split, 3,301 pairs",
    ),
    "test": sources.SourceFile(
        "chebi20",
        "test.txt",
        MOLT5_URL + "test.txt",
        sha256="91776254b54ef13ad701ede0ecdbd7bcd30c19a66e52aa34a6dac8d0e7306d72",
        git_blob="cf6da70d55c2745c6e64cf6864ea8cdbcdc80663",
        local_names=("test.txt.gz",),
        description="ChEBI-20 test split, 3,300 pairs",
    ),
}
# CID + SMILES of the train split without descriptions (reconstructed from MolT5's
# cid_to_smiles map, see SOURCE.md): enough for structure audits, scaffolds and the corpus.
TRAIN_STRUCTURES = sources.SourceFile(
    "chebi20",
    "train_cid_smiles_NO_DESCRIPTIONS.tsv.gz",
    "",
    sha256="d8d7eac248893e0cb3fae72dcb687308b48437a9a58c9426b3a6700daedcc870",
    content_sha256="bf8388ceb0b0769b86a26ba0e0f247701dcc93254067007fca40d28192d37f47",
    description="ChEBI-20 train CIDs and SMILES without descriptions",
)
PUBLISHED_COUNTS = {"train": 26_407, "validation": 3_301, "test": 3_300}


@dataclass(frozen=True)
class TextParams:
    """Build parameters; every field is a ``molbench build text --option``."""

    splits: str = field(
        default="train,validation,test",
        metadata={
            "help": "ChEBI-20 splits to read, comma-separated; 'validation,test' builds an "
            "evaluation-only chebi20 config (no train descriptions needed)."
        },
    )
    n_molecules: int = field(
        default=20_000, metadata={"help": "hydrocarbon_names: pairs to generate."}
    )
    max_carbons: int = field(
        default=20, metadata={"help": "hydrocarbon_names: largest carbon count (2..60)."}
    )
    size_ood_max_train_carbons: int = field(
        default=16,
        metadata={"help": "hydrocarbon_names_size_ood: train/validation up to this many carbons."},
    )
    seed: int = field(default=0, metadata={"help": "Seed of every random choice in the build."})

    def __post_init__(self) -> None:
        parse_split_names(self.splits)
        if self.n_molecules < 20:
            raise ParameterError(f"--n-molecules must be at least 20, got {self.n_molecules}")
        if not 2 <= self.max_carbons <= 60:
            raise ParameterError(f"--max-carbons must be in 2..60, got {self.max_carbons}")
        if not 1 <= self.size_ood_max_train_carbons < self.max_carbons:
            raise ParameterError(
                "--size-ood-max-train-carbons must be below --max-carbons, got "
                f"{self.size_ood_max_train_carbons}"
            )
        if self.seed < 0:
            raise ParameterError(f"--seed must be >= 0, got {self.seed}")

    @property
    def split_list(self) -> list[str]:
        return parse_split_names(self.splits)


# hydrocarbon_names, measured (1 worker, OPSIN audit on): peak RSS 305 MB at 2,000 rows and
# 563 MB at 8,000, i.e. ~43 kB a row; Parquet ~210 B a row. Rounded down, as for validity.
NAMES_MEMORY_BYTES_PER_ROW = 40_000
NAMES_DISK_BYTES_PER_ROW = 200
TOKENS = pa.list_(pa.int16())
GRAPH_FIELDS = [
    ("n_atoms", pa.int32()),
    ("atom_features", pa.list_(pa.list_(pa.int16()))),
    ("edge_index", pa.list_(pa.list_(pa.int32()))),
    ("bond_orders", pa.list_(pa.float32())),
]
CHEBI_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("cid", pa.int64()),
        ("published_split", pa.string()),
        ("smiles", pa.string()),
        ("smiles_as_published", pa.string()),
        ("description", pa.string()),
        ("inchikey", pa.string()),
        ("scaffold", pa.string()),
        ("description_names_molecule", pa.bool_()),
        ("smiles_tokens", TOKENS),
        *GRAPH_FIELDS,
    ]
)
MOLECULES_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("cid", pa.int64()),
        ("published_split", pa.string()),
        ("smiles", pa.string()),
        ("inchikey", pa.string()),
        ("smiles_tokens", TOKENS),
        *GRAPH_FIELDS,
    ]
)
NAMES_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("smiles", pa.string()),
        ("name", pa.string()),
        ("condensed", pa.string()),
        ("formula", pa.string()),
        ("n_carbons", pa.int16()),
        ("n_double_bonds", pa.int16()),
        ("inchikey", pa.string()),
        ("smiles_tokens", TOKENS),
        *GRAPH_FIELDS,
    ]
)

INFO = DatasetInfo(
    name="text",
    version="1.0.0",
    title="Molecule-text pairs: ChEBI-20 and systematic hydrocarbon names",
    summary=(
        "Molecules paired with natural-language text for contrastive structure-text models "
        "(Text2Mol, MoleculeSTM) and text-molecule generation (MolT5). **ChEBI-20**: 33,008 "
        "PubChem molecules with ChEBI-derived descriptions in MolT5's published split "
        "(26,407 / 3,301 / 3,300). **hydrocarbon_names**: acyclic alkanes and alkenes from "
        "molbench's validity generator with their systematic IUPAC names, generated offline "
        "and round-tripped through OPSIN."
    ),
    license="cc-by-4.0",
    citation=(
        "@inproceedings{edwards2021text2mol,\n  title = {Text2Mol: Cross-Modal Molecule "
        "Retrieval with Natural Language Queries},\n  author = {Edwards, Carl and Zhai, "
        "ChengXiang and Ji, Heng},\n  booktitle = {EMNLP},\n  year = {2021}\n}\n"
        "@inproceedings{edwards2022molt5,\n  title = {Translation between Molecules and "
        "Natural Language},\n  author = {Edwards, Carl and Lai, Tuan and Ros, Kevin and "
        "Honke, Garrett and Cho, Kyunghyun and Ji, Heng},\n  booktitle = {EMNLP},\n"
        "  year = {2022}\n}"
    ),
    columns={
        "id": "Stable row id: `chebi20_<CID>` for ChEBI-20; a seeded integer for names.",
        "cid": "PubChem compound id.",
        "published_split": "The split MolT5's files put the molecule in.",
        "smiles": "RDKit canonical SMILES.",
        "smiles_as_published": "The SMILES as published, after un-escaping the doubled "
        "backslashes of the upstream files (`C/C=C\\\\C` -> `C/C=C\\C`).",
        "description": "The ChEBI-derived description (the text side).",
        "name": "Systematic IUPAC name (2013 recommendations) written by molbench (the text "
        "side of hydrocarbon_names).",
        "condensed": "Condensed structural formula, e.g. `CH3CH(CH3)CH=CH2`.",
        "formula": "Hill formula.",
        "n_carbons": "Number of carbon atoms.",
        "n_double_bonds": "Number of C=C bonds.",
        "inchikey": "Standard InChIKey: the structure key of the audits.",
        "scaffold": "Bemis-Murcko scaffold ('' for acyclic molecules).",
        "description_names_molecule": "The description contains a chemical name that OPSIN "
        "parses to this very structure (a retrieval shortcut; null when OPSIN is unavailable).",
        "smiles_tokens": f"Token ids of `smiles` over the shared SMILES vocabulary v{VOCAB_VERSION}"
        ", with <bos>/<eos>.",
        "n_atoms": "Heavy atoms.",
        "atom_features": "Per atom: " + ", ".join(ATOM_FEATURES) + ".",
        "edge_index": "Two lists [sources, targets]; each bond once (source < target).",
        "bond_orders": "Order of each bond (1, 1.5, 2, 3).",
    },
    structure_column="inchikey",
    notes="""
## ChEBI-20

- Files: MolT5's `ChEBI-20_data/{train,validation,test}.txt` (blender-nlp/MolT5), one
  `CID<TAB>SMILES<TAB>description` row each after a header. Validation and test are pinned by
  sha256; train by its git blob id.
- Counts: 26,407 / 3,301 / 3,300 = 33,008 pairs. Text2Mol's ChEBI-20 has 33,010: MolT5
  dropped two molecules whose SMILES is `*` (CID 135476786 from test, and — inferred —
  135476785 from train). Counts are asserted; a row RDKit cannot parse is quarantined in
  `quarantine/chebi20.jsonl` with the reason and counted, never silently dropped.
- **Backslashes:** the upstream files store a literal backslash doubled (`C/C=C\\\\C`). The
  builder un-escapes it before parsing; `smiles_as_published` keeps the un-escaped string.
- `chebi20_molecules` holds every ChEBI-20 molecule of MolT5's files (all three splits;
  train structures from `train.txt` or, without it, from the CID + SMILES file) as the
  candidate pool of the whole-corpus retrieval protocol. It has one split, `corpus`.
- **Whole-corpus pool: 33,008 here, 33,010 in Text2Mol.** Text2Mol ranks each test
  description against 33,010 molecules: its pool also holds the two `*` structures that
  MolT5's files drop. So a rank here is at most 2 better than Text2Mol's would be: Hits@k
  is higher by at most the share of texts at rank k-1..k, MRR by at most the mean of
  1/r - 1/(r+2). If the two `*` molecules score like any other candidate, the expected
  difference is 0 in Hits@1 and below 2 / (6 x 33,009) = 1.0e-5 in MRR. Every whole-corpus
  result records both numbers from its own ranks (`protocol.corpus`).
- `chebi20_scaffold`: the 33,008 pairs regrouped by Bemis-Murcko scaffold, published sizes,
  seeded; built when the train file with descriptions is present.
- Licence: the descriptions derive from ChEBI (CC BY 4.0) via PubChem; cite ChEBI (Hastings
  et al. 2016), PubChem, Text2Mol and MolT5.

## hydrocarbon_names

- Valid acyclic alkanes, alkenes and cumulenes drawn exactly as the validity set draws them
  (all isomers up to C10, uniform sampling above), each with its IUPAC name from
  `molbench.chem.iupac`: principal chain = longest chain, then most multiple bonds, lowest
  locants, alphabetical prefixes, multiplying prefixes, complex substituents in brackets.
- No stereo: the generator emits none, so E/Z descriptors are out of scope; a name denotes
  the constitution only.
- Every name is parsed back by OPSIN (when Java and py2opsin are available) and compared with
  the structure; the agreement rate is in the audits.
- Configs: `hydrocarbon_names` (80/10/10, grouped by structure) and
  `hydrocarbon_names_size_ood` (train/validation up to `size_ood_max_train_carbons`
  carbons, test above).
""",
)


def _published(table: pa.Table, params: Any) -> dict[str, np.ndarray]:
    return by_name(table["published_split"].to_numpy(zero_copy_only=False))


def _corpus(table: pa.Table, params: Any) -> dict[str, np.ndarray]:
    return {"corpus": np.arange(table.num_rows)}


def _chebi_scaffold(table: pa.Table, params: TextParams) -> dict[str, np.ndarray]:
    groups = merged_groups(  # one structure never straddles splits, whatever its scaffold
        np.asarray(table["scaffold"].to_pylist(), dtype=object),
        np.asarray(table["inchikey"].to_pylist(), dtype=object),
    )
    return grouped_like(groups, _published(table, params), params.seed)


def _names_random(table: pa.Table, params: TextParams) -> dict[str, np.ndarray]:
    groups = np.asarray(table["inchikey"].to_pylist(), dtype=str)
    return grouped_random_split(groups, (0.8, 0.1, 0.1), params.seed)


def _names_size_ood(table: pa.Table, params: TextParams) -> dict[str, np.ndarray]:
    return threshold_split(
        table["n_carbons"].to_numpy(),
        params.size_ood_max_train_carbons,
        np.asarray(table["inchikey"].to_pylist(), dtype=str),
        validation_fraction=0.1,
        seed=params.seed,
    )


class TextBuilder:
    info = INFO
    params_type = TextParams
    schemas = MappingProxyType(
        {
            "hydrocarbon_names": NAMES_SCHEMA,
            "chebi20": CHEBI_SCHEMA,
            "chebi20_molecules": MOLECULES_SCHEMA,
        }
    )
    split_definitions = (
        SplitDefinition(
            "hydrocarbon_names",
            "80/10/10 random, grouped by structure",
            _names_random,
            group="hydrocarbon_names",
        ),
        SplitDefinition(
            "hydrocarbon_names_size_ood",
            "test = more carbons than train/validation",
            _names_size_ood,
            group="hydrocarbon_names",
        ),
        SplitDefinition(
            "chebi20",
            "ChEBI-20 as published (MolT5 files)",
            _published,
            leak_free=False,
            group="chebi20",
        ),
        SplitDefinition(
            "chebi20_scaffold",
            "ChEBI-20 regrouped by Bemis-Murcko scaffold, published sizes, seeded",
            _chebi_scaffold,
            group="chebi20",
            requires_splits=SPLIT_NAMES,
        ),
        SplitDefinition(
            "chebi20_molecules",
            "every ChEBI-20 molecule: the whole-corpus retrieval pool",
            _corpus,
            leak_free=False,
            group="chebi20_molecules",
            split_names=("corpus",),
        ),
    )
    default_configs = ("hydrocarbon_names",)
    cross_audit_columns = ("published_split", "inchikey")
    raw_sources = ("chebi20",)
    # what splits, derive and audits read: the build keeps these in memory, streams the rest
    key_columns = MappingProxyType(
        {
            "hydrocarbon_names": ("inchikey", "n_carbons", "name", "smiles"),
            "chebi20": (
                "published_split",
                "scaffold",
                "inchikey",
                "description",
                "description_names_molecule",
            ),
            "chebi20_molecules": ("published_split", "inchikey"),
        }
    )

    def planned_splits(self, params: TextParams, group: str) -> list[str]:
        """ChEBI-20 reads the published splits asked for; the other groups make all three."""
        return params.split_list if group == "chebi20" else list(SPLIT_NAMES)

    def footprint(self, params: TextParams, group: str) -> Footprint | None:
        """hydrocarbon_names grows with --n-molecules; the ChEBI-20 groups are fixed."""
        if group != "hydrocarbon_names":
            return None
        return Footprint(
            params.n_molecules,
            NAMES_MEMORY_BYTES_PER_ROW,
            NAMES_DISK_BYTES_PER_ROW,
            "--n-molecules",
        )

    def parameters_for(self, params: TextParams, group: str) -> dict[str, Any]:
        if group == "hydrocarbon_names":
            keys = ("n_molecules", "max_carbons", "size_ood_max_train_carbons", "seed")
            return {k: getattr(params, k) for k in keys}
        if group == "chebi20":
            chosen = ",".join(s for s in SPLIT_NAMES if s in params.split_list)
            return {"splits": chosen, "seed": params.seed}
        return {}

    def rows(
        self, params: TextParams, context: BuildContext, group: str
    ) -> Iterator[dict[str, Any]]:
        if group == "hydrocarbon_names":
            yield from _name_rows(params, context)
        elif group == "chebi20":
            yield from _chebi_rows(params, context)
        else:
            yield from _molecule_rows(context)

    def derive(
        self, keys: pa.Table, params: TextParams, group: str
    ) -> dict[str, pa.Array | pa.ChunkedArray]:
        """Flag ChEBI descriptions that name their own molecule (needs every row: one OPSIN run)."""
        if group != "chebi20":
            return {}
        flags = descriptions_naming_molecule(
            keys["description"].to_pylist(), keys["inchikey"].to_pylist()
        )
        return {"description_names_molecule": pa.array(flags, pa.bool_())}

    def audit(
        self,
        table: pa.Table,
        splits: Mapping[str, Mapping[str, np.ndarray]],
        params: Any,
        group: str,
    ) -> dict[str, Any]:
        if group == "hydrocarbon_names":
            return {"opsin_round_trip": _opsin_audit(table)}
        if group == "chebi20":
            return _chebi_audit(table, splits)
        return {}

    def cross_audit(self, tables: Mapping[str, pa.Table]) -> dict[str, Any]:
        """Structures of the published ChEBI-20 splits, all three (train from the corpus)."""
        if "chebi20_molecules" not in tables:
            return {}
        corpus = tables["chebi20_molecules"]
        keys = np.asarray(corpus["inchikey"].to_pylist(), dtype=object)
        split = corpus["published_split"].to_numpy(zero_copy_only=False)
        by_split = {s: set(keys[split == s].tolist()) for s in SPLIT_NAMES}
        shared = {
            f"{a}/{b}": len(by_split[a] & by_split[b])
            for i, a in enumerate(SPLIT_NAMES)
            for b in SPLIT_NAMES[i + 1 :]
        }
        return {"chebi20_identical_structures_across_published_splits": shared}


# ---------------------------------------------------------------- hydrocarbon names


def _name_rows(params: TextParams, context: BuildContext) -> Iterator[dict[str, Any]]:
    quotas = carbon_quotas(params.n_molecules, params.max_carbons)
    units = [(n, q, params.seed) for n, q in sorted(quotas.items(), reverse=True) if q > 0]
    with ordered_map(context.workers, context.dask) as imap:
        picked = list(
            tqdm(
                imap(_named_unit, units),
                total=len(units),
                desc="text: naming hydrocarbons",
                unit="C-count",
                disable=not context.progress,
            )
        )
    rows = [row for unit in reversed(picked) for row in unit]
    ids = np.random.default_rng([params.seed, _STREAM_IDS]).permutation(len(rows))
    for row, row_id in zip(rows, ids.tolist(), strict=True):
        row["id"] = row_id
        yield row
    by_carbons: dict[str, int] = {}
    for (n, _, _), unit in zip(units, picked, strict=True):
        by_carbons[str(n)] = len(unit)
    context.counts.update(
        {
            "rows": len(rows),
            "requested_rows": params.n_molecules,
            "by_n_carbons": dict(sorted(by_carbons.items(), key=lambda kv: int(kv[0]))),
            "vocabulary": f"molbench-smiles-v{VOCAB_VERSION}",
        }
    )


def _named_unit(unit: tuple[int, int, int]) -> list[dict[str, Any]]:
    n, quota, seed = unit
    rng = np.random.default_rng([seed, _STREAM_NAMES, n])
    vocab = load_vocabulary()
    return [_name_row(mol, vocab) for mol in pick_valid(n, quota, rng)]


def _name_row(mol: Hydrocarbon, vocab: Any) -> dict[str, Any]:
    written = write(mol)
    rd = Chem.MolFromSmiles(written.smiles)
    if rd is None:
        raise BuildError(f"RDKit rejects generated hydrocarbon {written.smiles}")
    rd = Chem.RemoveHs(rd)
    smiles = Chem.MolToSmiles(rd)
    tokens = vocab.encode(smiles)
    return {
        "smiles": smiles,
        "name": iupac.name(mol),
        "condensed": written.condensed,
        "formula": formula(mol),
        "n_carbons": mol.n_carbons,
        "n_double_bonds": mol.n_double_bonds,
        "inchikey": Chem.MolToInchiKey(rd),
        "smiles_tokens": tokens,
        **molecule_graph(rd),
    }


def _opsin_audit(table: pa.Table) -> dict[str, Any]:
    """Every name parsed back by OPSIN and compared with its structure."""
    reason = opsin.opsin_available()
    if reason is not None:
        log.warning("OPSIN round trip skipped: %s", reason)
        return {"skipped": reason}
    check = opsin.round_trip(table["name"].to_pylist(), table["smiles"].to_pylist())
    return {
        "checked": check.checked,
        "agreed": check.agreed,
        "rate": round(check.rate, 6),
        "disagreements": [list(d) for d in check.disagreements],
        "opsin": check.opsin_version,
    }


# ---------------------------------------------------------------- ChEBI-20


def _chebi_rows(params: TextParams, context: BuildContext) -> Iterator[dict[str, Any]]:
    wanted = [s for s in SPLIT_NAMES if s in params.split_list]
    resolved = {
        split: sources.resolve_split(
            SOURCES[split],
            split,
            context.source_dir,
            allow_unverified=context.allow_unverified,
            progress=context.progress,
        )
        for split in wanted
    }
    for split in SPLIT_NAMES:
        if split not in wanted:
            file = SOURCES[split]
            context.absent_splits[split] = (
                f"not requested (--splits {params.splits}); get {file.filename} from {file.url} "
                f"into <raw root>/{file.source}/ and rebuild with --splits train,validation,test "
                "--force"
            )
    context.sources.extend(sources.record(r) for r in resolved.values())
    counts = {"rows": {}, "quarantined": {}}
    unknown = 0
    bar = tqdm(
        total=sum(PUBLISHED_COUNTS[s] for s in wanted),
        desc="text: chebi20",
        unit="mol",
        disable=not context.progress,
    )
    with ordered_stream(context.workers, client=context.dask) as stream:
        for split in wanted:
            rows = quarantined = 0
            for results in stream(
                _chebi_chunk, _table_chunks(resolved[split], split, CHEBI_HEADER)
            ):
                for item in results:
                    if isinstance(item, Quarantined):
                        context.quarantine.append(item)
                        quarantined += 1
                        continue
                    rows += 1
                    unknown += item.pop("_unknown_tokens")
                    yield item
                bar.update(len(results))
            _check_count(SOURCES[split], split, rows + quarantined)
            counts["rows"][split] = rows
            counts["quarantined"][split] = quarantined
    bar.close()
    context.counts.update(
        counts | {"vocabulary": f"molbench-smiles-v{VOCAB_VERSION}", "unknown_tokens": unknown}
    )


def _molecule_rows(context: BuildContext) -> Iterator[dict[str, Any]]:
    """Every ChEBI-20 molecule; train structures from train.txt, else the CID + SMILES file."""
    files = {}
    for split in SPLIT_NAMES:
        file = SOURCES[split]
        if (
            split == "train"
            and not sources.is_available(file, context.source_dir)
            and sources.is_available(TRAIN_STRUCTURES, context.source_dir)
        ):
            file = TRAIN_STRUCTURES  # structures without descriptions are all a corpus needs
        files[split] = (file, STRUCTURES_HEADER if file is TRAIN_STRUCTURES else CHEBI_HEADER)
    resolved = {
        split: sources.resolve(
            file,
            context.source_dir,
            allow_unverified=context.allow_unverified,
            progress=context.progress,
        )
        for split, (file, _) in files.items()
    }
    context.sources.extend(sources.record(r) for r in resolved.values())
    counts: dict[str, Any] = {"rows": {}, "quarantined": {}}
    with ordered_stream(context.workers, client=context.dask) as stream:
        for split in SPLIT_NAMES:
            header = files[split][1]
            rows = quarantined = 0
            for results in stream(_molecule_chunk, _table_chunks(resolved[split], split, header)):
                for item in results:
                    if isinstance(item, Quarantined):
                        context.quarantine.append(item)
                        quarantined += 1
                        continue
                    rows += 1
                    yield item
            _check_count(files[split][0], split, rows + quarantined)
            counts["rows"][split] = rows
            counts["quarantined"][split] = quarantined
    context.counts.update(counts)


def _check_count(file: sources.SourceFile, split: str, seen: int) -> None:
    expected = PUBLISHED_COUNTS[split]
    if seen != expected:
        raise BuildError(
            f"{file.label} has {seen:,} rows, the published {split} split has {expected:,}: "
            "wrong or damaged file, nothing written"
        )


def _table_chunks(
    resolved: sources.ResolvedSource, split: str, header: str
) -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
    lines = sources.read_lines(resolved)
    first = next(lines, None)
    if first is None or first[1] != header:
        raise SourceFormatError(
            f"{resolved.file.label}: expected the header {header!r}, got "
            f"{(first or (0, ''))[1][:60]!r}"
        )
    chunk: list[tuple[int, str]] = []
    for number, text in lines:
        chunk.append((number, text))
        if len(chunk) == CHUNK:
            yield split, resolved.file.label, chunk
            chunk = []
    if chunk:
        yield split, resolved.file.label, chunk


def unescape_smiles(smiles: str) -> str:
    """MolT5's files write a literal backslash doubled; RDKit needs it single."""
    return smiles.replace("\\\\", "\\")


def _parse_record(
    split: str, label: str, number: int, text: str, n_fields: int
) -> tuple[list[str], Chem.Mol] | Quarantined:
    fields = text.split("\t")
    if len(fields) != n_fields:
        return Quarantined(
            label, number, f"{len(fields)} tab-separated fields, expected {n_fields}", text
        )
    if not fields[0].isdigit():
        return Quarantined(label, number, f"CID {fields[0]!r} is not a number", text)
    smiles = unescape_smiles(fields[1])
    mol = Chem.MolFromSmiles(smiles)
    if mol is None or mol.GetNumAtoms() == 0:
        return Quarantined(label, number, f"RDKit cannot parse SMILES {smiles[:80]!r}", text)
    fields[1] = smiles
    return fields, mol


def _structure_columns(mol: Chem.Mol, vocab: Any) -> dict[str, Any]:
    smiles = Chem.MolToSmiles(mol)
    tokens = vocab.encode(smiles)
    unknown = vocab.n_unknown(tokens)
    return {
        "smiles": smiles,
        "inchikey": Chem.MolToInchiKey(mol) or "",
        "smiles_tokens": tokens,
        "_unknown_tokens": unknown,
        **molecule_graph(mol),
    }


def _chebi_chunk(unit: tuple[str, str, list[tuple[int, str]]]) -> list[Any]:
    split, label, lines = unit
    vocab = load_vocabulary()
    out: list[Any] = []
    for number, text in lines:
        parsed = _parse_record(split, label, number, text, 3)
        if isinstance(parsed, Quarantined):
            out.append(parsed)
            continue
        (cid, smiles, description), mol = parsed
        out.append(
            {
                "id": f"chebi20_{cid}",
                "cid": int(cid),
                "published_split": split,
                "smiles_as_published": smiles,
                "description": description,
                "scaffold": murcko_scaffold(smiles),
                "description_names_molecule": None,
                **_structure_columns(mol, vocab),
            }
        )
    return out


def _molecule_chunk(unit: tuple[str, str, list[tuple[int, str]]]) -> list[Any]:
    split, label, lines = unit
    vocab = load_vocabulary()
    out: list[Any] = []
    for number, text in lines:
        n_fields = 2 if label.startswith(f"chebi20/{TRAIN_STRUCTURES.filename}") else 3
        parsed = _parse_record(split, label, number, text, n_fields)
        if isinstance(parsed, Quarantined):
            out.append(parsed)
            continue
        fields, mol = parsed
        row = {"id": f"chebi20_{fields[0]}", "cid": int(fields[0]), "published_split": split}
        row |= _structure_columns(mol, vocab)
        row.pop("_unknown_tokens")
        out.append(row)
    return out


_NAME_LIKE = re.compile(r"[A-Za-z0-9,()\[\]'+\-]*[0-9(\-][A-Za-z0-9,()\[\]'+\-]*[a-z]{3,}[a-z)\]]*")


def descriptions_naming_molecule(
    descriptions: list[str], inchikeys: list[str]
) -> list[bool | None]:
    """Whether a chemical-name-like word of each description is OPSIN-parsable to its molecule.

    A lower bound on a known shortcut: candidate words contain a digit, hyphen or bracket
    (systematic names do; prose does not) and are compared by InChIKey connectivity block.
    None everywhere when OPSIN cannot run.
    """
    if opsin.opsin_available() is not None:
        return [None] * len(descriptions)
    candidates = [
        sorted({w.strip(",.;:") for w in _NAME_LIKE.findall(d) if len(w) >= 6})
        for d in descriptions
    ]
    unique = sorted({w for ws in candidates for w in ws})
    parsed = dict(zip(unique, opsin.parse_names(unique), strict=True))
    blocks: dict[str, str] = {}
    for word, smiles in parsed.items():
        mol = Chem.MolFromSmiles(smiles) if smiles else None
        blocks[word] = (Chem.MolToInchiKey(mol) or "")[:14] if mol is not None else ""
    return [
        any(blocks[w] and blocks[w] == key[:14] for w in ws)
        for ws, key in zip(candidates, inchikeys, strict=True)
    ]


def _chebi_audit(table: pa.Table, splits: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, Any]:
    descriptions = np.asarray(table["description"].to_pylist(), dtype=object)
    report: dict[str, Any] = {}
    for config, split in splits.items():
        sets = {s: set(descriptions[idx].tolist()) for s, idx in split.items()}
        names = list(split)
        report[config] = {
            f"{a}/{b}": len(sets[a] & sets[b]) for i, a in enumerate(names) for b in names[i + 1 :]
        }
    flags = table["description_names_molecule"]
    if flags.null_count == len(flags):
        naming: dict[str, Any] = {"skipped": opsin.opsin_available() or "not computed"}
    else:
        split = table["published_split"]
        naming = {
            s: round(
                float(pc.mean(pc.cast(pc.filter(flags, pc.equal(split, s)), pa.int8())).as_py()),
                4,
            )
            for s in SPLIT_NAMES
            if pc.any(pc.equal(split, s)).as_py()
        }
    duplicates = len(descriptions) - len(set(descriptions.tolist()))
    return {
        "identical_descriptions_across_splits": report,
        "duplicated_descriptions": duplicates,
        "fraction_of_descriptions_naming_their_molecule": naming,
    }
