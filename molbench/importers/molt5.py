"""MolT5's ``caption2smiles`` files: released text-to-molecule outputs on ChEBI-20 test.

A tab-separated file with the header ``description``, ``ground truth``, ``output`` (read as
MolT5's own evaluation reads it: ``csv`` with ``QUOTE_NONE``), one row per test molecule,
in no fixed order and without the CID. Each row is matched to its split row by its
description (unique in ChEBI-20 test; where a split repeats one, the ground truth tells the
rows apart), and its ground truth must be that row's SMILES as published (the upstream test
file writes 484 of them with doubled backslashes, which the build, like MolT5's released
files, collapses; a file that keeps them doubled is read the same).
The output string is kept exactly as written: molbench's validity decides what it is worth.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pyarrow as pa

from molbench.builders.text import unescape_smiles
from molbench.errors import PredictionFormatError

HEADER = ["description", "ground truth", "output"]
_SHOWN = 3  # offenders named in an error message


def read(path: Path, rows: pa.Table) -> pa.Table:
    """``id`` + ``smiles`` in split order, from a MolT5 ``caption2smiles`` file."""
    missing = {"id", "description", "smiles_as_published"} - set(rows.column_names)
    if missing:
        raise PredictionFormatError(
            f"the molt5 format matches rows by description: this config has no "
            f"{', '.join(sorted(missing))} (use a chebi20 config)"
        )
    records = _records(path)
    by_description: dict[str, list[int]] = defaultdict(list)
    for i, description in enumerate(rows["description"].to_pylist()):
        by_description[description].append(i)
    expected = rows["smiles_as_published"].to_pylist()
    matched: dict[int, int] = {}  # line -> split row
    taken: set[int] = set()
    unknown, wrong = [], []
    for line, (description, truth, _) in records.items():
        truth = unescape_smiles(truth)
        same = [i for i in by_description.get(description, []) if expected[i] == truth]
        if same:  # a pair the split holds twice takes its rows in turn
            matched[line] = next((i for i in same if i not in taken), same[0])
            taken.add(matched[line])
        else:
            (wrong if description in by_description else unknown).append(line)
    if unknown:
        raise PredictionFormatError(
            f"{path}: {len(unknown)} descriptions match no row of this split "
            f"(lines {_lines(unknown)}): a file of another split, or edited descriptions"
        )
    if wrong:
        raise PredictionFormatError(
            f"{path}: {len(wrong)} rows whose `ground truth` is not the SMILES of the split row "
            f"with that description (lines {_lines(wrong)}): a file of another split or dataset"
        )
    _check_one_each(path, matched, rows.num_rows)
    outputs: list[str | None] = [None] * rows.num_rows
    for line, i in matched.items():
        outputs[i] = records[line][2]
    return pa.table({"id": rows["id"], "smiles": pa.array(outputs, pa.string())})


def _records(path: Path) -> dict[int, tuple[str, str, str]]:
    """Line number -> (description, ground truth, output), header and field counts checked."""
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            header = next(reader, None)
            if header != HEADER:
                raise PredictionFormatError(
                    f"{path}: expected the molt5 header {chr(9).join(HEADER)!r} "
                    f"(tab-separated), got {chr(9).join(header or [])[:80]!r}"
                )
            records, bad = {}, []
            for fields in reader:
                if len(fields) == len(HEADER):
                    records[reader.line_num] = (fields[0], fields[1], fields[2])
                else:
                    bad.append(reader.line_num)
    except UnicodeDecodeError as e:
        raise PredictionFormatError(f"{path} is not UTF-8 text: {e.reason}") from None
    except csv.Error as e:
        raise PredictionFormatError(f"{path}: not a molt5 TSV: {e}") from None
    if bad:
        raise PredictionFormatError(
            f"{path}: {len(bad)} lines without exactly 3 tab-separated fields "
            f"(lines {_lines(bad)}); a tab inside a field cannot be read"
        )
    return records


def _check_one_each(path: Path, matched: dict[int, int], n_rows: int) -> None:
    """No split row twice, and every split row there."""
    seen: dict[int, int] = {}
    twice = []
    for line, i in matched.items():
        if i in seen:
            twice.append(line)
        seen.setdefault(i, line)
    if twice:
        raise PredictionFormatError(
            f"{path}: {len(twice)} rows repeat the description of an earlier row "
            f"(lines {_lines(twice)}): each test molecule needs exactly one output"
        )
    if len(seen) < n_rows:
        raise PredictionFormatError(
            f"{path} has outputs for {len(seen):,} of the split's {n_rows:,} rows: "
            f"{n_rows - len(seen):,} descriptions have none"
        )


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:_SHOWN]))
    return shown + (", ..." if len(numbers) > _SHOWN else "")
