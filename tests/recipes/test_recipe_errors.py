"""A recipe failure that is the user's ends as the CLI's do: one ``error:`` line, exit 2."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def fails(script: str, *args: str) -> str:
    """The one stderr line of a recipe that must refuse to run."""
    done = subprocess.run(
        [sys.executable, str(RECIPES / script), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize(
    ("script", "option", "message"),
    [
        ("validity/gin.py", "--epochs=-1", "error: --epochs must be at least 1, got -1"),
        ("text/name_seq2seq.py", "--batch-size=0", "error: --batch-size must be at least 1"),
        ("reactions/transformer.py", "--inputs=both", "inputs must be one of separated, mixed"),
        ("text/contrastive.py", "--pool=min", "pool must be 'sum' or 'mean_max'"),
        ("text/contrastive.py", "--text-input=none --char-width=0", "needs the character"),
        ("reactions/template_ranker.py", "--input-column=products", "reactants or precursors"),
    ],
)
def test_settings_no_run_can_use_end_in_one_line(script: str, option: str, message: str) -> None:
    assert message in fails(script, *option.split())


def test_a_gpu_this_machine_lacks_is_one_line() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    line = fails("validity/gin.py", "--device=cuda")
    assert line == "error: --device cuda: CUDA is not available on this machine"


def test_a_smoke_run_refuses_to_record() -> None:
    line = fails("reactions/templates.py", "--max-eval-rows=20", "--record=true")
    assert "--max-eval-rows makes a smoke run, not a leaderboard row" in line


def test_an_unknown_config_is_refused_before_any_work(small_build) -> None:
    line = fails("validity/gin.py", f"--data={small_build.path}", "--config=scaffold_ood")
    assert line.endswith("has no config scaffold_ood; it has random, size_ood")
    assert "unknown config(s) nope for validity" in fails("validity/gin.py", "--config=nope")


def test_a_dataset_not_built_and_not_downloadable_is_one_line() -> None:
    """The test environment is offline (MOLBENCH_OFFLINE) and its root is empty."""
    line = fails("reactions/largest_reactant.py")
    assert "uspto_15k" in line and "not found" in line
