"""Provenance helpers: the commit a run came from."""

import subprocess
from pathlib import Path

import pytest

from molbench.hardware import git_commit


def test_a_copied_tree_takes_the_commit_it_was_copied_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.delenv("MOLBENCH_GIT_COMMIT", raising=False)
    assert git_commit(tmp_path) is None
    monkeypatch.setenv("MOLBENCH_GIT_COMMIT", "0123abcd")
    assert git_commit(tmp_path) == "0123abcd"
    # a copy may carry a stale .git (seen on a lent GPU machine): the sender's word wins
    assert git_commit(Path(__file__).parent) == "0123abcd"
    monkeypatch.delenv("MOLBENCH_GIT_COMMIT")
    here = Path(__file__).parent
    if subprocess.run(["git", "rev-parse"], cwd=here, capture_output=True).returncode != 0:
        pytest.skip("not a git checkout (an sdist or a copied tree)")
    assert git_commit(here) not in (None, "0123abcd")
