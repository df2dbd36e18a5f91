"""A learned OPSIN: an encoder-decoder transformer between IUPAC names and SMILES.

    python recipes/text/name_seq2seq.py --direction=name2smiles --config=hydrocarbon_names
    python recipes/text/name_seq2seq.py --direction=smiles2name --config=hydrocarbon_names_size_ood
    python recipes/text/name_seq2seq.py --steps=20 --max-train-rows=500 --max-eval-rows=50  # smoke
    torchrun --nproc-per-node=2 recipes/text/name_seq2seq.py --batch-size=8   # 2 ranks

``name2smiles`` reads name characters and writes SMILES tokens (scored as ``smiles``:
InChI exact match, validity, fingerprint similarity); ``smiles2name`` reads the
``smiles_tokens`` column and writes the name (scored as ``name``: exact match).
``--max-output-length=0`` (default) decodes at most a quarter more tokens than the longest
training target. Under torchrun each rank trains on its shard of every batch
(``--batch-size`` per rank) and rank 0 saves, evaluates and records.

Reads top to bottom: settings → data → model → training loop → save + evaluate.
"""

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from molbench import distributed, recipe
from molbench.errors import ParameterError
from molbench.nn.name_seq2seq import NameSeq2Seq
from molbench.nn.seq2seq import pad


@dataclass(frozen=True)
class Settings(recipe.RunSettings):
    config: str = "hydrocarbon_names"  # or hydrocarbon_names_size_ood
    direction: str = "name2smiles"  # name2smiles | smiles2name
    d_model: int = 64
    heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    dropout: recipe.Fraction = 0.0
    max_output_length: recipe.NonNegative = 0  # greedy decoding stops here (0 = from train)
    smiles_order: str = "condensed"  # SMILES name2smiles learns to write: condensed | canonical
    steps: int = 10000
    batch_size: int = 16  # per rank under torchrun
    lr: float = 3e-3
    weight_decay: float = 1e-2


s = recipe.parse_overrides(Settings())
world = distributed.start(s.device)
device = world.device
torch.manual_seed(world.torch_seed(s.seed))
rng = np.random.default_rng(s.seed)  # the same batches on every rank
run = recipe.Run(f"seq2seq_{s.direction}", __file__, s.seed, device, world=world)

# model (first: it knows what each direction reads and writes)
hyperparameters = {
    "direction": s.direction,
    "d_model": s.d_model,
    "heads": s.heads,
    "encoder_layers": s.encoder_layers,
    "decoder_layers": s.decoder_layers,
    "dropout": s.dropout,
    "max_output_length": s.max_output_length,
    # smiles2name reads the canonical smiles_tokens column whatever this setting says
    "smiles_order": s.smiles_order if s.direction == "name2smiles" else "canonical",
}
try:
    model = NameSeq2Seq.from_hyperparameters(hyperparameters).to(device)
except ValueError as e:  # a direction, order or shape that does not exist
    raise ParameterError(str(e)) from None

# data: source and target ids (<bos> … <eos>), padded per batch to its longest row
built = recipe.dataset("text", s.root, s.data, [s.config])
train_table = built.table(s.config, "train")
if s.max_train_rows:
    train_table = train_table.slice(0, s.max_train_rows)
sources, source_lengths = pad(model.source_ids(train_table))
targets, target_lengths = pad(model.target_ids(train_table))
model.max_output_length = recipe.decode_length(s.max_output_length, target_lengths.tolist())
hyperparameters["max_output_length"] = model.max_output_length


def epoch_batches() -> list[np.ndarray]:
    """One pass over the rows in shuffled batches of similar source length (less padding)."""
    order = rng.permutation(len(sources))
    chunks = np.array_split(order, max(1, len(order) // (50 * batch_size)))
    by_length = np.concatenate(
        [c[np.argsort(source_lengths[c].numpy(), kind="stable")] for c in chunks]
    )
    batches = np.array_split(by_length, max(1, len(by_length) // batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


# training loop (bf16 autocast on GPU; attention through SDPA)
optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=s.lr, total_steps=s.steps)
autocast = (
    torch.autocast("cuda", dtype=torch.bfloat16)
    if device.startswith("cuda")
    else contextlib.nullcontext()
)
trainer = world.wrap(model)
batch_size = s.batch_size * world.size  # rows per step, all ranks together
model.train()
queue: list[np.ndarray] = []
bar = tqdm(
    range(s.steps), desc=f"seq2seq {s.direction} {s.config} seed {s.seed}", disable=not run.main
)
for _step in bar:
    if not queue:
        queue = epoch_batches()
    rows = torch.from_numpy(world.shard(queue.pop()))
    source = sources[rows][:, : int(source_lengths[rows].max())].to(device)
    target = targets[rows][:, : int(target_lengths[rows].max())].to(device)
    with autocast:
        loss = trainer(NameSeq2Seq.loss, source, target)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    bar.set_postfix(loss=f"{loss.item():.4f}")
world.finish()

# save + evaluate (rank 0)
results = recipe.save_and_evaluate(model, "text_name_seq2seq", hyperparameters, run, built, s)
recipe.print_summary(results)
