"""The text encoder through ``transformers`` against molbench's former hand-written BERT.

Run: ``.venv/bin/python benchmarks/text_encoder.py [--source ../shared/data] [--threads 1]``.
Encodes the same texts (hydrocarbon names from a small ``text`` build, plus ChEBI-20
descriptions when ``--source`` has them) with all-MiniLM-L6-v2 both ways, in the same run,
same batch size and thread count, and prints texts/s for sentence embeddings and for token
states, and the largest difference between the two (sentence embeddings and float32 token
states). The former implementation, ``molbench/nn/minilm.py`` (its own WordPiece and BERT
forward pass), is read from git history at ``OLD_COMMIT``; it needs a clone with that commit.

``--reference FILE`` also writes the former implementation's output on a few fixed texts:
the fixture ``tests/fixtures/text_encoder/minilm_reference.npz`` was made that way.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

import molbench
from molbench.nn import text_encoder

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "1fc65ba5e3addbf75bfa968e279d399cd1c977cb"  # last commit with minilm.py
# Fixed texts of the committed reference: names, accents, punctuation, a ChEBI-style sentence.
REFERENCE_TEXTS = [
    "3-methylbut-1-ene",
    "2,2,4-trimethylpentane",
    "4,6-dimethylhepta-1,2,3-triene",
    "3,6-dimethylhepta-1,2,4-triene",
    "isolated from Éupatorium (café naïve résumé)",
    "«quotes» ~tilde~ \u200b",
    "",
    "The molecule is a monocarboxylic acid anion obtained by deprotonation of the carboxy "
    "group of 2-hydroxybutyric acid; major species at pH 7.3.",
]
REFERENCE_COLUMNS = slice(0, None, 8)  # every 8th coordinate of the token states is stored


def old_implementation() -> ModuleType:
    """``molbench.nn.minilm`` as it was at ``OLD_COMMIT``, imported from a temporary file."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:molbench/nn/minilm.py"],
        capture_output=True,
        text=True,
    )
    if source.returncode != 0:
        sys.exit(f"cannot read the former implementation: {source.stderr.strip()}")
    file = Path(tempfile.mkdtemp()) / "minilm_former.py"
    file.write_text(source.stdout, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("minilm_former", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def benchmark_texts(source: Path | None, n_names: int, n_descriptions: int) -> list[str]:
    """Hydrocarbon names from a small build, then ChEBI-20 validation descriptions if present."""
    built = molbench.build(
        "text",
        {"n_molecules": n_names, "max_carbons": 20, "size_ood_max_train_carbons": 16},
        out=tempfile.mkdtemp(),
        configs=["hydrocarbon_names"],
        workers=1,
        progress=False,
    )
    dataset = molbench.open_dataset(built.path)
    names = [
        n
        for split in ("train", "test")
        for n in dataset.table("hydrocarbon_names", split)["name"].to_pylist()
    ]
    descriptions: list[str] = []
    chebi = source / "chebi20" / "validation.txt.gz" if source else None
    if chebi and chebi.is_file():
        with gzip.open(chebi, "rt", encoding="utf-8") as f:
            lines = f.read().splitlines()[1 : 1 + n_descriptions]
        descriptions = [line.split("\t", 2)[2] for line in lines]
    return names + descriptions


def rate(function: Callable[[list[str]], object], texts: list[str]) -> float:
    """Texts/s of one call (after one warm-up call on a few texts)."""
    function(texts[:8])
    start = time.perf_counter()
    function(texts)
    return len(texts) / (time.perf_counter() - start)


def padded_states(encoder: Any, ids: list[list[int]]) -> np.ndarray:
    """float32 states of every real token, one padded batch, concatenated in text order."""
    longest = max(len(i) for i in ids)
    batch = torch.zeros((len(ids), longest), dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for k, row in enumerate(ids):
        batch[k, : len(row)], mask[k, : len(row)] = torch.tensor(row), 1
    with torch.inference_mode():
        states = encoder.token_states(batch, mask).float().numpy()
    return np.concatenate([states[k, : len(row)] for k, row in enumerate(ids)])


def write_reference(old: ModuleType, out: Path) -> None:
    """The former implementation's ids, sentence embeddings and token states on fixed texts."""
    encoder = old.load_text_encoder()
    ids = [encoder.tokenizer.encode(t) for t in REFERENCE_TEXTS]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        ids=np.concatenate(ids).astype(np.int32),
        offsets=np.cumsum([0, *map(len, ids)]).astype(np.int64),
        sentence=encoder.encode(REFERENCE_TEXTS),
        states=padded_states(encoder, ids)[:, REFERENCE_COLUMNS],
    )
    provenance = {
        "texts": REFERENCE_TEXTS,
        "made_by": f"benchmarks/text_encoder.py --reference, molbench/nn/minilm.py at {OLD_COMMIT}",
        "torch": torch.__version__,
        "states_columns": "every 8th of 384",
    }
    out.with_suffix(".json").write_text(json.dumps(provenance, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="raw data root with chebi20/ (optional)")
    parser.add_argument("--names", type=int, default=1000, help="molecules of the names build")
    parser.add_argument("--descriptions", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--reference", type=Path, help="also write the reference fixture here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    old_module = old_implementation()
    if args.reference:
        write_reference(old_module, args.reference)
    texts = benchmark_texts(args.source, args.names, args.descriptions)
    old = old_module.load_text_encoder()
    new = text_encoder.load_text_encoder()

    old_ids = [old.tokenizer.encode(t) for t in texts]
    same_ids = old_ids == new.encode_ids(texts)
    b = args.batch_size
    rates: dict[tuple[str, str], float] = {}
    for _ in range(args.repeats):  # interleaved, best of each: a shared machine is noisy
        for name, encoder in (("hand-written", old), ("transformers", new)):
            for kind in ("encode", "encode_tokens"):
                r = rate(lambda t, e=encoder, k=kind: getattr(e, k)(t, batch_size=b), texts)
                rates[(name, kind)] = max(r, rates.get((name, kind), 0.0))
    sentence_diff = np.abs(old.encode(texts, batch_size=b) - new.encode(texts, batch_size=b)).max()
    sample = slice(0, len(texts), max(1, len(texts) // 64))  # 64 texts, one padded batch
    state_diff = np.abs(
        padded_states(old, old_ids[sample]) - padded_states(new, old_ids[sample])
    ).max()
    old_flat, old_offsets = old.encode_tokens(texts, batch_size=b)
    new_flat, new_offsets = new.encode_tokens(texts, batch_size=b)
    same_offsets = np.array_equal(old_offsets, new_offsets)
    half_differ = int((old_flat != new_flat).sum()) if same_offsets else -1

    n_tokens = int(new_offsets[-1])
    print(
        f"{len(texts)} texts ({n_tokens} tokens), batch {b}, {args.threads} torch threads, "
        f"best of {args.repeats}"
    )
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}")
    for kind, label in (("encode", "sentence embeddings"), ("encode_tokens", "token states")):
        a, c = rates[("hand-written", kind)], rates[("transformers", kind)]
        print(f"{label}: hand-written {a:.0f} texts/s, transformers {c:.0f} texts/s ({c / a:.2f}x)")
    print(f"token ids identical: {same_ids}; offsets identical: {same_offsets}")
    print(
        f"max |difference|: sentence embeddings {sentence_diff:.2e}, token states {state_diff:.2e}"
    )
    print(f"float16 cached states differing: {half_differ} of {new_flat.size} values")


if __name__ == "__main__":
    main()
