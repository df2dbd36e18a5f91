"""Recipe settings: typed overrides checked up front, one place for every recipe."""

import dataclasses
import subprocess
import sys

import pytest

from molbench import recipe
from molbench.errors import MolbenchError, ParameterError


@dataclasses.dataclass(frozen=True)
class Settings(recipe.RunSettings):
    epochs: int = 3
    batch_size: int = 16
    lr: float = 1e-3
    dropout: recipe.Fraction = 0.1
    eval_every: recipe.NonNegative = 0


@pytest.fixture(autouse=True)
def _keep_excepthook(monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_overrides installs the recipes' hook; the test process keeps its own."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)


def parse(*args: str) -> Settings:
    return recipe.parse_overrides(Settings(), list(args))


def test_overrides_are_typed_and_bounded_values_pass() -> None:
    s = parse("--epochs=1", "--batch-size", "2", "--dropout=0", "--eval-every=0", "--seed=0")
    assert (s.epochs, s.batch_size, s.dropout, s.eval_every, s.seed) == (1, 2, 0.0, 0, 0)
    assert parse("--max-eval-rows=5").max_eval_rows == 5


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--epochs=-1", "--epochs must be at least 1, got -1"),
        ("--batch-size=0", "--batch-size must be at least 1, got 0"),
        ("--lr=-0.1", "--lr must be at least 0, got -0.1"),
        ("--dropout=1.5", "--dropout must be between 0 and 1, got 1.5"),
        ("--seed=-2", "--seed must be at least 0, got -2"),
        ("--max-eval-rows=-1", "--max-eval-rows must be at least 0"),
        ("--epochs=two", "--epochs must be int, got 'two'"),
        ("--record=maybe", "--record must be true or false"),
        ("--epoch=3", "unknown option --epoch; known:"),
        ("epochs=3", "unexpected argument 'epochs=3'"),
    ],
)
def test_settings_no_run_can_use_are_refused(option: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(option)


def test_a_smoke_run_is_not_recordable() -> None:
    with pytest.raises(ParameterError, match="not a leaderboard row: drop --record"):
        parse("--max-eval-rows=10", "--record=true")
    assert parse("--record=true").record


def test_a_device_this_machine_lacks_is_refused() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(MolbenchError, match="CUDA is not available on this machine"):
        parse("--device=cuda")
    with pytest.raises(MolbenchError, match="is not a device"):
        parse("--device=tpu9")


def test_decode_length_follows_the_training_targets_unless_set() -> None:
    assert recipe.decode_length(0, [10, 40, 12]) == 50
    assert recipe.decode_length(200, [10, 40, 12]) == 200


def test_a_molbench_error_in_a_recipe_is_one_line_and_exit_2(tmp_path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        "from molbench import recipe\n"
        "from molbench.errors import DatasetNotFoundError\n"
        "recipe.parse_overrides(recipe.RunSettings())\n"
        "raise DatasetNotFoundError('no build at /nowhere')\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (2, "error: no build at /nowhere\n")
    missing = tmp_path / "missing.py"
    missing.write_text(
        "from molbench import recipe\nrecipe.parse_overrides(recipe.RunSettings())\n"
        "open('/nonexistent/augmented.parquet')\n"
    )
    done = subprocess.run([sys.executable, str(missing)], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (
        2,
        "error: No such file or directory: /nonexistent/augmented.parquet\n",
    )
    bug = tmp_path / "bug.py"
    bug.write_text(
        "from molbench import recipe\nrecipe.parse_overrides(recipe.RunSettings())\n1 / 0\n"
    )
    done = subprocess.run([sys.executable, str(bug)], capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" in done.stderr  # a bug keeps its traceback
