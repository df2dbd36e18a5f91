"""Regenerate the small raw-data fixtures under tests/fixtures/raw/ from the real files.

    python tools/make_fixtures.py /work/shared/data

Seeded and byte-reproducible (fixed tar/zip/gzip timestamps). The fixtures stand in for
all three USPTO-MIT files (the "train" file is sampled from the published valid split,
disjoint from the lines sampled as valid) and for USPTO-15K's data.zip. The reactions
are from Lowe's CC0 USPTO extraction; USPTO-15K's repository is MIT-licensed. The ChEBI-20
fixture (CC BY 4.0, ChEBI via PubChem; Text2Mol / MolT5) samples the published validation
and test files; its "train" file is further validation lines, disjoint from the ones used
as validation, and the CID + SMILES file lists the same train molecules.
"""

from __future__ import annotations

import gzip
import io
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "raw"
# lines RDKit cannot sanitise are always included, so the fixture exercises the flag
MIT_SIZES = {"train": 40, "valid": 14, "test": 14}
K15_SIZES = {"train": 30, "valid": 10, "test": 10}
CHEBI_SIZES = {"train": 30, "validation": 12, "test": 12}
CHEBI_HEADER = "CID\tSMILES\tdescription"


def read_member(archive: Path, member: str) -> list[str]:
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            return z.read(member).decode().splitlines()
    with tarfile.open(archive) as t:
        return t.extractfile(member).read().decode().splitlines()


def unsanitizable(lines: list[str]) -> list[int]:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    bad = []
    for i, line in enumerate(lines):
        rxn = line.split()[0]
        if any(Chem.MolFromSmiles(side) is None for side in rxn.split(">>")):
            bad.append(i)
    return bad


def sample(lines: list[str], n: int, rng: np.random.Generator, must: list[int]) -> list[str]:
    """``n`` lines in file order: the ``must`` ones plus a seeded sample of short lines."""
    short = [i for i, line in enumerate(lines) if len(line) < 260 and i not in must]
    chosen = sorted(must + rng.choice(short, size=n - len(must), replace=False).tolist())
    return [lines[i] for i in chosen]


def tar_gz(path: Path, member: str, text: str) -> None:
    data = text.encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo(member)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        t.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))


def main(root: Path) -> None:
    rng = np.random.default_rng(20171204)
    valid = read_member(root / "uspto_mit" / "valid.txt.tar.gz", "valid.txt")
    test = read_member(root / "uspto_mit" / "test.txt.tar.gz", "test.txt")
    bad_valid, bad_test = unsanitizable(valid), unsanitizable(test)
    half = len(valid) // 2  # train stand-in from the first half, valid from the second
    mit = {
        "train": sample(valid[:half], MIT_SIZES["train"], rng, bad_valid[:1]),
        "valid": sample(valid[half:], MIT_SIZES["valid"], rng, []),
        "test": sample(test, MIT_SIZES["test"], rng, bad_test[:1]),
    }
    mit["train"].append(mit["test"][1])  # one reaction in train and test: the audits see it
    (OUT / "uspto_mit").mkdir(parents=True, exist_ok=True)
    for split, lines in mit.items():
        tar_gz(OUT / "uspto_mit" / f"{split}.txt.tar.gz", f"{split}.txt", "\n".join(lines) + "\n")
    k15 = {s: read_member(root / "uspto_15k" / "data.zip", f"data/{s}.txt") for s in K15_SIZES}
    (OUT / "uspto_15k").mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(OUT / "uspto_15k" / "data.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for split, n in K15_SIZES.items():
            info = zipfile.ZipInfo(f"data/{split}.txt", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, "\n".join(sample(k15[split], n, rng, [])) + "\n")
    chebi(root, rng)
    print(f"wrote fixtures under {OUT}")


def gz_text(path: Path, text: str) -> None:
    path.write_bytes(gzip.compress(text.encode(), mtime=0))


def chebi(root: Path, rng: np.random.Generator) -> None:
    """Short rows, with at least one escaped backslash in each file."""

    def rows(name: str) -> list[str]:
        return gzip.decompress((root / "chebi20" / name).read_bytes()).decode().splitlines()[1:]

    valid, test = rows("validation.txt.gz"), rows("test.txt.gz")
    half = len(valid) // 2

    def pick(lines: list[str], n: int) -> list[str]:
        short = [i for i, line in enumerate(lines) if len(line) < 400]
        escaped = [i for i in short if "\\\\" in line_at(lines, i)][:1]
        rest = [i for i in short if i not in escaped]
        chosen = sorted(escaped + rng.choice(rest, size=n - len(escaped), replace=False).tolist())
        return [lines[i] for i in chosen]

    chosen = {
        "train": pick(valid[:half], CHEBI_SIZES["train"]),
        "validation": pick(valid[half:], CHEBI_SIZES["validation"]),
        "test": pick(test, CHEBI_SIZES["test"]),
    }
    out = OUT / "chebi20"
    out.mkdir(parents=True, exist_ok=True)
    for split, lines in chosen.items():
        gz_text(out / f"{split}.txt.gz", "\n".join([CHEBI_HEADER, *lines]) + "\n")
    structures = ["\t".join(line.split("\t")[:2]) for line in chosen["train"]]
    structures.sort(key=lambda line: int(line.split("\t")[0]))
    gz_text(
        out / "train_cid_smiles_NO_DESCRIPTIONS.tsv.gz",
        "\n".join(["CID\tSMILES", *structures]) + "\n",
    )


def line_at(lines: list[str], i: int) -> str:
    return lines[i]


if __name__ == "__main__":
    main(Path(sys.argv[1]))
