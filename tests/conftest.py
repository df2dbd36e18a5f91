"""Shared fixtures: one small validity build per session, reused read-only by many tests."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from pathlib import Path
from typing import Any

import pytest

import molbench

SMALL = {"n_molecules": 600, "max_carbons": 12, "size_ood_max_train_carbons": 9, "seed": 7}


@pytest.fixture(scope="session")
def small_build(tmp_path_factory: pytest.TempPathFactory) -> molbench.BuildResult:
    """A 600-row validity build; tests must not modify it (copy it first)."""
    return molbench.build("validity", SMALL, out=tmp_path_factory.mktemp("root"), workers=1)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes to the real ~/.cache/molbench or the Hugging Face cache."""
    monkeypatch.setenv("MOLBENCH_HOME", str(tmp_path / "molbench_home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("MOLBENCH_OFFLINE", "1")  # tests never download
    monkeypatch.delenv("MOLBENCH_RAW_DIR", raising=False)


RAW = Path(__file__).resolve().parent / "fixtures" / "raw"
FIXTURE_COUNTS = {
    "uspto_mit": {"train": 41, "validation": 14, "test": 14},  # one test reaction in train
    "uspto_15k": {"train": 30, "validation": 10, "test": 10},
    "chebi20": {"train": 30, "validation": 12, "test": 12},
}


def pinned_reaction_sources(root: Path) -> dict:
    """The real USPTO catalogue with each pin replaced by the fixture file's own sha256."""
    from molbench import fsutil
    from molbench.builders import reactions

    return {
        group: {
            split: dataclasses.replace(
                file,
                sha256=fsutil.sha256_file(root / file.source / file.filename),
                git_blob=None,
                content_sha256=None,
            )
            for split, file in by_split.items()
        }
        for group, by_split in reactions.SOURCES.items()
    }


def pinned_chebi_sources(root: Path) -> tuple[dict, Any]:
    """The real ChEBI-20 catalogue with pins replaced by the fixture files' checksums."""
    from molbench import fsutil
    from molbench.builders import text

    files = {
        split: dataclasses.replace(
            file,
            sha256=hashlib.sha256(
                gzip.decompress((root / "chebi20" / f"{split}.txt.gz").read_bytes())
            ).hexdigest(),
            git_blob=None,
        )
        for split, file in text.SOURCES.items()
    }
    structures = dataclasses.replace(
        text.TRAIN_STRUCTURES,
        sha256=fsutil.sha256_file(root / "chebi20" / text.TRAIN_STRUCTURES.filename),
        content_sha256=None,
    )
    return files, structures


@pytest.fixture
def raw_fixtures(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the reactions and text builders at the committed fixtures (pins and counts)."""
    from molbench.builders import reactions, text

    monkeypatch.setattr(reactions, "SOURCES", pinned_reaction_sources(RAW))
    monkeypatch.setattr(
        reactions,
        "PUBLISHED_COUNTS",
        {g: FIXTURE_COUNTS[g] for g in ("uspto_mit", "uspto_15k")},
    )
    files, structures = pinned_chebi_sources(RAW)
    monkeypatch.setattr(text, "SOURCES", files)
    monkeypatch.setattr(text, "TRAIN_STRUCTURES", structures)
    monkeypatch.setattr(text, "PUBLISHED_COUNTS", FIXTURE_COUNTS["chebi20"])
    return RAW
