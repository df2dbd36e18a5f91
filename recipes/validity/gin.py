"""GINE graph network on the validity dataset's graph columns (no RDKit at train time).

    python recipes/validity/gin.py --config size_ood --seed 0 --device cuda
    python recipes/validity/gin.py --epochs=1 --max-train-rows=2000   # a quick smoke run

Reads top to bottom: settings → data → model → training loop → save + evaluate.
"""

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from molbench import recipe
from molbench.nn.validity import GINE
from molbench.torch_data import GraphBatcher


@dataclass(frozen=True)
class Settings(recipe.RunSettings):
    hidden: int = 128
    layers: int = 3
    dropout: float = 0.0
    epochs: int = 12
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4


s = recipe.parse_overrides(Settings())
torch.manual_seed(s.seed)
rng = np.random.default_rng(s.seed)
run = recipe.Run("gin", __file__, s.seed, s.device)

# data: Arrow graph columns → flat tensors, batched without per-row Python objects
built = recipe.dataset("validity", s.root, s.data)
train_table = built.table(s.config, "train")
if s.max_train_rows:
    train_table = train_table.slice(0, s.max_train_rows)
train = GraphBatcher(train_table)

# model
hyperparameters = {"hidden": s.hidden, "layers": s.layers, "dropout": s.dropout}
model = GINE.from_hyperparameters(hyperparameters).to(s.device)
optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
steps = s.epochs * -(-len(train) // s.batch_size)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=s.lr, total_steps=steps)

# training loop
model.train()
bar = tqdm(total=steps, desc=f"gin {s.config} seed {s.seed}", unit="step")
for _epoch in range(s.epochs):
    for batch in train.batches(s.batch_size, shuffle=True, rng=rng):
        batch = batch.to(s.device)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch), batch.y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        bar.update()
        bar.set_postfix(loss=f"{loss.item():.4f}")
bar.close()

# save + evaluate
results = recipe.save_and_evaluate(model, "validity_gine", hyperparameters, run, built, s)
recipe.print_summary(results)
