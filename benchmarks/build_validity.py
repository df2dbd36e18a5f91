"""Throughput of ``molbench build validity`` against RDKit's own parsing speed on all cores.

Run: ``make bench`` or ``.venv/bin/python benchmarks/build_validity.py [--n-molecules N]``.
Prints molecules/second for the whole build (generation, notation, RDKit checks, audits,
hashing, Parquet) and for plain ``Chem.MolFromSmiles`` over the same SMILES, in a pool
of the same size — the ceiling a build that touches every molecule with RDKit could reach.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import pyarrow as pa
from rdkit import Chem, RDLogger

import molbench
from molbench.parallel import default_workers, ordered_map


def _parse_chunk(smiles: list[str]) -> int:
    RDLogger.DisableLog("rdApp.*")
    return sum(Chem.MolFromSmiles(s) is not None for s in smiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-molecules", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        result = molbench.build(
            "validity", {"n_molecules": args.n_molecules}, out=root, workers=args.workers
        )
        build_seconds = time.perf_counter() - start
        built = molbench.open_dataset(result.path)
        smiles = pa.concat_tables(built.table("random", s) for s in built.splits("random"))[
            "smiles"
        ].to_pylist()

    chunks = [smiles[i : i + 2000] for i in range(0, len(smiles), 2000)]
    start = time.perf_counter()
    with ordered_map(args.workers) as imap:
        parsed = sum(imap(_parse_chunk, chunks))
    rdkit_seconds = time.perf_counter() - start

    rows = result.manifest["groups"]["default"]["counts"]["rows"]
    print(f"machine: {platform.processor() or platform.machine()}, {args.workers} workers")
    print(
        f"molbench build validity: {rows:,} molecules in {build_seconds:.1f} s "
        f"= {rows / build_seconds:,.0f} molecules/s"
    )
    print(
        f"RDKit MolFromSmiles alone: {len(smiles):,} SMILES ({parsed:,} sanitise) in "
        f"{rdkit_seconds:.1f} s = {len(smiles) / rdkit_seconds:,.0f} molecules/s"
    )
    print(f"build / RDKit-parse throughput: {rdkit_seconds / build_seconds:.2f}")


if __name__ == "__main__":
    main()
