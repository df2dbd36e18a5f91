"""Contrastive structure-text retrieval (Text2Mol / MoleculeSTM style) on the text dataset.

A GINE molecule encoder and attention pooling of a frozen text encoder's token states
(``--text-input=sentence``: a projection of the pooled sentence embedding instead) are
trained with the symmetric InfoNCE loss; retrieval is by cosine in the shared space. The
encoder is all-MiniLM-L6-v2 from its wheel, or any local BERT-family directory with
``model.safetensors`` (``--text-encoder=DIR``, e.g. SciBERT), loaded by ``transformers``.

On hydrocarbon names two more things, both because the frozen word pieces blur locant
isomers (``nona-1,3,5,6,7-pentaene`` vs ``nona-1,3,4,6,7-pentaene``): a small trainable
encoder of the name itself, whose pooled states join the frozen encoder's before the text
projection, and hard negatives: each batch is runs of ``--hard-negatives=32`` rows sharing a
molecular formula, so the in-batch negatives are the isomers. The name encoder reads IUPAC
morphemes (``--char-units=morphemes_v1``, the default on names: numeral stems, multipliers,
endings and whole locant numbers, one token each, see :mod:`molbench.nn.name_morphemes`;
``--char-units=characters`` reads characters): embedding + position, 3 dilated convolutions
(``--char-width=64``), ``--char-attention=2`` self-attention layers, 4 attention-pooling
heads plus ``--char-counts=64`` summed features (attention pooling averages, sums count).
ChEBI-20 descriptions keep the frozen encoder alone (``--char-width`` defaults to 0 there);
``--char-width=0 --hard-negatives=0`` is the frozen-encoder-only model on names,
``--text-input=none`` the name encoder alone. ``--count-loss=W`` adds a regression of the
molecule's counts (atoms, hydrogens, double / triple bonds, branches, ends) from both
sides' embeddings through one shared head. ``--char-values=1`` adds fixed numeral-value
features to the morpheme embedding (``but``, ``buta``, ``tetra`` and the locant ``4`` all
mean 4; :func:`molbench.nn.name_morphemes.value_features`): seed 0 validation 0.979 (0.976
without), test 0.9755 (0.9775) — within seed noise, so it stays off by default.

Where the last 2.5 % are (seed-0 model): the right molecule is in the top 5 for 0.9995 of
test names; three seeds' similarities summed give 0.9855; a softmax over the *test queries*
(dual softmax, transductive: it uses every other test name, so it is not a valid row)
gives 0.991, while the same normalisation against a bank of training names (QB-Norm,
CSLS) gives nothing (0.973-0.976). The misses are near-ties a re-ranker over the top 5
could settle; simple names fail too (``but-1-ene`` → ``oct-1-ene``). ``rerank.py`` does
that with a name → SMILES decoder: 0.998 ± 0.001 over 3 seeds (``contrastive_gin_rerank``).

Measured on hydrocarbon_names (t2m Hits@1, 1,200 steps, one core each, two runs at once):

| text side | validation | test | s / step |
| --- | --- | --- | --- |
| frozen encoder only | — | 0.954 ± 0.004 (3 seeds) | — |
| + character CNN, isomer batches, count features | — | 0.969 ± 0.002 (3 seeds) | 0.88 |
| + ``--char-attention=1`` (seed 0) | 0.967 | 0.9715 | 1.07 |
| + ``--text-hidden=256`` instead (seed 0) | 0.965 | 0.964 | 0.74 |
| morphemes, 2 attention layers, no frozen encoder (seed 0) | 0.971 | 0.9685 | 1.05 |
| the same + ``--count-loss=1`` (seed 0) | 0.9665 | 0.970 | 1.0 |
| morphemes + frozen tokens, the default (seed 0) | 0.976 | 0.9775 | 1.25 |
| the same + ``--count-loss=1`` (seed 0) | 0.9735 | 0.977 | 1.25 |
| the default, recorded (3 seeds) | — | 0.975 ± 0.004 (MRR 0.986) | 1.25 |

The target 0.99 is not reached, and the reason is measured: the text side does not learn to
count from 16,000 names. On 2,000 training rows retrieval is 0.9945 (the misses isomers),
on unseen names 0.971, and two thirds of those misses retrieve a molecule of another
formula, small ones too (``2,3-dimethylbuta-1,3-diene`` → ``2-methyl-3-methylidenehex-1-ene``).
Telling it to count does not help: the count loss leaves the score where it was, and the
same morpheme encoder trained only to classify carbon and hydrogen counts (600 steps)
gets the formula of 92.6 % of validation names right, while 98 % of the contrastive
model's top hits have the right formula: a formula channel would not close the gap
either. What should: many more training names (the generator is not the limit,
``n_molecules`` of the build is) or an encoder that follows the name's grammar (brackets
as a tree, multipliers applied). What does, without either: re-ranking the top 10 with a
model that reads the name token by token while writing the molecule (``rerank.py``).

    python recipes/text/contrastive.py --config hydrocarbon_names --seed 0
    python recipes/text/contrastive.py --config hydrocarbon_names_size_ood --device cuda
    python recipes/text/contrastive.py --steps=5 --max-train-rows=200 --max-eval-rows=100  # smoke
    torchrun --nproc-per-node=2 recipes/text/contrastive.py --batch-size=256   # 2 ranks
    python recipes/text/contrastive.py --config chebi20 --text-encoder ../scibert_scivocab_uncased

The frozen text features are computed once on the CPU and cached under the molbench home
(``$MOLBENCH_HOME/embeddings/``, else ``~/.cache/molbench/embeddings/``; not under
``--root``), so later runs, and a GPU machine given that folder, skip the encoder.
Under torchrun each rank encodes its shard of every batch and the loss gathers all ranks'
embeddings, so the in-batch negatives are the whole global batch (``--batch-size`` per
rank); rank 0 saves, evaluates and records.
Reads top to bottom: settings → data → model → training loop → save + evaluate.
"""

import contextlib
import re
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm.auto import tqdm

from molbench import distributed, fsutil, recipe
from molbench.errors import ParameterError
from molbench.nn.text_contrastive import (
    CHAR_UNITS,
    ContrastiveGIN,
    MoleculeGraphs,
    TextFeatures,
    isomer_order,
    texts,
)
from molbench.nn.text_encoder import MINILM, identify


@dataclass(frozen=True)
class Settings(recipe.RunSettings):
    config: str = "hydrocarbon_names"
    hidden: int = 128
    layers: int = 6
    dim: int = 128  # shared embedding dimension
    # frozen encoder token states (order kept) | sentence (pooled) | none (characters alone)
    text_input: str = "tokens"
    text_heads: int = 8  # attention-pooling heads over the token states
    text_hidden: int = 1024
    text_layers: int = 3  # linear layers of the text projection head
    pool: str = "sum"  # sum | mean_max
    steps: int = 1200
    batch_size: int = 512  # in-batch negatives (per rank: all ranks' rows are negatives)
    lr: float = 3e-3
    weight_decay: float = 1e-4
    text_encoder: str = ""  # local encoder directory ("" = all-MiniLM-L6-v2 from its wheel)
    # character CNN width (0 = none; -1 = 64 on hydrocarbon names, none on ChEBI-20)
    char_width: Annotated[int, recipe.Range(-1)] = -1
    char_layers: int = 3
    char_heads: int = 4
    char_max_length: int = 128  # characters (or morphemes) read per text
    # summed character count features (-1 = 64 with the character CNN, else none)
    char_counts: Annotated[int, recipe.Range(-1)] = -1
    # self-attention layers after the character CNN (-1 = 2 with the CNN)
    char_attention: Annotated[int, recipe.Range(-1)] = -1
    # what the CNN reads: characters | morphemes_v1 (IUPAC morphemes; "" = those on names)
    char_units: str = ""
    # numeral value features of the morphemes (what "but", "tetra", "4" count; 0 = off)
    char_values: Annotated[int, recipe.Range(0, 1)] = 0
    count_loss: float = 0.0  # weight of the auxiliary count loss (0 = off)
    hard_negatives: recipe.NonNegative = 32  # isomers kept together per batch (0 = off)


s = recipe.parse_overrides(Settings())
world = distributed.start(s.device)
device = world.device
torch.manual_seed(world.torch_seed(s.seed))
rng = np.random.default_rng(s.seed)  # the same batches on every rank
encoder = identify(s.text_encoder)  # weights and config sha256: the model records them
# another encoder is another leaderboard method, e.g. contrastive_gin_scibert_scivocab_uncased
suffix = "" if encoder == MINILM else "_" + re.sub(r"\W+", "_", encoder.name)
run = recipe.Run(f"contrastive_gin{suffix}", __file__, s.seed, device, world=world)

# model (first: a shape or pooling that does not exist fails before any data work)
chebi = s.config.startswith("chebi20")
char_width = s.char_width if s.char_width >= 0 else (0 if chebi else 64)
char_counts = s.char_counts if s.char_counts >= 0 else (64 if char_width else 0)
char_attention = s.char_attention if s.char_attention >= 0 else (2 if char_width else 0)
char_units = s.char_units or ("characters" if chebi else "morphemes_v1")
if char_units not in CHAR_UNITS:  # checked even when no name encoder reads them
    raise ParameterError(f"--char-units must be one of {', '.join(CHAR_UNITS)}, got {char_units!r}")
if s.char_values and not char_width:
    raise ParameterError("--char-values=1 needs the name encoder (--char-width > 0)")
hyperparameters = {
    "hidden": s.hidden,
    "layers": s.layers,
    "dim": s.dim,
    "text_hidden": s.text_hidden,
    "text_layers": s.text_layers,
    "pool": s.pool,
    "text_input": s.text_input,
    "text_heads": s.text_heads,
    **encoder.as_hyperparameters(),
    **(
        {
            "char_width": char_width,
            "char_layers": s.char_layers,
            "char_heads": s.char_heads,
            "char_max_length": s.char_max_length,
            "char_counts": char_counts,
            **({"char_attention": char_attention} if char_attention else {}),
            **({"char_units": char_units} if char_units != "characters" else {}),
            **({"char_values": 1} if s.char_values else {}),
        }
        if char_width
        else {}
    ),
    **({"count_head": 1} if s.count_loss else {}),
}
try:
    model = ContrastiveGIN.from_hyperparameters(hyperparameters).to(device)
except ValueError as e:  # a pooling or text input that does not exist
    raise ParameterError(str(e)) from None
trainer = world.wrap(model)


def encode(m: ContrastiveGIN, molecules: object, text_inputs: tuple) -> tuple:
    return m.encode_molecules(molecules), m.encode_texts(*text_inputs)


# data: graph columns → flat arrays; texts → frozen encoder features (computed once, cached)
CORPUS_CONFIG = "chebi20_molecules"  # ChEBI-20's whole corpus: Text2Mol's candidate pool
built = recipe.dataset("text", s.root, s.data, [s.config, *([CORPUS_CONFIG] if chebi else [])])
train_table = built.table(s.config, "train")
if s.max_train_rows:
    train_table = train_table.slice(0, s.max_train_rows)
graphs = MoleculeGraphs(train_table)
chars = s.char_max_length if char_width else 0
text_features = TextFeatures(
    texts(train_table),
    s.text_input,
    encoder,
    device,
    progress=True,
    chars=chars,
    units=char_units,
)
formulas = graphs.formulas()  # hard negatives: batches of isomers (see isomer_order)
if s.count_loss:  # the count loss's targets, standardised over the training rows
    counts = torch.from_numpy(graphs.counts())
    counts = (counts - counts.mean(0)) / counts.std(0).clamp(min=1e-6)
for split in ("validation", "test"):  # into the cache now; predict reads them back
    rows = built.table(s.config, split).slice(0, s.max_eval_rows or None)
    TextFeatures(texts(rows), s.text_input, encoder, progress=True)

# training loop (bf16 autocast on GPU; the loss itself in float32)
optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=s.lr, total_steps=s.steps)
autocast = (
    torch.autocast("cuda", dtype=torch.bfloat16)
    if device.startswith("cuda")
    else contextlib.nullcontext()
)
batch_size = min(s.batch_size * world.size, len(graphs))  # rows per step, all ranks together
model.train()
order, cursor = isomer_order(formulas, s.hard_negatives, rng), 0
bar = tqdm(range(s.steps), desc=f"contrastive_gin {s.config} seed {s.seed}", disable=not run.main)
for _step in bar:
    if cursor + batch_size > len(order):
        order, cursor = isomer_order(formulas, s.hard_negatives, rng), 0
    rows = world.shard(order[cursor : cursor + batch_size])
    cursor += batch_size
    with autocast:
        molecules, projected = trainer(
            encode,
            graphs.batch(rows).to(device),
            tuple(t.to(device) for t in text_features.batch(rows)),
        )
    loss = model.loss(world.gather(molecules), world.gather(projected))
    if s.count_loss:
        targets = counts[torch.from_numpy(rows)].to(device)
        loss = loss + s.count_loss * model.count_loss(molecules, projected, targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    bar.set_postfix(loss=f"{loss.item():.4f}", scale=f"{model.logit_scale.exp().item():.1f}")
world.finish()

# save + evaluate on rank 0 (predict embeds the validation / test names through the cache too)
results = recipe.save_and_evaluate(model, "text_contrastive_gin", hyperparameters, run, built, s)
recipe.print_summary(results)

# ChEBI-20 also has Text2Mol's protocol: rank each test text against all 33,008 molecules
if chebi and CORPUS_CONFIG not in built.configs:
    print(f"whole-corpus ranking skipped: {built.path} has no {CORPUS_CONFIG}")
if chebi and s.max_eval_rows and results:
    print("whole-corpus ranking skipped: a smoke run (--max-eval-rows)")
if chebi and CORPUS_CONFIG in built.configs and results and not s.max_eval_rows:
    from molbench.evaluate import evaluate_predictions  # scoring needs RDKit: not on a GPU box

    corpus = built.table(CORPUS_CONFIG, "corpus")
    candidates = pa.table(
        {"id": corpus["id"], "mol_embedding": model.embed_molecules(corpus, device)}
    )
    out_dir = s.run_dir(built.name, run.method)
    pq.write_table(candidates, out_dir / "corpus_embeddings.parquet")
    predictions = model.predict(built.table(s.config, "test"), device)
    table = pa.table({"id": built.table(s.config, "test")["id"], **predictions})
    pq.write_table(table, out_dir / "test_predictions.parquet")
    corpus_result = evaluate_predictions(
        out_dir / "test_predictions.parquet",
        str(built.path),
        s.config,
        "test",
        candidates=out_dir / "corpus_embeddings.parquet",
    )
    fsutil.write_json(out_dir / "test_whole_corpus.json", corpus_result)
    m = corpus_result["metrics"]
    print(
        f"test, whole corpus ({m['corpus_size']:.0f} molecules): t2m MRR "
        f"{m['t2m_corpus_mrr']:.4f}, Hits@1 {m['t2m_corpus_hits_at_1']:.4f}, "
        f"Hits@10 {m['t2m_corpus_hits_at_10']:.4f}"
    )
