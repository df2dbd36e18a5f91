"""Build molbench/data/smiles_vocab_v1.json: a base token set plus every token of the raw data.

Usage: python tools/make_vocab.py --raw-dir DIR [--out FILE] [--check]

DIR holds the raw files in the layout of their SOURCE.md files (uspto_mit/, uspto_15k/,
chebi20/); their sha256s are pinned below. Reactions are tokenized as canonical RDKit SMILES
of each side with atom maps removed, molecules as canonical RDKit SMILES: the form the
builders feed to models. A token enters the vocabulary if it is in the base set or occurs at
least MIN_COUNT times in the data. Non-special tokens are sorted by code point, so ids do not
depend on counts. Same input files and RDKit version -> byte-identical output; ``--check``
compares against the existing file instead of writing it. Coverage is logged to stderr:
the fraction of ``<unk>`` per source, and the same for a vocabulary built without that source
(an estimate for data the vocabulary has not seen, such as USPTO-MIT train).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import logging
import os
import sys
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import rdkit
from rdkit import Chem, RDLogger

from molbench.chem.tokens import SMILES_REGEX, SPECIALS, VOCAB_FORMAT, tokenize

log = logging.getLogger("make_vocab")

VERSION = "1"
NAME = "molbench-smiles-v1"
MIN_COUNT = 1  # every token seen in the data: no <unk> on the sources the vocabulary covers
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "molbench" / "data" / "smiles_vocab_v1.json"

# Elements that get the full bracket family ([X], [XH], [X+], [XH2-], ...) with their most
# hydrogens written in brackets. Carbon goes to CH6 for the hydrocarbon validity set, whose
# invalid molecules are written with explicit H counts.
# fmt: off
NONMETAL_MAX_H = {
    "B": 4, "C": 6, "N": 4, "O": 3, "F": 1, "Si": 4, "P": 4, "S": 3, "Cl": 1, "Ge": 4,
    "As": 3, "Se": 2, "Br": 1, "Sn": 4, "Te": 2, "I": 1,
}
METALS = [
    "Li", "Be", "Na", "Mg", "Al", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu",
    "Zn", "Ga", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sb",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu",
    "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Th", "U",
]
OTHER_ELEMENTS = ["He", "Ne", "Ar", "Kr", "Xe", "Po", "At", "Rn"]
HYDRIDES = ["[HH]", "[AlH]", "[AlH2]", "[AlH3]", "[AlH4-]", "[AlH2-]", "[GaH3]", "[SnH3]", "[IH2]"]
AROMATIC = ["b", "c", "n", "o", "p", "s", "as", "se", "si", "te"]
CHIRAL = ["B", "C", "N", "P", "S", "Si", "Ge", "Se", "Sn", "As"]
ISOTOPES = [
    "[2H]", "[3H]", "[11C]", "[11CH3]", "[13C]", "[13CH]", "[13CH2]", "[13CH3]", "[13CH4]",
    "[13c]", "[13cH]", "[14C]", "[14CH]", "[14CH2]", "[14CH3]", "[14c]", "[14cH]", "[15N]",
    "[15NH]", "[15NH2]", "[15n]", "[15nH]", "[17O]", "[18O]", "[18OH]", "[18F]", "[32P]", "[35S]",
    "[36Cl]", "[76Br]", "[77Br]", "[123I]", "[124I]", "[125I]", "[131I]", "[99Tc]", "[2H+]",
    "[2H-]", "[3H+]",
]
ORGANIC = ["B", "C", "N", "O", "P", "S", "F", "Cl", "Br", "I"]
AROMATIC_ORGANIC = ["b", "c", "n", "o", "p", "s"]
SYNTAX = ["-", "=", "#", "$", ":", "/", "\\", "~", "(", ")", ".", ">", "*"]
# fmt: on
RING_CLOSURES = [str(d) for d in range(10)] + [f"%{d}" for d in range(10, 100)]


def _charge(c: int) -> str:
    return "" if c == 0 else ("+" if c > 0 else "-") + (str(abs(c)) if abs(c) > 1 else "")


def _hydrogens(h: int) -> str:
    return "" if h == 0 else "H" if h == 1 else f"H{h}"


def base_tokens() -> set[str]:
    """Tokens in the vocabulary whatever the data: syntax and the common bracket atoms."""
    out = set(ORGANIC) | set(AROMATIC_ORGANIC) | set(SYNTAX) | set(RING_CLOSURES)
    out |= {"[H]", "[H+]", "[H-]", "[*]"} | set(ISOTOPES) | set(HYDRIDES)
    for element, max_h in NONMETAL_MAX_H.items():
        out |= {
            f"[{element}{_hydrogens(h)}{_charge(c)}]" for h in range(max_h + 1) for c in (-1, 0, 1)
        }
        out |= {f"[{element}{_charge(c)}]" for c in (-2, 2, 3)}
    for element in METALS:
        out |= {f"[{element}{_charge(c)}]" for c in (-2, -1, 0, 1, 2, 3, 4)}
        out |= {f"[{element}H]", f"[{element}H2]"}
    out |= {f"[{element}]" for element in OTHER_ELEMENTS}
    for atom in AROMATIC:
        out |= {f"[{atom}{_hydrogens(h)}{_charge(c)}]" for h in (0, 1) for c in (-1, 0, 1)}
    for element in CHIRAL:
        out |= {f"[{element}{s}{_hydrogens(h)}]" for s in ("@", "@@") for h in (0, 1)}
        out |= {f"[{element}{s}{c}]" for s in ("@", "@@") for c in ("+", "-")}
    out |= {f"[N{s}H+]" for s in ("@", "@@")}
    return out


@dataclass(frozen=True)
class Source:
    """One raw file: where it lies under the raw dir, its pinned sha256, and how to read it."""

    name: str
    file: str
    sha256: str
    member: str
    kind: str  # "reactions" (mapped reaction SMILES first on a line) or "molecules" (TSV)


SOURCES = (
    Source(
        "uspto_mit/valid",
        "uspto_mit/valid.txt.tar.gz",
        "63efb7a1a0e33182db71ce4c3c8ee4260f5e69225d3bf21dfba987458ff40927",
        "valid.txt",
        "reactions",
    ),
    Source(
        "uspto_mit/test",
        "uspto_mit/test.txt.tar.gz",
        "5c94cf795ea38548d73e010a382ae6f164c0757fc5d2aa0550e82cbe63200d0c",
        "test.txt",
        "reactions",
    ),
    *(
        Source(
            f"uspto_15k/{split}",
            "uspto_15k/data.zip",
            "66b4f5cb6b5de4bd7c3d72bdb7fa0c5073c4b97984109f0dae0b10997a9aa723",
            f"data/{split}.txt",
            "reactions",
        )
        for split in ("train", "valid", "test")
    ),
    Source(
        "chebi20/train",
        "chebi20/train_cid_smiles_NO_DESCRIPTIONS.tsv.gz",
        "d8d7eac248893e0cb3fae72dcb687308b48437a9a58c9426b3a6700daedcc870",
        "",
        "molecules",
    ),
    Source(
        "chebi20/validation",
        "chebi20/validation.txt.gz",
        "48c1666417475407d092e39fb09bb26dad66aea15f07c953a43bcb010c912647",
        "",
        "molecules",
    ),
    Source(
        "chebi20/test",
        "chebi20/test.txt.gz",
        "9553ef3206e81c5af3df567a187b110a9b9717a39d0d9cf0d1b30b6692dca1fe",
        "",
        "molecules",
    ),
)


def read_text(raw: bytes, source: Source) -> str:
    """The text of ``source`` from the bytes of its file (a tar.gz, zip or gz)."""
    if source.file.endswith(".tar.gz"):
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
            member = tar.extractfile(source.member)
            if member is None:
                raise ValueError(f"{source.file} has no file {source.member}")
            return member.read().decode("utf-8")
    if source.file.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            return z.read(source.member).decode("utf-8")
    return gzip.decompress(raw).decode("utf-8")


def records(text: str, source: Source) -> Iterator[str]:
    """Raw SMILES per record: field 1 of a reaction line, or the SMILES column, un-escaped."""
    lines = text.splitlines()
    if source.kind == "reactions":
        yield from (line.split(" ", 1)[0] for line in lines if line.strip())
        return
    column = lines[0].split("\t").index("SMILES")
    for line in lines[1:]:
        # MolT5 files write a literal backslash doubled.
        yield line.split("\t")[column].replace("\\\\", "\\")


def canonical(smiles: str) -> tuple[str | None, bool]:
    """Canonical SMILES without atom maps, and whether sanitisation had to be skipped."""
    mol = Chem.MolFromSmiles(smiles)
    unsanitized = mol is None
    if mol is None:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return None, unsanitized
    for atom in mol.GetAtoms():
        atom.SetAtomMapNum(0)
    return Chem.MolToSmiles(mol), unsanitized


def canonical_reaction(reaction: str) -> tuple[str | None, bool]:
    """Each side (reactants, agents, products) canonicalised on its own; '>' kept."""
    sides = []
    any_unsanitized = False
    for side in reaction.split(">"):
        if not side:
            sides.append("")
            continue
        smiles, unsanitized = canonical(side)
        if smiles is None:
            return None, True
        sides.append(smiles)
        any_unsanitized |= unsanitized
    return ">".join(sides), any_unsanitized


def count_tokens(text: str, source: Source) -> tuple[Counter[str], dict[str, int]]:
    """Token counts of one source, and how many records RDKit could not sanitise or parse."""
    counts: Counter[str] = Counter()
    stats = {"records": 0, "unsanitized": 0, "unparsed": 0}
    convert = canonical_reaction if source.kind == "reactions" else canonical
    for raw in records(text, source):
        stats["records"] += 1
        smiles, unsanitized = convert(raw)
        if smiles is None:
            stats["unparsed"] += 1
            continue
        stats["unsanitized"] += unsanitized
        counts.update(tokenize(smiles))
    return counts, stats


def build(raw_dir: Path) -> tuple[dict, dict[str, Counter[str]]]:
    """The vocabulary file's content, and the token counts per source it was built from."""
    counts: dict[str, Counter[str]] = {}
    built_from = []
    raw_by_file: dict[str, bytes] = {}
    for source in SOURCES:
        if source.file not in raw_by_file:
            raw_by_file[source.file] = (raw_dir / source.file).read_bytes()
            digest = hashlib.sha256(raw_by_file[source.file]).hexdigest()
            if digest != source.sha256:
                raise SystemExit(f"{source.file}: sha256 {digest}, expected {source.sha256}")
        counts[source.name], stats = count_tokens(
            read_text(raw_by_file[source.file], source), source
        )
        log.info("%s: %s", source.name, stats)
        entry = {"name": source.name, "file": source.file, "sha256": source.sha256}
        built_from.append(entry | ({"member": source.member} if source.member else {}) | stats)
    total = sum(counts.values(), Counter())
    base = base_tokens()
    frequent = {token for token, n in total.items() if n >= MIN_COUNT}
    tokens = [*SPECIALS, *sorted((base | frequent) - set(SPECIALS))]
    content = {
        "format": VOCAB_FORMAT,
        "version": VERSION,
        "name": NAME,
        "specials": list(SPECIALS),
        "tokens": tokens,
        "regex": SMILES_REGEX,
        "built_from": {
            "script": "tools/make_vocab.py",
            "rdkit": rdkit.__version__,
            "min_count": MIN_COUNT,
            "base_tokens": len(base),
            "data_tokens": len(frequent),
            "data_tokens_not_in_base": len(frequent - base),
            "sources": built_from,
        },
    }
    return content, counts


def log_coverage(tokens: set[str], counts: dict[str, Counter[str]]) -> None:
    """<unk> fraction per source with the vocabulary, and with one built without that source."""
    base = base_tokens()
    for name, own in counts.items():
        others = {t for other, c in counts.items() if other != name for t in c}
        held_out = base | others
        n = sum(own.values())
        unk = sum(c for t, c in own.items() if t not in tokens)
        unk_held_out = sum(c for t, c in own.items() if t not in held_out)
        rare = sorted(t for t in own if t not in held_out)
        log.info(
            "%s: %d tokens, unk %.2e, unk without this source %.2e (%d types: %s)",
            name, n, unk / n, unk_held_out / n, len(rare), " ".join(rare[:20]),
        )  # fmt: skip


def render(content: dict) -> str:
    return json.dumps(content, indent=2, ensure_ascii=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw-dir", type=Path, default=os.environ.get("MOLBENCH_RAW_DIR"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="compare with --out, write nothing")
    args = parser.parse_args(argv)
    if args.raw_dir is None:
        parser.error("--raw-dir (or $MOLBENCH_RAW_DIR) is required")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    RDLogger.DisableLog("rdApp.*")
    content, counts = build(args.raw_dir)
    text = render(content)
    log_coverage(set(content["tokens"]), counts)
    log.info(
        "%d tokens, sha256 %s", len(content["tokens"]), hashlib.sha256(text.encode()).hexdigest()
    )
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        log.info("%s %s", args.out, "matches" if same else "DIFFERS")
        return 0 if same else 1
    tmp = args.out.with_suffix(".json.incomplete")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
