"""A small character-level transformer on the validity dataset's explicit-H SMILES.

    python recipes/validity/char_transformer.py --config random --seed 0 --device cuda
    python recipes/validity/char_transformer.py --steps=20 --max-train-rows=2000 \
        --max-eval-rows=500                                                        # smoke run
    torchrun --nproc-per-node=2 recipes/validity/char_transformer.py --batch-size=64  # 2 ranks

Under torchrun each rank trains on its shard of every batch (``--batch-size`` per rank).

Reads top to bottom: settings → data → model → training loop → save + evaluate.
"""

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from molbench import distributed, recipe
from molbench.nn.validity import CharTransformer


@dataclass(frozen=True)
class Settings(recipe.RunSettings):
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    max_length: int = 256  # longest SMILES (+1 for [CLS]) the position table covers
    dropout: recipe.Fraction = 0.0
    pool: str = "max"  # max over characters | cls
    steps: int = 2000
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-2


s = recipe.parse_overrides(Settings())
world = distributed.start(s.device)
device = world.device
torch.manual_seed(world.torch_seed(s.seed))
rng = np.random.default_rng(s.seed)  # the same batches on every rank
run = recipe.Run("char_transformer", __file__, s.seed, device, world=world)

# model (first: it owns the vocabulary and the position table)
hyperparameters = {
    "d_model": s.d_model,
    "heads": s.heads,
    "layers": s.layers,
    "max_length": s.max_length,
    "dropout": s.dropout,
    "pool": s.pool,
}
model = CharTransformer.from_hyperparameters(hyperparameters).to(device)

# data: SMILES characters → ids, padded per batch to its longest row
built = recipe.dataset("validity", s.root, s.data, [s.config])
train_table = built.table(s.config, "train")
if s.max_train_rows:
    train_table = train_table.slice(0, s.max_train_rows)
ids, lengths = model.encode(train_table)
labels = torch.tensor(train_table["label"].to_numpy(), dtype=torch.float32)

# training loop (bf16 autocast on GPU; SDPA attention inside nn.TransformerEncoder)
optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=s.lr, total_steps=s.steps)
autocast = (
    torch.autocast("cuda", dtype=torch.bfloat16)
    if device.startswith("cuda")
    else contextlib.nullcontext()
)
trainer = world.wrap(model)
model.train()
batch_size = s.batch_size * world.size  # rows per step, all ranks together
order = rng.permutation(len(ids))
cursor = 0
bar = tqdm(range(s.steps), desc=f"char_transformer {s.config} seed {s.seed}", disable=not run.main)
for _step in bar:
    if cursor + batch_size > len(order):
        order, cursor = rng.permutation(len(ids)), 0
    rows = torch.from_numpy(world.shard(order[cursor : cursor + batch_size]))
    cursor += batch_size
    batch = ids[rows][:, : int(lengths[rows].max())].to(device)
    with autocast:
        logits = trainer(CharTransformer.__call__, batch)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits.float(), labels[rows].to(device)
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    bar.set_postfix(loss=f"{loss.item():.4f}")
world.finish()

# save + evaluate (rank 0)
results = recipe.save_and_evaluate(
    model, "validity_char_transformer", hyperparameters, run, built, s
)
recipe.print_summary(results)
