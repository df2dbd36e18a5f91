"""Data-parallel training for the recipes: one process per device under ``torchrun``.

Every rank draws the same global batch (one seed, one numpy stream) and trains on its
shard of it; ``DistributedDataParallel`` averages the gradients, so ``N`` processes with a
per-rank batch ``b`` take the steps one process takes with a batch of ``N * b`` (exactly,
for a loss that is a mean over rows and equally many rows per rank). Rank 0 alone saves,
evaluates and records. Started without torchrun's environment it is a world of one, and
nothing changes: no process group, no wrapper, the same random streams as before.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from molbench.errors import MolbenchError


@dataclasses.dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    requested_device: str = "cpu"

    @property
    def main(self) -> bool:
        """Rank 0: the process that prints, saves, evaluates and records."""
        return self.rank == 0

    @property
    def device(self) -> str:
        """This rank's device: ``cuda`` becomes ``cuda:<local rank>`` under torchrun."""
        if self.size > 1 and self.requested_device == "cuda":
            return f"cuda:{self.local_rank}"
        return self.requested_device

    def torch_seed(self, seed: int) -> int:
        """Seed of this rank's torch stream: dropout masks differ between ranks (the weights
        still start equal, broadcast from rank 0); rank 0 keeps ``seed``."""
        return seed + self.rank

    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This rank's share of a global batch of row indices (every ``size``-th row)."""
        return rows[self.rank :: self.size]

    def wrap(self, module: nn.Module, find_unused: bool = False) -> Trainer:
        """``module`` ready to train: through DDP when there are several ranks.

        ``find_unused``: for a model trained in stages (some parameters get no gradient).
        """
        trainer = Trainer(module)
        if self.size == 1:
            return trainer
        ids = [self.local_rank] if self.device.startswith("cuda") else None
        ddp = nn.parallel.DistributedDataParallel(
            trainer, device_ids=ids, find_unused_parameters=find_unused
        )
        return ddp  # type: ignore[return-value]  # called like the Trainer it wraps

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every rank's rows of ``tensor``, concatenated in rank order, gradients kept
        (in-batch negatives of a contrastive loss span the global batch)."""
        if self.size == 1:
            return tensor
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(tensor))

    def agree(self, value: float) -> float:
        """The largest ``value`` over ranks: a wall-time budget ends every rank at one step."""
        if self.size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    def finish(self) -> None:
        """Leave the process group once every rank is done training."""
        if self.size > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


class Trainer(nn.Module):
    """Runs any function of the model as its forward (``trainer(Model.loss, x, y)`` is
    ``model.loss(x, y)``), so a loss method goes through DDP's forward and its gradients
    are averaged over the ranks."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, step: Callable[..., Any], *args: Any) -> Any:
        return step(self.module, *args)


def start(device: str = "cpu") -> World:
    """Join torchrun's process group (``gloo`` on CPUs, ``nccl`` on GPUs) or stand alone."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(requested_device=device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        if device != "cuda":
            raise MolbenchError(
                f"--device {device}: under torchrun use --device cuda (each rank takes "
                "cuda:<LOCAL_RANK>)"
            )
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), local_rank, device)
