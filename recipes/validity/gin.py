"""GINE graph network on the validity dataset's graph columns (no RDKit at train time).

    python recipes/validity/gin.py --config size_ood --seed 0 --device cuda
    python recipes/validity/gin.py --epochs=1 --max-train-rows=2000 --max-eval-rows=500  # smoke
    torchrun --nproc-per-node=2 recipes/validity/gin.py --batch-size=128   # 2 ranks

Under torchrun each rank trains on its shard of every batch (``--batch-size`` per rank).

Reads top to bottom: settings → data → model → training loop → save + evaluate.
"""

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from molbench import distributed, recipe
from molbench.nn.validity import GINE
from molbench.torch_data import GraphBatcher


@dataclass(frozen=True)
class Settings(recipe.RunSettings):
    hidden: int = 128
    layers: int = 3
    dropout: recipe.Fraction = 0.0
    epochs: int = 12
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4


s = recipe.parse_overrides(Settings())
world = distributed.start(s.device)
device = world.device
torch.manual_seed(world.torch_seed(s.seed))
rng = np.random.default_rng(s.seed)  # the same batches on every rank
run = recipe.Run("gin", __file__, s.seed, device, world=world)

# data: Arrow graph columns → flat tensors, batched without per-row Python objects
built = recipe.dataset("validity", s.root, s.data, [s.config])
train_table = built.table(s.config, "train")
if s.max_train_rows:
    train_table = train_table.slice(0, s.max_train_rows)
train = GraphBatcher(train_table)

# model
hyperparameters = {"hidden": s.hidden, "layers": s.layers, "dropout": s.dropout}
model = GINE.from_hyperparameters(hyperparameters).to(device)
trainer = world.wrap(model)
optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
batch_size = s.batch_size * world.size  # rows per step, all ranks together
steps = s.epochs * -(-len(train) // batch_size)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=s.lr, total_steps=steps)

# training loop
model.train()
bar = tqdm(total=steps, desc=f"gin {s.config} seed {s.seed}", unit="step", disable=not run.main)
for _epoch in range(s.epochs):
    order = rng.permutation(len(train))
    for start in range(0, len(order), batch_size):
        batch = train.batch(world.shard(order[start : start + batch_size])).to(device)
        logits = trainer(GINE.__call__, batch)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch.y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.4f}")
bar.close()
world.finish()

# save + evaluate (rank 0)
results = recipe.save_and_evaluate(model, "validity_gine", hyperparameters, run, built, s)
recipe.print_summary(results)
