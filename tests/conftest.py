"""Shared fixtures: one small validity build per session, reused read-only by many tests."""

from __future__ import annotations

from pathlib import Path

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
