"""Forward reaction prediction as translation: a Molecular Transformer (Schwaller et al. 2019).

An encoder-decoder transformer reads the precursors' SMILES tokens and writes the product's;
the top-10 candidates come from a length-normalised beam search.

    python recipes/reactions/transformer.py --max-minutes=15                    # CPU, uspto_15k
    python recipes/reactions/transformer.py --inputs=mixed --seed=1
    molbench augment reactions --config uspto_15k --copies 10 --seed 0 --out runs/aug10.parquet
    python recipes/reactions/transformer.py --augmented=runs/aug10.parquet --device=cuda \\
        --d-model=256 --heads=8 --encoder-layers=4 --decoder-layers=4 --d-ff=2048 \\
        --dropout=0.1 --batch-size=128 --lr=5e-4 --steps=40000 --warmup-steps=2000 \\
        --transfer-config=uspto_mit
    python recipes/reactions/transformer.py --steps=5 --max-train-rows=50 --beam-size=2 \
        --max-eval-rows=20                                                          # smoke
    torchrun --nproc-per-node=8 recipes/reactions/transformer.py --device=cuda ...   # 8 GPUs

``--inputs=separated`` reads ``reactants>reagents`` (``src_tokens_separated``), ``mixed``
all precursors together. ``--augmented`` adds the randomised-SMILES rows that ``molbench
augment`` wrote from the same build (made on the CPU, where RDKit is, and carried to a GPU
machine). ``--max-minutes`` bounds the training loop's wall time: the learning rate follows
whichever of steps or time is further along, and training ends when either runs out (a
budget makes the step count, so the result, depend on the machine; ``--steps`` alone does
not). The final scoring beam-searches every validation and test row; a ``--beam-size``
below 10 shortens it on a CPU. ``--eval-every`` / ``--eval-rows``: greedy estimates on a few
validation rows while training (no RDKit needed), recorded with the result as its
``training_curve``. ``--batch-tokens`` batches by padded tokens instead of rows;
``--ema-decay`` evaluates an exponential moving average of the weights.
``--transfer-config=uspto_mit`` also scores the saved model on that config's test split.
Under torchrun each rank trains on its shard of every batch (``--batch-size`` per rank) and
rank 0 saves, evaluates and records. ``--max-output-length=0`` (default) decodes at most a
quarter more tokens than the longest training product.
Reads top to bottom: settings → data → model → training loop → save + evaluate.
"""

import contextlib
import math
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from tqdm.auto import tqdm

from molbench import distributed, recipe
from molbench.chem.augment import read_augmented
from molbench.errors import ParameterError
from molbench.nn.reaction_transformer import PAD, ReactionTransformer
from molbench.nn.seq2seq import pad, token_batches


@dataclass(frozen=True)
class Settings(recipe.RunSettings):
    config: str = "uspto_15k"
    inputs: str = "separated"  # separated (reactants>reagents) | mixed
    d_model: int = 128  # CPU-sized; Molecular Transformer: 256, 8 heads, 4+4 layers, 2048
    heads: int = 4
    encoder_layers: int = 3
    decoder_layers: int = 3
    d_ff: int = 512
    dropout: recipe.Fraction = 0.0  # short CPU budgets learn faster without; 0.1 for long GPU runs
    label_smoothing: recipe.Fraction = 0.0
    steps: int = 20000  # at most; --max-minutes may end training earlier
    max_minutes: float = 0.0  # wall-time budget of the training loop (0 = none)
    batch_size: int = 32  # reactions per step (per rank under torchrun)
    batch_tokens: recipe.NonNegative = 0  # >0: batches of at most this many padded source +
    # target tokens (per rank), similar lengths together, instead of --batch-size rows
    ema_decay: recipe.Fraction = 0.0  # >0: evaluate an exponential moving average of the
    # weights (torch.optim.swa_utils; Molecular Transformer averaged its last checkpoints)
    lr: float = 2e-3  # peak; linear warmup, then cosine to zero
    warmup_steps: int = 100
    weight_decay: float = 0.01
    augmented: str = ""  # Parquet file from `molbench augment reactions` (this build, train)
    beam_size: int = 10  # candidates per reaction at evaluation (the task scores 10)
    length_penalty: float = 1.0  # beam scores are log-probability / length**length_penalty
    max_output_length: recipe.NonNegative = 0  # beam search stops here (0 = from train targets)
    eval_every: recipe.NonNegative = 0  # steps between greedy validation estimates (0 = at the end)
    eval_rows: int = 300  # validation rows of those estimates
    transfer_config: str = ""  # e.g. uspto_mit: also score the saved model on its test split


s = recipe.parse_overrides(Settings())
world = distributed.start(s.device)
device = world.device
torch.manual_seed(world.torch_seed(s.seed))
rng = np.random.default_rng(s.seed)  # the same batches on every rank
run = recipe.Run(f"molecular_transformer_{s.inputs}", __file__, s.seed, device, world=world)

# model
hyperparameters = {
    "inputs": s.inputs,
    "d_model": s.d_model,
    "heads": s.heads,
    "encoder_layers": s.encoder_layers,
    "decoder_layers": s.decoder_layers,
    "d_ff": s.d_ff,
    "dropout": s.dropout,
    "beam_size": s.beam_size,
    "length_penalty": s.length_penalty,
    "max_output_length": s.max_output_length,
}
try:
    model = ReactionTransformer.from_hyperparameters(hyperparameters).to(device)
except ValueError as e:  # inputs, beam size or shape that does not exist
    raise ParameterError(str(e)) from None
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")

# data: source and target ids (<bos> … <eos>), the augmented copies after the rows themselves
built = recipe.dataset("reactions", s.root, s.data, [s.config])
if s.transfer_config:  # fail before training, not after
    recipe.check_transfer(built, s.config, s.transfer_config)
train_table = built.table(s.config, "train", ["id", model.source_column, "tgt_tokens"])
if s.max_train_rows:
    train_table = train_table.slice(0, s.max_train_rows)
source_lists = train_table[model.source_column].to_pylist()
target_lists = train_table["tgt_tokens"].to_pylist()
if s.augmented:
    augmented, made_from = read_augmented(s.augmented)
    expected = (built.config_hash(s.config), s.config, "train")
    if (made_from["content_hash"], made_from["config"], made_from["split"]) != expected:
        raise ParameterError(
            f"{s.augmented} was made from {made_from['config']}/{made_from['split']} "
            f"of content {made_from['content_hash']}, not from {s.config}/train of this build "
            f"({expected[0]}); rerun molbench augment reactions on it"
        )
    augmented = augmented.filter(pc.is_in(augmented["id"], train_table["id"]))
    source_lists += augmented[model.source_column].to_pylist()
    target_lists += augmented["tgt_tokens"].to_pylist()
    print(
        f"{augmented.num_rows:,} augmented rows ({made_from['copies']} copies) from {s.augmented}"
    )
sources, source_lengths = pad(source_lists, torch.int16)
targets, target_lengths = pad(target_lists, torch.int16)
model.max_output_length = recipe.decode_length(s.max_output_length, target_lengths.tolist())
hyperparameters["max_output_length"] = model.max_output_length
validation = built.table(s.config, "validation", [model.source_column, "tgt_tokens"])
validation = validation.slice(0, min(s.eval_rows, s.max_eval_rows or s.eval_rows))


pair_lengths = (source_lengths + target_lengths).numpy()


def epoch_batches() -> list[np.ndarray]:
    """One pass over the rows in shuffled batches of similar source length (less padding):
    ``batch_size`` rows each, or with ``--batch-tokens`` as many as fit that many tokens."""
    order = rng.permutation(len(sources))
    rows_per_batch = batch_size if not s.batch_tokens else tokens // int(pair_lengths.mean())
    rows_per_chunk = 50 * max(1, rows_per_batch)
    chunks = np.array_split(order, max(1, len(order) // rows_per_chunk))
    by_length = np.concatenate(
        [c[np.argsort(source_lengths[c].numpy(), kind="stable")] for c in chunks]
    )
    if s.batch_tokens:
        batches = token_batches(by_length, pair_lengths, tokens)
    else:
        batches = np.array_split(by_length, max(1, len(by_length) // batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def learning_rate(step: int, progress: float) -> float:
    """Linear warmup over ``warmup_steps``, then cosine decay over the run's progress."""
    return s.lr * min(1.0, (step + 1) / s.warmup_steps) * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def greedy_exact_match(rows: pa.Table, batch_size: int = 64) -> float:
    """Share of rows whose greedy output is the canonical product token for token: a
    cheap, RDKit-free lower bound on top-1 to watch training by."""
    model.eval()
    hits = 0
    for start in range(0, rows.num_rows, batch_size):
        chunk = rows.slice(start, batch_size)
        source, _ = pad(chunk[model.source_column].to_pylist())
        with autocast:
            out = model.greedy(source.to(device)).cpu().tolist()
        for ids, target in zip(out, chunk["tgt_tokens"].to_pylist(), strict=True):
            hits += [i for i in ids if i != PAD] == list(target[1:])
    model.train()
    return hits / max(1, rows.num_rows)


# training loop (bf16 autocast on GPU; the loss in float32)
optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
autocast = (
    torch.autocast("cuda", dtype=torch.bfloat16)
    if device.startswith("cuda")
    else contextlib.nullcontext()
)
trainer = world.wrap(model)
batch_size = s.batch_size * world.size  # reactions per step, all ranks together
tokens = s.batch_tokens * world.size
# the moving average of the weights, updated in place by torch's own EMA step
averaged = [p.detach().clone() for p in model.parameters()] if s.ema_decay else []
ema_update = torch.optim.swa_utils.get_ema_multi_avg_fn(s.ema_decay)
budget = s.max_minutes * 60
model.train()
queue: list[np.ndarray] = []
started = time.perf_counter()
bar = tqdm(
    total=s.steps, desc=f"transformer {s.inputs} {s.config} seed {s.seed}", disable=not run.main
)
step = 0
progress = 0.0
while progress < 1.0:
    if not queue:
        queue = epoch_batches()
    rows = torch.from_numpy(world.shard(queue.pop()))
    source = sources[rows][:, : int(source_lengths[rows].max())].to(device).long()
    target = targets[rows][:, : int(target_lengths[rows].max())].to(device).long()
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(step, progress)
    with autocast:
        loss = trainer(ReactionTransformer.loss, source, target, s.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    if averaged:
        ema_update(averaged, [p.detach() for p in model.parameters()], step)
    step += 1
    elapsed = time.perf_counter() - started
    progress = world.agree(max(step / s.steps, elapsed / budget if budget else 0.0))
    bar.update(1)
    bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{learning_rate(step, progress):.1e}")
    if s.eval_every and step % s.eval_every == 0 and run.main:
        estimate = greedy_exact_match(validation)
        run.curve.append({"step": step, "seconds": round(elapsed, 1), "greedy": estimate})
        bar.write(f"step {step}: validation greedy exact match {estimate:.4f}")
bar.close()
world.finish()
if averaged:  # evaluate and save the averaged weights
    with torch.no_grad():
        for p, a in zip(model.parameters(), averaged, strict=True):
            p.copy_(a)
seconds = time.perf_counter() - started
if run.main:
    print(f"{step} steps in {seconds:.0f} s ({seconds / step:.3f} s/step; --steps={s.steps})")
    estimate = greedy_exact_match(validation)
    run.curve.append({"step": step, "seconds": round(seconds, 1), "greedy": estimate})
    print(f"validation greedy exact match ({validation.num_rows} rows): {estimate:.4f}")

# save + evaluate on rank 0 (beam search, top-k over RDKit-canonical products)
results = recipe.save_and_evaluate(
    model, "reaction_transformer", hyperparameters, run, built, s, s.transfer_config
)
recipe.print_summary(results)
recipe.print_topk(results, f"beam {s.beam_size} at ")
