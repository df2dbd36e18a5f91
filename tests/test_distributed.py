"""A world of one changes nothing; a world of several shards batches and maps devices."""

import numpy as np
import pytest

from molbench.errors import MolbenchError

torch = pytest.importorskip("torch")

from molbench import distributed  # noqa: E402


def test_without_torchrun_it_is_a_world_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    world = distributed.start("cpu")
    assert (world.rank, world.size, world.main, world.device) == (0, 1, True, "cpu")
    rows = np.arange(7)
    assert world.shard(rows).tolist() == rows.tolist()
    assert world.torch_seed(3) == 3  # the random streams of a one-process run are unchanged
    x = torch.ones(2, 3)
    assert world.gather(x) is x and world.agree(0.25) == 0.25
    world.finish()  # no process group: nothing to leave


def test_a_trainer_runs_the_function_it_is_given_on_the_model() -> None:
    model = torch.nn.Linear(3, 1)
    trainer = distributed.World().wrap(model)
    x = torch.ones(4, 3)
    loss = trainer(lambda m, inputs, scale: scale * m(inputs).sum(), x, 2.0)
    assert torch.equal(loss, 2.0 * model(x).sum())
    loss.backward()
    assert model.weight.grad is not None  # the gradient reaches the wrapped model


def test_ranks_split_every_batch_and_take_their_own_gpu() -> None:
    rows = np.array([10, 11, 12, 13, 14])
    shards = [distributed.World(rank=r, size=2).shard(rows).tolist() for r in (0, 1)]
    assert shards == [[10, 12, 14], [11, 13]]
    assert sorted(shards[0] + shards[1]) == rows.tolist()
    world = distributed.World(rank=3, size=4, local_rank=1, requested_device="cuda")
    assert world.device == "cuda:1" and not world.main and world.torch_seed(5) == 8
    assert distributed.World(requested_device="cuda").device == "cuda"


def test_torchrun_on_a_named_gpu_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(MolbenchError, match="under torchrun use --device cuda"):
        distributed.start("cuda:1")
