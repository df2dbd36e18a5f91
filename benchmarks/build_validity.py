"""Throughput of ``molbench build validity`` against RDKit's own parsing speed, side by side.

Run: ``make bench`` or ``.venv/bin/python benchmarks/build_validity.py [--n-molecules N]
[--workers W] [--repeats R]``. Each repeat times the whole build (generation, notation,
RDKit checks, audits, hashing, Parquet) and then, over the same SMILES in a pool of the same
size, plain ``Chem.MolFromSmiles`` (the ceiling of any build that touches every molecule
with RDKit) and the build's own RDKit judge alone (parse, sanitise, canonical SMILES: the
ceiling of this build, whose every row is judged). On a shared machine the absolute
numbers drift with the load (printed with each repeat); the ratio of a pair, measured
back to back, drifts much less.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time

import pyarrow as pa
from rdkit import Chem, RDLogger

import molbench
from molbench.chem.rdkit_oracle import judge_many
from molbench.parallel import default_workers, ordered_map


def _parse_chunk(smiles: list[str]) -> int:
    RDLogger.DisableLog("rdApp.*")
    return sum(Chem.MolFromSmiles(s) is not None for s in smiles)


def _cpu_seconds() -> float:
    """User + system time of this process and its finished children (the pool workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _build(n_molecules: int, workers: int) -> tuple[float, int, str, list[str]]:
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        result = molbench.build("validity", {"n_molecules": n_molecules}, out=root, workers=workers)
        seconds = time.perf_counter() - start
        built = molbench.open_dataset(result.path)
        smiles = pa.concat_tables(built.table("random", s) for s in built.splits("random"))[
            "smiles"
        ].to_pylist()
    rows = result.manifest["groups"]["default"]["counts"]["rows"]
    return seconds, rows, result.manifest["content_hash"], smiles


def _parse(smiles: list[str], workers: int) -> tuple[float, int]:
    chunks = [smiles[i : i + 2000] for i in range(0, len(smiles), 2000)]
    start = time.perf_counter()
    with ordered_map(workers) as imap:
        parsed = sum(imap(_parse_chunk, chunks))
    return time.perf_counter() - start, parsed


def _judge(smiles: list[str], workers: int) -> float:
    """Seconds for the build's RDKit judge alone over the same SMILES, same pool size."""
    chunks = [smiles[i : i + 2000] for i in range(0, len(smiles), 2000)]
    start = time.perf_counter()
    with ordered_map(workers) as imap:
        for _ in imap(judge_many, chunks):
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-molecules", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {args.workers} workers")
    rates, ratios = [], []
    for repeat in range(1, args.repeats + 1):
        before = _load()
        cpu = _cpu_seconds()
        build_seconds, rows, content_hash, smiles = _build(args.n_molecules, args.workers)
        build_cpu = _cpu_seconds() - cpu
        rdkit_seconds, parsed = _parse(smiles, args.workers)
        rdkit_cpu = _cpu_seconds() - cpu - build_cpu
        judge_seconds = _judge(smiles, args.workers)
        judge_cpu = _cpu_seconds() - cpu - build_cpu - rdkit_cpu
        rates.append(rows / build_seconds)
        ratios.append(rdkit_seconds / build_seconds)
        print(f"repeat {repeat} ({before} before, {_load()} after), {content_hash}")
        print(
            f"  molbench build validity: {rows:,} molecules in {build_seconds:.1f} s "
            f"= {rows / build_seconds:,.0f} molecules/s"
        )
        print(
            f"  RDKit MolFromSmiles alone: {len(smiles):,} SMILES ({parsed:,} sanitise) in "
            f"{rdkit_seconds:.1f} s = {len(smiles) / rdkit_seconds:,.0f} molecules/s"
        )
        print(f"  build / RDKit-parse throughput: {ratios[-1]:.2f}")
        print(
            f"  the build's RDKit judge alone (parse, sanitise, canonical SMILES): "
            f"{len(smiles) / judge_seconds:,.0f} molecules/s; build / judge: "
            f"{judge_seconds / build_seconds:.2f}"
        )
        print(
            f"  CPU time (all processes): build {build_cpu:.1f} s = "
            f"{build_cpu / rows * 1e6:.0f} us/molecule, parse {rdkit_cpu:.1f} s = "
            f"{rdkit_cpu / len(smiles) * 1e6:.0f} us/molecule, judge {judge_cpu:.1f} s = "
            f"{judge_cpu / len(smiles) * 1e6:.0f} us/molecule"
        )
    if args.repeats > 1:
        print(
            f"median of {args.repeats}: {statistics.median(rates):,.0f} molecules/s, "
            f"ratio {statistics.median(ratios):.2f}"
        )


if __name__ == "__main__":
    main()
