"""Attacks on what molbench reads (issue 18): model directories, hostile SMILES, predictions
files, impossible builds. One case per class; each failed on the code before the fix.

Cases that crashed or could exhaust the machine before the fix run in a subprocess with
limits, so this file can be run against old code to measure the before/after table.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import molbench
from molbench import store
from molbench.cli import main
from molbench.errors import BuildError, MolbenchError, PredictionFormatError, SourceNotFoundError
from molbench.predictions import read_predictions

REPO = Path(__file__).resolve().parents[1]
LONG_CHAIN = "C" * 20_000  # RDKit's canonical SMILES overflows an 8 MiB stack from 18,179
DEEP_BRANCHES = "C(" * 20_000 + "C" + ")" * 20_000


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stderr


def assert_one_line_error(code: int, stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def python(
    code: str, *args: str, stack_kib: int = 0, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter on this tree (a crash there is not ours)."""

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))  # an old build: no OOM here
        if stack_kib:
            resource.setrlimit(resource.RLIMIT_STACK, (stack_kib << 10, stack_kib << 10))

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limits,
        env=env,
    )


# ---------------------------------------------------------------- model directories


def saved_model(tmp_path: Path, build: molbench.BuildResult, **provenance) -> Path:
    torch = pytest.importorskip("torch")
    from molbench.models import ModelCard, save_model
    from molbench.nn.validity import GINE

    torch.manual_seed(0)
    hyperparameters = {"hidden": 128, "layers": 2}  # ~270 KB of weights
    module = GINE.from_hyperparameters(hyperparameters)
    card = ModelCard(
        tmp_path / "model",
        "validity_gine",
        {"dataset": "validity", "version": "1.0.0", "config": "random"},
        hyperparameters,
        {
            "method": "gin",
            "seed": 0,
            "dataset_content_hash": store.BuiltDataset(build.path).config_hash("random"),
            **provenance,
        },
        sum(p.numel() for p in module.parameters()),
    )
    return save_model(card.path, module, card)


def edit_card(model: Path, edit) -> None:
    from molbench.models import CARD_FILE

    card = json.loads((model / CARD_FILE).read_text())
    edit(card)
    (model / CARD_FILE).write_text(json.dumps(card))


def eval_model(model: Path, build: molbench.BuildResult, *more: str) -> tuple[int, str]:
    return run("eval", "--model", str(model), "--dataset", str(build.path), *more)


def test_a_flipped_byte_in_the_weights_is_refused(small_build, tmp_path: Path) -> None:
    from molbench.models import WEIGHTS_FILE

    model = saved_model(tmp_path, small_build)
    data = bytearray((model / WEIGHTS_FILE).read_bytes())
    data[-10] ^= 0x01
    (model / WEIGHTS_FILE).write_bytes(bytes(data))
    assert_one_line_error(*eval_model(model, small_build), WEIGHTS_FILE, "the card pins")


def test_scrambled_weights_are_refused(small_build, tmp_path: Path) -> None:
    from molbench.models import WEIGHTS_FILE

    model = saved_model(tmp_path, small_build)
    data = bytearray((model / WEIGHTS_FILE).read_bytes())
    assert len(data) > 210_000
    data[5_000:205_000] = os.urandom(200_000)
    (model / WEIGHTS_FILE).write_bytes(bytes(data))
    assert_one_line_error(*eval_model(model, small_build), "the card pins")


def test_an_absurd_hyperparameter_is_one_line_before_any_allocation(
    small_build, tmp_path: Path
) -> None:
    model = saved_model(tmp_path, small_build)
    edit_card(model, lambda c: c["hyperparameters"].update(hidden=10**9))
    assert_one_line_error(*eval_model(model, small_build), "hidden must be in 1..4096")
    edit_card(model, lambda c: c["hyperparameters"].update(hidden=128, layers="3"))
    assert_one_line_error(*eval_model(model, small_build), "layers must be an integer")
    edit_card(model, lambda c: c["hyperparameters"].update(layers=2, hiden=4))
    assert_one_line_error(*eval_model(model, small_build), "unknown field(s) 'hiden'")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("dataset", "../../etc", "is not a plain name"),
        ("dataset", "proteins", "unknown dataset 'proteins'"),
        ("config", "../random", "is not a plain name"),
        ("config", "scaffold", "unknown config 'scaffold'"),
    ],
)
def test_hostile_or_unknown_card_task_is_refused(
    small_build, tmp_path: Path, field: str, value: str, fragment: str
) -> None:
    model = saved_model(tmp_path, small_build)
    edit_card(model, lambda c: c["task"].update({field: value}))
    assert_one_line_error(*eval_model(model, small_build), fragment)


def test_an_extra_file_in_a_model_directory_is_refused(small_build, tmp_path: Path) -> None:
    model = saved_model(tmp_path, small_build)
    (model / "model.safetensors.orig").write_bytes(b"")
    assert_one_line_error(*eval_model(model, small_build), "unexpected file", ".orig")


@pytest.mark.parametrize("method", ["../../escaped", "/tmp/absolute", "a/b", ".."])
def test_method_names_cannot_leave_the_results_directory(
    small_build, tmp_path: Path, method: str
) -> None:
    results = tmp_path / "deep" / "results"
    model = saved_model(tmp_path, small_build)
    edit_card(model, lambda c: c["provenance"].update(method=method))
    code, err = eval_model(model, small_build, "--record", str(results))
    assert_one_line_error(code, err, "not a plain name")
    assert not list(tmp_path.rglob("*__random__seed0.json"))
    from molbench.recipe import result_file_name

    with pytest.raises(MolbenchError, match="not a plain name"):
        result_file_name(method, "random", 0)


def test_weights_are_written_with_the_umask_not_0600(small_build, tmp_path: Path) -> None:
    from molbench.models import WEIGHTS_FILE

    umask = os.umask(0o022)
    try:
        model = saved_model(tmp_path, small_build)
    finally:
        os.umask(umask)
    assert (model / WEIGHTS_FILE).stat().st_mode & 0o777 == 0o644


def test_a_card_saved_before_the_pin_loads_with_a_warning(
    small_build, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from molbench.models import load_model

    model = saved_model(tmp_path, small_build)
    edit_card(model, lambda c: c.pop("weights_sha256"))
    load_model(model)
    assert "no weights_sha256" in caplog.text and "cannot be checked" in caplog.text


# ---------------------------------------------------------------- SMILES that crash RDKit

SCORE_HOSTILE = """
import sys
from molbench.tasks.reactions import forward_ranks
from molbench.tasks.text_metrics import generation_metrics
hostile = sys.stdin.read().split()
rank, *_, invalid = forward_ranks(["CCO"] * len(hostile), [[h, "OCC"] for h in hostile])
text = generation_metrics(["CCO"] * len(hostile), hostile)
print(rank.tolist(), invalid, text["validity"], text.get("validity_molt5", 0.0))
"""


def test_hostile_smiles_are_invalid_predictions_not_a_crash() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCORE_HOSTILE],
        input=f"{LONG_CHAIN}\n{DEEP_BRANCHES}",
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-300:]}"
    assert done.stdout.split() == ["[2,", "2]", "2", "0.0", "0.0"]  # right at rank 2; invalid


def test_limits_refuse_before_rdkit_sees_the_string(monkeypatch: pytest.MonkeyPatch) -> None:
    from rdkit import Chem

    from molbench.tasks.reaction_metrics import canonical_molecules, parse_smiles

    seen: list[int] = []
    parse = Chem.MolFromSmiles
    monkeypatch.setattr(Chem, "MolFromSmiles", lambda s, *a, **k: seen.append(len(s)) or parse(s))
    assert parse_smiles("C" * 4_097) is None  # a valid chain, one character over the limit
    assert canonical_molecules("C(" * 257 + "C" + ")" * 257) is None  # 257 nested branches
    assert seen == []
    assert parse_smiles("C" * 4_096) is not None and seen == [4_096]


PROBE_LIMITS = """
from molbench.chem.untrusted import MAX_BRANCH_DEPTH as D, MAX_SMILES_LENGTH as L
from molbench.tasks.reaction_metrics import canonical_molecules
from molbench.tasks.text_metrics import generation_metrics
worst = [
    "C" * L,  # the deepest recursion: one chain of L atoms
    "C1" + "C" * (L - 4) + "C1",  # one ring of L - 2 atoms
    "C(" * D + "C" * (L - 3 * D - 1) + ")" * D,  # the deepest branches, filled to L
]
assert all(len(s) <= L for s in worst)
print([canonical_molecules(s) is not None for s in worst])
print(generation_metrics(worst, worst)["exact_match"])
"""


def test_the_limits_keep_rdkit_far_from_its_crash() -> None:
    """The worst strings the limits let through run on half the default 8 MiB stack.

    The control: the same harness sees RDKit crash on the longest allowed chain when the
    stack is 1 MiB, so a limit raised too far would fail this test rather than crash later.
    """
    done = python(PROBE_LIMITS, stack_kib=4096)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-300:]}"
    assert done.stdout.split() == ["[True,", "True,", "True]", "1.0"]
    control = "from rdkit import Chem; Chem.MolToSmiles(Chem.MolFromSmiles('C' * 4096))"
    assert python(control, stack_kib=1024).returncode == -11


# ---------------------------------------------------------------- predictions files


def test_duplicate_column_names_are_one_line(small_build, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("id,score,score\n1,0.5,0.5\n")
    code, err = run("eval", "--predictions", str(path), "--dataset", str(small_build.path))
    assert_one_line_error(code, err, "'score' appear more than once")
    table = pa.table({"id": [1], "a": [0.5], "b": [0.5]}).rename_columns(["id", "score", "score"])
    pq.write_table(table, tmp_path / "dup.parquet")
    with pytest.raises(PredictionFormatError, match="more than once"):
        read_predictions(tmp_path / "dup.parquet")


def test_a_200_mb_cell_gets_molbench_message(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with open(path, "wb") as f:
        f.write(b"id,predictions\nmit-1,")
        block = b"C" * (1 << 20)
        for _ in range(200):
            f.write(block)
        f.write(b"\n")
    with pytest.raises(PredictionFormatError) as error:
        read_predictions(path)
    message = str(error.value)
    assert "line 2" in message and "far shorter" in message
    assert "straddl" not in message and "block" not in message


MANY_ROWS = """
import sys, tracemalloc
import pyarrow as pa
from molbench.errors import PredictionFormatError
from molbench.evaluate import evaluate_predictions
for path in sys.argv[1:3]:  # a small file first: lazy imports are not the file's cost
    tracemalloc.start()
    try:
        evaluate_predictions(path, sys.argv[3], "random", "test")
    except PredictionFormatError as e:
        print("refused:", e)
    print(pa.default_memory_pool().max_memory(), tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()
# what is measured is printed; skip interpreter teardown, where a native thread pool once
# aborted ("terminate called without an active exception") after all the work was done
sys.stdout.flush()
import os
os._exit(0)
"""


def test_a_file_with_far_more_rows_than_the_split_is_refused_in_bounded_memory(
    small_build, tmp_path: Path
) -> None:
    path = tmp_path / "many.csv"
    rows = 2_000_000
    path.write_text("id,score\n" + "".join(f"{i},0.5\n" for i in range(rows)))
    assert path.stat().st_size > 20_000_000
    (tmp_path / "few.csv").write_text("id,score\n1,0.5\n2,0.5\n")
    done = python(MANY_ROWS, str(tmp_path / "few.csv"), str(path), str(small_build.path))
    assert done.returncode == 0, done.stderr[-300:]
    refusal, peaks = done.stdout.strip().splitlines()[-2:]
    assert refusal.startswith("refused:") and "has more than" in refusal, done.stdout
    arrow_peak, python_peak = map(int, peaks.split())
    # the whole file read would hold > 20 MB in Arrow alone (measured: 67 MB)
    assert arrow_peak < 2_000_000 and python_peak < 2_000_000, peaks


# ---------------------------------------------------------------- builds


def test_an_impossible_build_size_is_refused_up_front(tmp_path: Path) -> None:
    cli = "import sys; from molbench.cli import main; sys.argv[0] = 'molbench'; main()"
    args = ["build", "validity", "--n-molecules", "1000000000000", "--out", str(tmp_path), "-q"]
    done = python(cli, *args, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-300:]
    assert "1,000,000,000,000 rows need about" in lines[0] and "--n-molecules" in lines[0]
    assert not any(p.name == "validity" for p in tmp_path.iterdir())


def test_a_config_needing_train_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from molbench.builders.reactions import ReactionsBuilder

    called: list[str] = []
    monkeypatch.setattr(ReactionsBuilder, "rows", lambda self, *a: called.append("rows") or [])
    with pytest.raises(BuildError, match="uspto_mit_scaffold needs the train"):
        molbench.build(
            "reactions", {"splits": "validation,test"}, configs=["uspto_mit_scaffold"], out=tmp_path
        )
    assert called == [] and not (tmp_path / "reactions").exists()


@pytest.mark.parametrize(("name", "config"), [("reactions", "uspto_15k"), ("text", "chebi20")])
def test_a_failed_build_leaves_no_empty_dataset_directory(
    tmp_path: Path, name: str, config: str
) -> None:
    empty = tmp_path / "raw"
    empty.mkdir()
    with pytest.raises(SourceNotFoundError):
        molbench.build(name, configs=[config], out=tmp_path / "root", source=empty)
    assert not (tmp_path / "root" / name).exists()


# ---------------------------------------------------------------- small items


def test_device_with_a_predictions_file_is_refused(small_build, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,score\n1,0.5\n")
    args = ["eval", "--predictions", str(path), "--dataset", str(small_build.path)]
    assert_one_line_error(*run(*args, "--device", "cuda"), "--device applies only to --model")


def test_vocabulary_decode_inverts_encode() -> None:
    from molbench.chem.tokens import load_vocabulary

    vocabulary = load_vocabulary()
    for smiles in ("CC(=O)O", "c1ccccc1[N+](=O)[O-]", "C[C@H](N)C(=O)O"):
        assert vocabulary.decode(vocabulary.encode(smiles)) == smiles
