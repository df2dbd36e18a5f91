"""Throughput of ``molbench eval`` on 40,000 x top-10 reaction predictions against RDKit's limit.

Run: ``.venv/bin/python benchmarks/eval_reactions.py --dataset DIR`` where DIR is a reactions
build with ``uspto_mit`` test (``molbench build reactions --config uspto_mit --splits
validation,test --source ../shared/data``). Writes a seeded predictions file (per row: the
recorded product at a random rank or not at all, the other nine drawn from the products and
reactants of other rows, so SMILES repeat as a real model's do) and prints, measured in the
same run:

- SMILES/s of ``molbench eval`` (read, validate, canonicalise, rank, bootstrap, buckets);
- the canonicalise limit: ``MolFromSmiles`` + ``MolToSmiles`` of every *distinct* SMILES of
  the file once, on all cores (what any exact-match scorer must do at least);
- the ratio of the two (the issue's target: >= 0.8).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rdkit import Chem, RDLogger

import molbench
from molbench.evaluate import evaluate_predictions
from molbench.parallel import default_workers, ordered_map


def _canonicalise(chunk: list[str]) -> int:
    RDLogger.DisableLog("rdApp.*")
    done = 0
    for smiles in chunk:
        mol = Chem.MolFromSmiles(smiles)
        if mol is not None:
            Chem.MolToSmiles(mol)
            done += 1
    return done


def planted_predictions(test: pa.Table, seed: int) -> pa.Table:
    """Ten ranked candidates per row: the truth at a random rank (or absent), decoys around it."""
    rng = np.random.default_rng(seed)
    products = test["products"].to_pylist()
    reactants = test["reactants"].to_pylist()
    pool = products + reactants
    rows = []
    for product in products:
        decoys = [pool[i] for i in rng.integers(0, len(pool), size=10)]
        position = rng.integers(0, 14)  # 10..13: the truth is not among the ten
        if position < 10:
            decoys[position] = product
        rows.append(decoys)
    return pa.table({"id": test["id"], "predictions": rows})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="reactions build directory")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    test = molbench.open_dataset(args.dataset).table("uspto_mit", "test")
    predictions = planted_predictions(test, args.seed)
    distinct = sorted({s for row in predictions["predictions"].to_pylist() for s in row})
    n_smiles = sum(len(row) for row in predictions["predictions"].to_pylist())

    chunks = [distinct[i : i + 2000] for i in range(0, len(distinct), 2000)]
    start = time.perf_counter()
    with ordered_map(args.workers) as imap:
        sum(imap(_canonicalise, chunks))
    limit_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictions.parquet"
        pq.write_table(predictions, path)
        start = time.perf_counter()
        result = evaluate_predictions(str(path), args.dataset, "uspto_mit", "test")
        eval_seconds = time.perf_counter() - start

    print(f"machine: {platform.processor() or platform.machine()}, {args.workers} workers")
    print(
        f"molbench eval: {len(test):,} rows x 10 = {n_smiles:,} SMILES "
        f"({len(distinct):,} distinct) in {eval_seconds:.1f} s; top-1 "
        f"{result['metrics']['top1']:.3f}"
    )
    print(
        f"canonicalise limit: {len(distinct):,} distinct SMILES once on {args.workers} cores in "
        f"{limit_seconds:.1f} s"
    )
    print(f"eval / canonicalise-limit throughput: {limit_seconds / eval_seconds:.2f}")


if __name__ == "__main__":
    main()
