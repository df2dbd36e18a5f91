"""Throughput of ``molbench build reactions`` against RDKit's own limit on this machine.

Run: ``.venv/bin/python benchmarks/build_reactions.py --source ../shared/data``
(or with ``$MOLBENCH_RAW_DIR`` set). Builds the evaluation-only USPTO-MIT config (70,000
reactions) into a temporary root and prints, all measured in the same run:

- reactions/s of the whole build (read, parse, canonicalise, separate, edit check, InChIKey,
  scaffold, tokens, graph, audits, hashing, Parquet, card) and of its row phase alone;
- the RDKit limit: a plain single-process loop of ``MolFromSmiles`` + ``MolToSmiles`` over
  both sides of the same reactions, times the number of cores;
- the ratio of the two, and the peak RSS of the build process and of its workers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import tempfile
import time

from rdkit import Chem, RDLogger

import molbench
from molbench import sources
from molbench.builders import reactions
from molbench.parallel import default_workers


def rdkit_loop(lines: list[str]) -> float:
    """Reactions/s of parse + canonicalise of both sides, one process."""
    RDLogger.DisableLog("rdApp.*")
    start = time.perf_counter()
    for line in lines:
        for side in line.split(" ", 1)[0].split(">>"):
            mol = Chem.MolFromSmiles(side)
            if mol is None:
                mol = Chem.MolFromSmiles(side, sanitize=False)
            Chem.MolToSmiles(mol)
    return len(lines) / (time.perf_counter() - start)


def rdkit_same_calls_loop(lines: list[str]) -> float:
    """Reactions/s of the RDKit calls a row needs beyond that: + product InChIKey + scaffold."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    RDLogger.DisableLog("rdApp.*")
    start = time.perf_counter()
    for line in lines:
        mols = []
        for side in line.split(" ", 1)[0].split(">>"):
            mol = Chem.MolFromSmiles(side)
            if mol is None:
                mol = Chem.MolFromSmiles(side, sanitize=False)
            Chem.MolToSmiles(mol)
            mols.append(mol)
        Chem.MolToInchiKey(mols[-1])
        with contextlib.suppress(RuntimeError, ValueError):
            Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(mols[-1]))
    return len(lines) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("MOLBENCH_RAW_DIR"))
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--baseline-reactions", type=int, default=10_000)
    args = parser.parse_args()

    test = sources.resolve(reactions.SOURCES["uspto_mit"]["test"], args.source, download=False)
    lines = [text for _, text in sources.read_lines(test)][: args.baseline_reactions]
    single = rdkit_loop(lines)
    limit = single * args.workers
    same_calls = rdkit_same_calls_loop(lines) * args.workers

    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        result = molbench.build(
            "reactions",
            {"splits": "validation,test"},
            configs=["uspto_mit"],
            out=root,
            workers=args.workers,
            source=args.source,
        )
        seconds = time.perf_counter() - start
    group = result.manifest["groups"]["uspto_mit"]
    n = group["rows"] + group["quarantine"]["rows"]
    rate = n / seconds
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    print(f"machine: {platform.processor() or platform.machine()}, {args.workers} workers")
    print(f"RDKit limit: {single:,.0f} reactions/s single process (parse + canonicalise both")
    print(f"  sides, {len(lines):,} reactions) x {args.workers} cores = {limit:,.0f} reactions/s")
    print(
        f"molbench build reactions (uspto_mit validation+test): {n:,} reactions in {seconds:.1f} s"
    )
    print(f"  = {rate:,.0f} reactions/s = {rate / limit:.2f} x the RDKit limit")
    print(
        f"  (RDKit calls alone incl. product InChIKey + scaffold: {same_calls:,.0f} reactions/s "
        f"on {args.workers} cores; molbench = {rate / same_calls:.2f} x that)"
    )
    print(f"peak RSS: build process {peak_self:,.0f} MiB, largest worker {peak_children:,.0f} MiB")
    print(f"content hash: {result.manifest['content_hash']}")


if __name__ == "__main__":
    main()
