"""Builds of the fixtures match the hashes and Parquet bytes recorded before streaming.

``tests/fixtures/build_hashes.json`` was written by the in-memory build (one table held
whole, sliced into shards) before rows were streamed to Parquet; the streaming build must
produce the same content hashes and the same bytes. Regenerate it only on purpose (a
version bump): ``MOLBENCH_RECORD_BUILD_HASHES=1 pytest tests/test_build_hashes.py``.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import molbench
from molbench import fsutil
from molbench.chem import opsin

from .conftest import RAW, SMALL

RECORD = Path(__file__).resolve().parent / "fixtures" / "build_hashes.json"
NAMES = {"n_molecules": 300, "max_carbons": 12, "size_ood_max_train_carbons": 9}
# name -> (dataset, parameters, configs, needs raw fixtures)
CASES: dict[str, tuple[str, dict[str, Any], list[str] | None, bool]] = {
    "validity_small": ("validity", SMALL, None, False),
    "reactions_all": ("reactions", {}, ["uspto_mit", "uspto_15k"], True),
    "reactions_evaluation_only": ("reactions", {"splits": "validation,test"}, ["uspto_mit"], True),
    "text_names": ("text", NAMES, None, False),
    "text_chebi20_all": ("text", {}, ["chebi20", "chebi20_molecules"], True),
    "text_chebi20_evaluation_only": ("text", {"splits": "validation,test"}, ["chebi20"], True),
}


def _recording() -> bool:
    return os.environ.get("MOLBENCH_RECORD_BUILD_HASHES") == "1"


def opsin_state() -> str:
    """ChEBI-20 rows flag descriptions that OPSIN parses to their molecule: null without it."""
    return "opsin" if opsin.opsin_available() is None else "no_opsin"


def summary(result: molbench.BuildResult) -> dict[str, Any]:
    m = result.manifest
    return {
        "content_hash": m["content_hash"],
        "groups": {g: e["content_hash"] for g, e in m["groups"].items()},
        "files": {
            rel: fsutil.sha256_file(result.path / rel)
            for rel in sorted(m["files"])
            if rel.endswith((".parquet", ".jsonl"))
        },
    }


@pytest.mark.parametrize("case", list(CASES))
def test_build_matches_the_recorded_in_memory_build(case, raw_fixtures, tmp_path) -> None:
    dataset, params, configs, raw = CASES[case]
    result = molbench.build(
        dataset,
        params,
        configs=configs,
        out=tmp_path,
        workers=1 if _recording() else 2,
        source=RAW if raw else None,
    )
    got = summary(result)
    key = f"{case}/{opsin_state()}" if dataset == "text" else case
    recorded = json.loads(RECORD.read_text()) if RECORD.exists() else {"cases": {}}
    if _recording():
        recorded["pyarrow"] = metadata.version("pyarrow")
        recorded["cases"][key] = got
        RECORD.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
        return
    if key not in recorded["cases"]:
        pytest.skip(f"no recorded hashes for {key} (recorded with the other OPSIN state)")
    expected = recorded["cases"][key]
    assert got["content_hash"] == expected["content_hash"]
    assert got["groups"] == expected["groups"]
    assert list(got["files"]) == list(expected["files"])
    if metadata.version("pyarrow") == recorded["pyarrow"]:  # Parquet bytes name the writer
        assert got["files"] == expected["files"]
