"""Forward reaction prediction by graph edits: WLDN (Jin et al. 2017; Coley et al. 2019).

Stage 1 scores every atom pair of the precursor mixture graph for each new bond class;
stage 2 ranks valence-valid combinations of the best changes with a difference network.
The context of stage 1 is global attention over the mixture (``--context=global``, WLDN)
or a budget of ``--k`` edges per atom to other molecules (``--context=budget``), the
ablation of the budgeted mixture graph:

    python recipes/reactions/wldn.py --max-minutes=15                        # CPU, uspto_15k
    python recipes/reactions/wldn.py --context=budget --k=4 --seed=1
    python recipes/reactions/wldn.py --device=cuda --transfer-config=uspto_mit --record=true
    python recipes/reactions/wldn.py --center-steps=3 --rank-steps=3 --max-train-rows=30 \
        --max-eval-rows=20                                                           # smoke
    torchrun --nproc-per-node=4 recipes/reactions/wldn.py --device=cuda    # 4 GPUs

Defaults (the recorded ``wldn`` rows): stage 1 a WLN of 128 units, depth 3, 4,000 steps of
32 reactions; stage 2 a WLN of 64 units, depth 3, plus one message-passing step over the
difference vectors (``--rank-diff-depth``), 3,000 steps of 8 reactions with 32 candidates
each (the 31 best by stage-1 prior, the hardest negatives, and the true edit set); about 15
CPU-minutes of training on one core (``OMP_NUM_THREADS=1``). Before stage 2 the run prints
the validation coverage@k: how often the true edit set is among the first k candidates by
stage-1 prior (the ceiling of stage 2 at top-k). Scored results carry ``top{k}_subset``, the
same ranking under the WLDN authors' subset rule, beside the published rows rescored so.

Method names: ``wldn`` (global) and ``wldn_budget_k<k>``. ``--max-minutes`` bounds both
training loops together (``--center-share`` of it for stage 1): the learning rate follows
whichever of steps or time is further along, and a stage ends when either runs out (a
budget makes the step count, so the result, depend on the machine). Training reads Parquet
columns only; evaluation turns edit sets into SMILES with RDKit on the CPU.
``--transfer-config=uspto_mit`` also scores the saved model on that config's test split.
Under torchrun each rank trains on its shard of every batch (batch sizes per rank) and rank
0 saves, evaluates and records. ``--max-eval-rows`` also bounds the validation coverage check.
Reads top to bottom: settings → data → model → stage 1 → candidates → stage 2 → save +
evaluate.
"""

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from molbench import distributed, recipe
from molbench.errors import ParameterError
from molbench.nn.reaction_wln import ReactionWLDN, rank_batch

COVERAGE_KS = (1, 10, 50, 150, 500)  # reported where k <= --candidates


@dataclass(frozen=True)
class Settings(recipe.RunSettings):
    config: str = "uspto_15k"
    context: str = "global"  # global (attention over the mixture) | budget (k cross edges)
    k: recipe.NonNegative = 4  # cross-molecule edges per atom with --context=budget
    hidden: int = 128
    depth: int = 3
    rank_hidden: int = 64
    rank_depth: int = 3
    rank_diff_depth: int = 1  # message passing over the difference vectors (WLDN)
    top_k: int = 10  # best bond changes combined into candidates
    max_edits: int = 5  # changes per candidate at most
    candidates: int = 150  # candidates ranked per reaction at evaluation
    train_candidates: int = 32  # per reaction in stage 2 training (the true one included)
    batch_size: int = 32  # reactions per stage-1 step (per rank under torchrun)
    rank_batch_size: int = 8  # reactions per stage-2 step (per rank)
    lr: float = 1e-3  # peak of both stages; cosine to zero over each stage
    center_steps: int = 4000  # at most; --max-minutes may end a stage earlier
    rank_steps: int = 3000
    max_minutes: float = 0.0  # wall-time budget of both training loops (0 = none)
    center_share: recipe.Fraction = 0.5  # of --max-minutes for stage 1
    transfer_config: str = ""  # e.g. uspto_mit: also score the saved model on its test split


s = recipe.parse_overrides(Settings())
world = distributed.start(s.device)
device = world.device
torch.manual_seed(world.torch_seed(s.seed))
rng = np.random.default_rng(s.seed)  # the same batches on every rank
method = "wldn" if s.context == "global" else f"wldn_budget_k{s.k}"
run = recipe.Run(method, __file__, s.seed, device, world=world)

# model
hyperparameters = {
    "hidden": s.hidden,
    "depth": s.depth,
    "rank_hidden": s.rank_hidden,
    "rank_depth": s.rank_depth,
    "rank_diff_depth": s.rank_diff_depth,
    "context": s.context,
    "k": s.k,
    "top_k": s.top_k,
    "max_edits": s.max_edits,
    "candidates": s.candidates,
}
try:
    model = ReactionWLDN.from_hyperparameters(hyperparameters).to(device)
except ValueError as e:
    raise ParameterError(str(e)) from None
trainer = world.wrap(model, find_unused=True)  # each stage trains half of the model
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")

# data: mixture graphs with every atom pair's features (and the context's pairs) precomputed
built = recipe.dataset("reactions", s.root, s.data, [s.config])
if s.transfer_config:  # fail before training, not after
    recipe.check_transfer(built, s.config, s.transfer_config)
train_table = built.table(s.config, "train")
if s.max_train_rows:
    train_table = train_table.slice(0, s.max_train_rows)
graphs = model.graphs(train_table)
validation_table = built.table(s.config, "validation")
validation = model.graphs(validation_table.slice(0, s.max_eval_rows or None))
print(f"{len(graphs):,} training reactions, {int(graphs.pair_offsets[-1]):,} atom pairs")


def learning_rate(progress: float) -> float:
    return s.lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train_stage(name: str, steps: int, minutes: float, step_fn) -> int:
    """Run ``step_fn(step) -> loss`` until the steps or the minutes run out."""
    budget = minutes * 60
    started = time.perf_counter()
    step, progress = 0, 0.0
    bar = tqdm(total=steps, desc=f"{name} {method} {s.config} seed {s.seed}", disable=not run.main)
    while progress < 1.0:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(progress)
        loss = step_fn(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        step += 1
        elapsed = time.perf_counter() - started
        progress = world.agree(max(step / steps, elapsed / budget if budget else 0))
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    seconds = time.perf_counter() - started
    print(f"{name}: {step} steps in {seconds:.0f} s ({seconds / step:.3f} s/step)")
    return step


def shuffled(n: int, batch_size: int):
    """Endless random batches of row indices, reshuffled every epoch."""
    while True:
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            yield order[start : start + batch_size]


# stage 1: reaction centre
model.train()
optimizer = torch.optim.Adam(model.center.parameters(), lr=s.lr)
center_batches = shuffled(len(graphs), min(s.batch_size * world.size, len(graphs)))


def center_loss(m: ReactionWLDN, batch: dict) -> torch.Tensor:
    return m.center.loss(m.center(batch), batch)


def center_step(_step: int) -> torch.Tensor:
    rows = world.shard(next(center_batches))
    batch = {k: v.to(device) for k, v in graphs.batch(rows).items()}
    return trainer(center_loss, batch)


train_stage("centre", s.center_steps, s.max_minutes * s.center_share, center_step)


# candidates: stage-1 proposals for every training reaction, the true set always included
model.eval()
started = time.perf_counter()
proposals = []
true_ranks = []  # validation: 1-based place of the true edit set among the candidates, 0: absent
for start in range(0, len(graphs), 64):
    rows = np.arange(start, min(start + 64, len(graphs)))
    proposals += model.propose(graphs, rows, device, s.train_candidates - 1, truth=True)
for start in range(0, len(validation), 64):
    rows = np.arange(start, min(start + 64, len(validation)))
    found = model.propose(validation, rows, device, s.candidates, truth=False)
    truths = [validation.true_edits(r) for r in rows.tolist()]
    for f, t in zip(found, truths, strict=True):
        true_ranks.append(f.edits.index(t) + 1 if t in f.edits else 0)
usable = np.array([i for i, f in enumerate(proposals) if f.true_index >= 0 and len(f.edits) > 1])
ranks = np.array(true_ranks)
coverage = {k: float(np.mean((ranks > 0) & (ranks <= k))) for k in COVERAGE_KS if k <= s.candidates}
print(
    f"candidates in {time.perf_counter() - started:.0f} s; validation coverage (true edit set "
    "among the first k candidates by stage-1 prior): "
    + ", ".join(f"@{k} {v:.4f}" for k, v in coverage.items())
    + f"; {len(usable):,} training reactions for stage 2"
)
if not len(usable):
    raise ParameterError(
        "no training reaction has its recorded edit set among several stage-1 "
        "candidates, so stage 2 has nothing to rank; train stage 1 longer (--center-steps)"
    )

# stage 2: candidate ranking
model.train()
optimizer = torch.optim.Adam(model.ranker.parameters(), lr=s.lr)
rank_batches = shuffled(len(usable), min(s.rank_batch_size * world.size, len(usable)))


def rank_loss(m: ReactionWLDN, batch: dict) -> torch.Tensor:
    return m.ranker.loss(m.ranker(batch), batch)


def rank_step(_step: int) -> torch.Tensor:
    rows = usable[world.shard(next(rank_batches))]
    batch = rank_batch(graphs, rows, [proposals[r] for r in rows])
    batch = {k: v.to(device) for k, v in batch.items()}
    return trainer(rank_loss, batch)


train_stage("ranking", s.rank_steps, s.max_minutes * (1 - s.center_share), rank_step)
world.finish()

# save + evaluate on rank 0 (RDKit turns the ranked edit sets into product SMILES)
results = recipe.save_and_evaluate(
    model, "reaction_wldn", hyperparameters, run, built, s, s.transfer_config
)
recipe.print_summary(results)
recipe.print_topk(results)
