"""Throughput of ``molbench build reactions`` against RDKit's own limit on this machine.

Run: ``.venv/bin/python benchmarks/build_reactions.py --source ../shared/data``
(or with ``$MOLBENCH_RAW_DIR`` set). Builds the evaluation-only USPTO-MIT config (70,000
reactions) into a temporary root — with ``--full-size``, all 479,035 reactions: a stand-in
train file of 409,035 lines in the published format is generated from the 70,000 evaluation
reactions (atom maps renumbered, precursor order shuffled, so rows differ) — and prints,
all measured in the same run:

- reactions/s of the whole build (read, parse, canonicalise, separate, edit check, InChIKey,
  scaffold, tokens, graph, audits, hashing, Parquet, card) and of its row phase alone;
- the RDKit limit, measured before and after the build and averaged: a plain
  single-process loop of ``MolFromSmiles`` + ``MolToSmiles`` over both sides of the same
  reactions, times the number of cores;
- the ratio of the two (wall clock, which a busy machine distorts) and per CPU-second of
  main process and workers against the RDKit calls' CPU-seconds (what load does not change);
- the peak RSS of the build: main process and workers together
  (their sum sampled from /proc), and the kernel's maximum for each.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import re
import resource
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from peak_rss import PeakRSS, rusage_mib
from rdkit import Chem, RDLogger

import molbench
from molbench import fsutil, sources
from molbench.builders import reactions
from molbench.parallel import default_workers


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the build's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


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


def rdkit_same_calls_loop(lines: list[str]) -> tuple[float, float]:
    """Reactions per second and per CPU-second of the RDKit calls a row needs beyond that:
    + product InChIKey + scaffold."""
    from rdkit.Chem.Scaffolds import MurckoScaffold

    RDLogger.DisableLog("rdApp.*")
    start, cpu_start = time.perf_counter(), time.process_time()
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
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return len(lines) / wall, len(lines) / cpu


_MAP = re.compile(r":(\d+)\]")


def stand_in_line(line: str, rng: np.random.Generator) -> str:
    """The same reaction written differently: atom maps permuted, precursors shuffled."""
    rxn, edits = line.split(" ", 1)
    left, right = rxn.split(">>")
    numbers = sorted({int(n) for n in _MAP.findall(rxn)})
    renumber = dict(zip(numbers, rng.permutation(numbers).tolist(), strict=True))

    def swap(text: str) -> str:
        return _MAP.sub(lambda m: f":{renumber[int(m.group(1))]}]", text)

    molecules = left.split(".")
    left = ".".join(molecules[i] for i in rng.permutation(len(molecules)))
    pairs = [p.split("-") for p in edits.strip().split(";") if p]
    new_edits = ";".join(f"{renumber[int(a)]}-{renumber[int(b)]}" for a, b in pairs)
    return f"{swap(left)}>>{swap(right)} {new_edits}"


def full_size_raw(source: str | None, root: Path, seed: int = 0) -> Path:
    """A raw root with the real valid/test archives and a 409,035-line stand-in train."""
    folder = root / "uspto_mit"
    folder.mkdir(parents=True, exist_ok=True)
    evaluation = []
    for split in ("validation", "test"):
        resolved = sources.resolve(reactions.SOURCES["uspto_mit"][split], source, download=False)
        shutil.copyfile(resolved.path, folder / resolved.path.name)
        evaluation += [text for _, text in sources.read_lines(resolved)]
    rng = np.random.default_rng(seed)
    n_train = reactions.PUBLISHED_COUNTS["uspto_mit"]["train"]
    picks = rng.integers(len(evaluation), size=n_train)
    body = "".join(stand_in_line(evaluation[i], rng) + "\n" for i in picks.tolist()).encode()
    info = tarfile.TarInfo("train.txt")
    info.size, info.mtime = len(body), 0
    with tarfile.open(folder / "train.txt.tar.gz", "w:gz") as archive:
        archive.addfile(info, io.BytesIO(body))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("MOLBENCH_RAW_DIR"))
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--baseline-reactions", type=int, default=10_000)
    parser.add_argument("--full-size", action="store_true", help="All 479,035 reactions.")
    parser.add_argument("--work", help="Keep the build (and --full-size raw root) here.")
    parser.add_argument("--record", help="Write the content hash and Parquet sha256s here.")
    args = parser.parse_args()

    test = sources.resolve(reactions.SOURCES["uspto_mit"]["test"], args.source, download=False)
    lines = [text for _, text in sources.read_lines(test)][: args.baseline_reactions]
    # The limits are measured before and after the build and averaged: a shared machine's
    # speed drifts over a long build (seen: 35 % between two runs minutes apart).
    before = (rdkit_loop(lines), *rdkit_same_calls_loop(lines))

    work = Path(args.work or tempfile.mkdtemp(prefix="molbench-bench-"))
    source, params, what = args.source, {"splits": "validation,test"}, "validation+test"
    if args.full_size:
        source, params, what = work / "raw", {}, "full size, 3 splits, stand-in train"
        if not (source / "uspto_mit" / "train.txt.tar.gz").is_file():
            start = time.perf_counter()
            full_size_raw(args.source, source)
            print(f"stand-in train file generated in {time.perf_counter() - start:.0f} s")
    with PeakRSS() as peak:
        start, cpu_start = time.perf_counter(), cpu_seconds()
        result = molbench.build(
            "reactions",
            params,
            configs=["uspto_mit"],
            out=work / "out",
            workers=args.workers,
            source=source,
            allow_unverified=args.full_size,
            force=True,
        )
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    after = (rdkit_loop(lines), *rdkit_same_calls_loop(lines))
    mean = [(b + a) / 2 for b, a in zip(before, after, strict=True)]
    single, same_calls, same_calls_per_cpu = mean
    limit = single * args.workers
    same_calls *= args.workers
    group = result.manifest["groups"]["uspto_mit"]
    n = group["rows"] + group["quarantine"]["rows"]
    rate = n / seconds
    own, child = rusage_mib()

    print(f"machine: {platform.processor() or platform.machine()}, {args.workers} workers")
    print(f"RDKit limit: {single:,.0f} reactions/s single process (parse + canonicalise both")
    print(f"  sides, {len(lines):,} reactions) x {args.workers} cores = {limit:,.0f} reactions/s")
    print(
        "  (mean of before and after the build; RDKit calls per CPU-second "
        f"{before[2]:,.0f} before, {after[2]:,.0f} after)"
    )
    print(
        f"molbench build reactions (uspto_mit {what}; configs {', '.join(group['configs'])}): "
        f"{n:,} reactions in {seconds:.1f} s"
    )
    print(f"  = {rate:,.0f} reactions/s = {rate / limit:.2f} x the RDKit limit")
    print(
        f"  (RDKit calls alone incl. product InChIKey + scaffold: {same_calls:,.0f} reactions/s "
        f"on {args.workers} cores; molbench = {rate / same_calls:.2f} x that)"
    )
    per_cpu = n / cpu
    print(
        f"  per CPU-second (main + workers, load-independent): {per_cpu:,.0f} reactions vs "
        f"{same_calls_per_cpu:,.0f} for the RDKit calls alone = "
        f"{per_cpu / same_calls_per_cpu:.2f} x"
    )
    print(f"peak RSS, main + workers (sum sampled from /proc): {peak.bytes / 2**20:,.0f} MiB")
    print(f"  kernel max RSS: main process {own:,.0f} MiB, largest worker {child:,.0f} MiB")
    print(f"content hash: {result.manifest['content_hash']}")
    if args.record:
        files = {k: v["sha256"] for k, v in result.manifest["files"].items()}
        record = {"content_hash": result.manifest["content_hash"], "files": files}
        fsutil.write_json(Path(args.record), record)


if __name__ == "__main__":
    main()
