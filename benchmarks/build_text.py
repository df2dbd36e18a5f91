"""Time and memory of ``molbench build text`` for ChEBI-20 at its full size (33,008 pairs).

Run: ``.venv/bin/python benchmarks/build_text.py --source ../shared/data``. The published
train file with descriptions (26,407 rows) is not in the raw-data folder, so a stand-in is
written from the real train molecules (the CID + SMILES file) with descriptions drawn,
seeded, from the validation and test files. Builds the ``chebi20`` group (published and
scaffold splits) and the ``chebi20_molecules`` corpus with ``--allow-unverified`` and
prints wall time, rows/s and peak RSS of the build: main process and workers together.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from peak_rss import PeakRSS, rusage_mib

import molbench
from molbench import sources
from molbench.builders import text
from molbench.parallel import default_workers


def full_size_raw(source: str | None, root: Path, seed: int = 0) -> Path:
    """A raw root with the real validation/test/structure files and a stand-in train.txt."""
    folder = root / "chebi20"
    folder.mkdir(parents=True, exist_ok=True)
    descriptions = []
    for split in ("validation", "test"):
        resolved = sources.resolve(text.SOURCES[split], source, download=False)
        shutil.copyfile(resolved.path, folder / resolved.path.name)
        lines = [line for _, line in sources.read_lines(resolved)][1:]
        descriptions += [line.split("\t", 2)[2] for line in lines]
    structures = sources.resolve(text.TRAIN_STRUCTURES, source, download=False)
    shutil.copyfile(structures.path, folder / structures.path.name)
    molecules = [line for _, line in sources.read_lines(structures)][1:]
    picks = np.random.default_rng(seed).integers(len(descriptions), size=len(molecules))
    body = [text.CHEBI_HEADER] + [
        f"{molecule}\t{descriptions[i]}"
        for molecule, i in zip(molecules, picks.tolist(), strict=True)
    ]
    with gzip.open(folder / "train.txt.gz", "wt", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(body) + "\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("MOLBENCH_RAW_DIR"))
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--work", help="Keep the raw root and the build here.")
    args = parser.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="molbench-bench-"))
    raw = work / "raw"
    if not (raw / "chebi20" / "train.txt.gz").is_file():
        full_size_raw(args.source, raw)
    with PeakRSS() as peak:
        start = time.perf_counter()
        result = molbench.build(
            "text",
            configs=["chebi20", "chebi20_molecules"],
            out=work / "out",
            workers=args.workers,
            source=raw,
            allow_unverified=True,
            force=True,
        )
        seconds = time.perf_counter() - start
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    groups = result.manifest["groups"]
    n = sum(g["rows"] + g["quarantine"]["rows"] for g in groups.values())
    own, child = rusage_mib()
    print(f"machine: {platform.processor() or platform.machine()}, {args.workers} workers")
    print(
        f"molbench build text (chebi20 + chebi20_molecules, full size, stand-in train "
        f"descriptions; configs {', '.join(result.manifest['configs'])}): {n:,} rows in "
        f"{seconds:.1f} s = {n / seconds:,.0f} rows/s"
    )
    print(f"peak RSS, main + workers (sum sampled from /proc): {peak.bytes / 2**20:,.0f} MiB")
    print(f"  kernel max RSS: main process {own:,.0f} MiB, largest worker {child:,.0f} MiB")
    print(f"content hash: {result.manifest['content_hash']}")


if __name__ == "__main__":
    main()
