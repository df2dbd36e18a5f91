"""Randomised SMILES of reaction inputs: training-time augmentation for sequence models.

A sequence model that only ever reads RDKit's canonical SMILES learns one writing of each
molecule; reading several random writings (non-canonical atom orders, molecules shuffled)
of the same reaction is the augmentation of the Molecular Transformer (Schwaller et al.
2019) and of Tetko et al. (Nat. Commun. 2020). The target stays the canonical product, so
the model still writes one answer per reaction.

Every copy is a pure function of ``seed`` and the row's ``id`` (not its position), so a
subset of rows gets the same copies as the full split, and the same seed writes a
byte-identical file. Tokens use the shared vocabulary; a molecule RDKit cannot sanitise,
or whose random writing has a token outside the vocabulary, keeps its canonical SMILES
(counted in the file's metadata).
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from molbench import __version__, store
from molbench.chem.tokens import VOCAB_VERSION, Vocabulary, load_vocabulary
from molbench.errors import DatasetNotFoundError, ParameterError

log = logging.getLogger(__name__)

METADATA_KEY = b"molbench.augment"
TOKENS = pa.list_(pa.int16())
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("copy", pa.int32()),
        ("src_tokens_separated", TOKENS),
        ("src_tokens_mixed", TOKENS),
        ("tgt_tokens", TOKENS),
    ]
)


def randomized_smiles(smiles: str, copies: int, seed: int) -> list[str] | None:
    """``copies`` random (``doRandom``) writings of one molecule, seeded; ``None`` if RDKit
    cannot sanitise it (its canonical form is then the only writing molbench trusts)."""
    from rdkit import Chem  # here, not at import: reading augmented files needs no RDKit
    from rdkit.rdBase import BlockLogs

    with BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    return list(Chem.MolToRandomSmilesVect(mol, copies, randomSeed=seed))


def _row_rng(seed: int, row_id: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(row_id.encode())]))


class _Writer:
    """Random writings of a row's molecules, checked against the vocabulary, with counts."""

    def __init__(self, vocabulary: Vocabulary, copies: int) -> None:
        self.vocabulary, self.copies = vocabulary, copies
        self.molecules = self.unsanitizable = self.out_of_vocabulary = 0

    def writings(self, molecules: list[str], rng: np.random.Generator) -> list[list[str]]:
        """Per molecule, ``copies`` writings (the canonical one where a random one won't do)."""
        out = []
        for smiles in molecules:
            self.molecules += 1
            seed = int(rng.integers(0, 2**31 - 1))
            random = randomized_smiles(smiles, self.copies, seed)
            if random is None:
                self.unsanitizable += 1
                random = [smiles] * self.copies
            for c, text in enumerate(random):
                if self.vocabulary.n_unknown(self.vocabulary.encode(text)):
                    self.out_of_vocabulary += 1
                    random[c] = smiles
            out.append(random)
        return out


def _join(writings: list[list[str]], copy: int, order: np.ndarray) -> str:
    return ".".join(writings[i][copy] for i in order)


def augment_reactions(table: pa.Table, copies: int, seed: int) -> tuple[pa.Table, dict[str, int]]:
    """``copies`` randomised inputs per reaction (copy-major order) and what fell back.

    ``table`` needs ``id``, ``reactants``, ``reagents`` and ``tgt_tokens``. The separated
    input stays ``reactants>reagents`` (molecules shuffled within each side); the mixed one
    shuffles all precursors together. The target is the row's canonical ``tgt_tokens``.
    """
    if copies < 1:
        raise ParameterError(f"copies must be at least 1, got {copies}")
    vocabulary = load_vocabulary()
    writer = _Writer(vocabulary, copies)
    by_copy: list[list[tuple[str, str]]] = [[] for _ in range(copies)]
    for row_id, reactants, reagents in zip(
        table["id"].to_pylist(),
        table["reactants"].to_pylist(),
        table["reagents"].to_pylist(),
        strict=True,
    ):
        rng = _row_rng(seed, row_id)
        left, right = reactants.split("."), reagents.split(".") if reagents else []
        writings = writer.writings(left + right, rng)
        for copy in range(copies):
            separated = _join(writings[: len(left)], copy, rng.permutation(len(left)))
            if right:
                separated += ">" + _join(writings[len(left) :], copy, rng.permutation(len(right)))
            mixed = _join(writings, copy, rng.permutation(len(writings)))
            by_copy[copy].append((separated, mixed))
    encode = vocabulary.encode
    n = table.num_rows
    out = pa.table(
        {
            "id": pa.array(table["id"].to_pylist() * copies, pa.string()),
            "copy": pa.array(np.repeat(np.arange(copies, dtype=np.int32), n)),
            "src_tokens_separated": pa.array(
                [encode(s) for rows in by_copy for s, _ in rows], TOKENS
            ),
            "src_tokens_mixed": pa.array([encode(m) for rows in by_copy for _, m in rows], TOKENS),
            "tgt_tokens": pa.array(table["tgt_tokens"].to_pylist() * copies, TOKENS),
        },
        schema=SCHEMA,
    )
    counts = {
        "molecules": writer.molecules,
        "unsanitizable_kept_canonical": writer.unsanitizable,
        "out_of_vocabulary_kept_canonical": writer.out_of_vocabulary,
    }
    return out, counts


def write_augmented(
    built: store.BuiltDataset, config: str, split: str, copies: int, seed: int, out: Path
) -> dict[str, Any]:
    """Augment one split of a reactions build into a Parquet file; returns its metadata.

    The metadata (in the file's schema) names the build's content hash, so a recipe can
    refuse a file made from other data. Written to a temporary name, then renamed.
    """
    if built.name != "reactions":
        raise DatasetNotFoundError(
            f"augmenting needs a reactions build; {built.path} is {built.name}"
        )
    rows = built.table(config, split, ["id", "reactants", "reagents", "tgt_tokens"])
    table, counts = augment_reactions(rows, copies, seed)
    if counts["out_of_vocabulary_kept_canonical"] or counts["unsanitizable_kept_canonical"]:
        log.warning("some molecules keep their canonical SMILES: %s", counts)
    metadata = {
        "dataset": built.name,
        "version": built.version,
        "config": config,
        "split": split,
        "content_hash": built.config_hash(config),
        "copies": copies,
        "seed": seed,
        "rows": rows.num_rows,
        "vocabulary": VOCAB_VERSION,
        "molbench_version": __version__,
        **counts,
    }
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(table, tmp, **store.PARQUET_OPTIONS)
    os.replace(tmp, out)
    return metadata


def read_augmented(path: str | os.PathLike[str]) -> tuple[pa.Table, dict[str, Any]]:
    """An augmented file and its metadata; anything else is a :class:`ParameterError`."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as e:
        raise ParameterError(f"cannot read augmented file {path}: {e}") from None
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None or not table.schema.remove_metadata().equals(SCHEMA):
        raise ParameterError(f"{path} is not a file written by 'molbench augment reactions'")
    return table, json.loads(raw)
