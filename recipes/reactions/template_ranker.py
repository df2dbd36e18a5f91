"""Forward templates with a learned candidate ranker (Coley et al. 2017, ACS Cent. Sci.).

    python recipes/reactions/template_ranker.py --seed=0 --record=true \
        --transfer-config=uspto_mit
    python recipes/reactions/template_ranker.py --max-train-rows=200 --max-eval-rows=20  # smoke

The rules are those of ``templates.py`` (rdchiral forward templates extracted from train);
every product any rule gives a reaction is a candidate, and a small network
(molbench.nn.template_ranker) scores each from what its rule changed — the edits and the
Morgan environments of the changed atoms before and after, with the reactants' fingerprint
as context and the rules' training counts as inputs — trained with a softmax over each
training reaction's candidates, the recorded product labelled. Candidate scoring rather
than template relevance (an MLP predicting the rule from the reactants) because one rule
often gives several products (two amines, two sites); the counts keep the frequency
prior. No leak: a training reaction's candidates and count features come from the rules
of the *other* training reactions (its own rule's count less one; a rule only it gave is
dropped), so training sees the candidates a test reaction would.

Coverage — the recorded product among the candidates — bounds top-1 and is printed and
recorded for train (leave-one-out), validation and test. Applying thousands of rules is
most of the work and does not depend on the seed, so the candidates and their features are
cached in ``<run root>/cache`` (``--cache``), keyed by everything they depend on: the other
seeds and the transfer run reuse them (the result says whether they were cached, and the
CPU time they took when computed). Deterministic given ``--seed``; the network is saved
as ``model/`` (safetensors + card), the rules as ``templates.json`` beside it. Results are
scored here (ranking needs the rules and RDKit), top-k by position.
"""

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm import tqdm

from molbench import fsutil, recipe
from molbench.chem.template_features import N_DENSE, Featurizer, featurize_all
from molbench.chem.templates import TemplateLibrary, check_extraction
from molbench.errors import ParameterError
from molbench.models import ModelCard, save_model
from molbench.nn.template_ranker import (
    N_COUNT_FEATURES,
    CandidateArrays,
    TemplateRanker,
    count_features,
    nested_offsets,
)
from molbench.parallel import ordered_map
from molbench.tasks.reaction_metrics import canonical_molecules

CACHE_VERSION = 1  # bump when the candidates or their features change


@dataclass(frozen=True)
class Settings(recipe.RunSettings):
    config: str = "uspto_15k"  # rules and ranker come from this config's train split
    transfer_config: str = ""  # also score on this config's test split ("" = none)
    input_column: str = "reactants"  # reactants (separated) | precursors_mixed
    bits: int = 4096  # hashed ids per candidate feature space (3 spaces)
    context_bits: int = 2048  # hashed ids of the reactant fingerprint
    radius: int = 2  # Morgan radius around the changed atoms
    max_templates: recipe.NonNegative = 0  # rules that give a product per reaction (0 = all)
    hidden: int = 128
    dropout: recipe.Fraction = 0.2
    epochs: int = 15  # the epoch with the best validation top-1 is kept
    batch_size: int = 32  # reactions per step
    lr: float = 1e-3  # peak; cosine to zero
    weight_decay: float = 1e-4
    top_k: int = 10
    workers: int = 2  # processes for extraction and candidate generation
    cache: str = ""  # candidate cache ("" = runs/reactions/<method>/<config>/cache)


s = recipe.parse_overrides(Settings())
if s.input_column not in ("reactants", "precursors_mixed"):
    raise ParameterError(
        f"--input-column must be reactants or precursors_mixed, got {s.input_column!r}"
    )
torch.set_num_threads(1)
torch.manual_seed(s.seed)
rng = np.random.default_rng(s.seed)
METHOD = "rdchiral_templates_ranker" + ("_mixed" if s.input_column == "precursors_mixed" else "")
run = recipe.Run(METHOD, __file__, s.seed)
built = recipe.dataset("reactions", s.root, s.data, [s.config])
if s.transfer_config:  # fail before any work, not after
    recipe.check_transfer(built, s.config, s.transfer_config)
out_dir = s.run_dir(built.name, METHOD)
cache_dir = Path(s.cache or f"runs/{built.name}/{METHOD}/{s.config}/cache")
cache_key = {
    "version": CACHE_VERSION,
    "dataset": built.config_hash(s.config),
    **{k: getattr(s, k) for k in ("config", "input_column", "bits", "context_bits", "radius")},
    **{k: getattr(s, k) for k in ("max_templates", "max_train_rows", "max_eval_rows")},
}
key_hash = hashlib.sha256(json.dumps(cache_key, sort_keys=True).encode()).hexdigest()[:16]
cache_dir = cache_dir / key_hash
cache_dir.mkdir(parents=True, exist_ok=True)
if not (cache_dir / "key.json").exists():  # the same text for every seed sharing it
    fsutil.write_json(cache_dir / "key.json", cache_key)
out_dir.mkdir(parents=True, exist_ok=True)

# --- rules: extract and count on train (cached) -------------------------------------------
train = built.table(s.config, "train", ["mapped_rxn", "edits", s.input_column, "products"])
if s.max_train_rows:
    train = train.slice(0, s.max_train_rows)
rows = train.to_pylist()


def extract(row: dict) -> list:
    e = check_extraction(row["mapped_rxn"], row["edits"], row[s.input_column], row["products"])
    return [e.template, e.error, e.self_consistent]


templates_file = cache_dir / "templates.json"
if templates_file.exists():
    extracted = json.loads(templates_file.read_text())
else:
    started_cpu = recipe.cpu_seconds()
    with ordered_map(s.workers) as imap:
        own = list(tqdm(imap(extract, rows), total=len(rows), desc="extract templates"))
    extracted = {"own": own, "cpu_seconds": round(recipe.cpu_seconds() - started_cpu, 1)}
    fsutil.write_json(templates_file, extracted)
own_templates = [t for t, _, _ in extracted["own"]]
library = TemplateLibrary.from_templates(own_templates)
index_of = {t: i for i, t in enumerate(library.templates)}
counts = np.array(library.counts, dtype=np.int64)
stats = {
    "n_train_reactions": len(rows),
    "n_with_template": sum(bool(t) for t in own_templates),
    "n_distinct_templates": len(library),
    "extraction_cpu_seconds": extracted["cpu_seconds"],
}
print(f"{stats['n_with_template']:,}/{len(rows):,} train reactions give a rule; {len(library):,}")
fsutil.write_json(
    out_dir / "templates.json",
    {"templates": [[t, int(n)] for t, n in zip(library.templates, library.counts, strict=True)]},
)


# --- candidates and features (cached per split) --------------------------------------------
featurizer = Featurizer(library, s.bits, s.context_bits, s.radius, s.max_templates)
SCHEMA = pa.schema(
    [
        ("products", pa.list_(pa.string())),
        ("templates", pa.list_(pa.list_(pa.int32()))),
        ("ids", pa.list_(pa.list_(pa.int32()))),
        ("values", pa.list_(pa.list_(pa.float32()))),
        ("dense", pa.list_(pa.list_(pa.float32()))),
        ("context_ids", pa.list_(pa.int32())),
        ("context_values", pa.list_(pa.float32())),
    ]
)


def candidates(config: str, split: str, inputs: list[str]) -> tuple[pa.Table, dict]:
    """The split's candidate rows (from the cache when it has them) and how they were made."""
    path = cache_dir / f"{config}_{split}.parquet"
    info_path = cache_dir / f"{config}_{split}.json"
    dataset_hash = built.config_hash(config)
    if path.exists() and info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("dataset") == dataset_hash and info.get("n_rows") == len(inputs):
            return pq.read_table(path), {**info, "cached": True}
    started, started_cpu = time.perf_counter(), recipe.cpu_seconds()
    made = list(
        tqdm(
            featurize_all(featurizer, inputs, s.workers),
            total=len(inputs),
            desc=f"candidates {config}/{split}",
        )
    )
    table = pa.Table.from_pylist(made, schema=SCHEMA)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    info = {
        "dataset": dataset_hash,
        "n_rows": len(inputs),
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(recipe.cpu_seconds() - started_cpu, 1),
    }
    fsutil.write_json(info_path, info)
    return table, {**info, "cached": False}


def targets(products: list[list[str]], truth: list[str]) -> np.ndarray:
    """Per reaction, the index of the recorded product among its candidates (-1: absent)."""
    found = []
    for cands, true in zip(products, truth, strict=True):
        want = canonical_molecules(true)
        found.append(next((i for i, c in enumerate(cands) if canonical_molecules(c) == want), -1))
    return np.array(found, dtype=np.int64)


def arrays(table: pa.Table, own: np.ndarray | None = None) -> tuple[CandidateArrays, np.ndarray]:
    """The split's candidates as arrays, count features included; and which to keep.

    ``own``: per reaction, the library index of its own rule (-1: none), counted out of
    its candidates' counts (leave one out, training reactions); a candidate no other
    reaction's rule gives is then not kept.
    """
    cand_offsets, rule_offsets, rules = nested_offsets(table["templates"])
    rule_counts = counts[rules].astype(float)
    if own is not None:
        entry_reaction = np.repeat(
            np.repeat(np.arange(len(cand_offsets) - 1), np.diff(cand_offsets)),
            np.diff(rule_offsets),
        )
        rule_counts -= rules == own[entry_reaction]
    counted = count_features(rule_offsets, rule_counts, cand_offsets)
    _, _, dense = nested_offsets(table["dense"])
    dense = np.concatenate([dense.reshape(len(counted), N_DENSE), counted], axis=1)
    return CandidateArrays.from_table(table, dense.astype(np.float32)), counted[:, 0] > 0


def kept_targets(data: CandidateArrays, keep: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The true candidate's index among the kept ones of its reaction (-1: not kept)."""
    found = np.full(len(truth), -1, dtype=np.int64)
    for r, t in enumerate(truth.tolist()):
        start = data.cand_offsets[r]
        if t >= 0 and keep[start + t]:
            found[r] = int(keep[start : start + t].sum())
    return found


train_table, train_info = candidates(s.config, "train", train[s.input_column].to_pylist())
train_truth = targets(train_table["products"].to_pylist(), train["products"].to_pylist())
own_index = np.array([index_of.get(t, -1) for t in own_templates], dtype=np.int64)
train_all, train_keep = arrays(train_table, own_index)
train_target = kept_targets(train_all, train_keep, train_truth)
train_data = train_all.select(train_keep)
n_choices = np.diff(train_data.cand_offsets)
examples = np.flatnonzero((train_target >= 0) & (n_choices > 1))
stats["train_candidates"] = train_info
stats["train_coverage_loo"] = float(np.mean(train_target >= 0)) if len(rows) else 0.0
stats["n_train_examples"] = len(examples)
print(
    f"train: recorded product among the other reactions' rules' candidates for "
    f"{stats['train_coverage_loo']:.4f}; {len(examples):,} reactions with a choice to learn"
)
if not len(examples):  # a tiny training set: the network stays as initialised
    print("no training reaction has its product among several candidates: nothing to learn")


def eval_split(config: str, split: str) -> dict:
    table = built.table(config, split, ["id", s.input_column, "products"])
    table = table.slice(0, s.max_eval_rows or None)
    cands, info = candidates(config, split, table[s.input_column].to_pylist())
    products = cands["products"].to_pylist()
    truth = targets(products, table["products"].to_pylist())
    n = np.array([len(p) for p in products])
    info |= {
        "coverage": float(np.mean(truth >= 0)) if len(truth) else 0.0,
        "mean_candidates": float(n.mean()) if len(n) else 0.0,
        "median_candidates": float(np.median(n)) if len(n) else 0.0,
    }
    print(
        f"{config}/{split}: recorded product among the candidates for {info['coverage']:.4f} "
        f"(mean {info['mean_candidates']:.1f} candidates per reaction)"
    )
    data, _ = arrays(cands)
    return {"table": table, "products": products, "data": data, "truth": truth, "info": info}


def score(data: CandidateArrays) -> list[np.ndarray]:
    """The network's logits for every candidate of every reaction of a split."""
    model.eval()
    logits = []
    with torch.no_grad():
        for start in range(0, data.n_reactions, 256):
            batch_rows = np.arange(start, min(start + 256, data.n_reactions))
            logits.append(model(data.batch(batch_rows)).numpy())
    flat = np.concatenate(logits) if logits else np.zeros(0)
    return np.split(flat, data.cand_offsets[1:-1])


def ranked(products: list[list[str]], logits: list[np.ndarray]) -> list[list[str]]:
    """Products best first (ties: the frequency order)."""
    return [
        [products[i][j] for j in np.argsort(-z, kind="stable")[: s.top_k]]
        for i, z in enumerate(logits)
    ]


def top1(split: dict, logits: list[np.ndarray]) -> float:
    hits = [
        len(z) > 0 and int(np.argmax(z)) == t for z, t in zip(logits, split["truth"], strict=True)
    ]
    return float(np.mean(hits)) if hits else 0.0


validation = eval_split(s.config, "validation")

# --- model and training ---------------------------------------------------------------------
hyperparameters = {
    "bits": s.bits,
    "context_bits": s.context_bits,
    "hidden": s.hidden,
    "n_dense": N_DENSE + N_COUNT_FEATURES,
    "dropout": s.dropout,
}
model = TemplateRanker.from_hyperparameters(hyperparameters)
n_parameters = sum(p.numel() for p in model.parameters())
optimizer = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
batch_size = max(min(s.batch_size, len(examples)), 1)
steps_per_epoch = max(len(examples) // batch_size, 1) if len(examples) else 0
total_steps = s.epochs * steps_per_epoch
print(f"{n_parameters:,} parameters; {total_steps} steps")
best = (-1.0, 0, None)
step = 0
train_started = time.perf_counter()
for epoch in range(s.epochs):
    model.train()
    order = examples[rng.permutation(len(examples))]
    losses = []
    for b in range(steps_per_epoch):
        chosen = order[b * batch_size : (b + 1) * batch_size]
        batch = train_data.batch(chosen, train_target[chosen])
        for group in optimizer.param_groups:
            group["lr"] = s.lr * 0.5 * (1 + math.cos(math.pi * step / max(total_steps, 1)))
        loss = TemplateRanker.loss(model(batch), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        step += 1
    accuracy = top1(validation, score(validation["data"]))
    loss_text = f"{np.mean(losses):.4f}" if losses else "-"
    print(f"epoch {epoch + 1}: loss {loss_text}, validation top-1 {accuracy:.4f}")
    if accuracy > best[0]:
        best = (accuracy, epoch + 1, {k: v.clone() for k, v in model.state_dict().items()})
model.load_state_dict(best[2])
stats["best_epoch"] = best[1]
stats["loop_seconds"] = round(time.perf_counter() - train_started, 1)
print(f"kept epoch {best[1]} (validation top-1 {best[0]:.4f})")
provenance = run.provenance(built, s.config)
save_model(
    out_dir / "model",
    model,
    ModelCard(
        out_dir / "model",
        "template_ranker",
        {"dataset": built.name, "version": built.version, "config": s.config},
        {**hyperparameters, "training": s.training()},
        provenance,
        n_parameters,
    ),
)


def run_info(split_info: dict) -> dict:
    return {
        **run.provenance(built, s.config),
        "n_parameters": n_parameters,
        "settings": s.training(),
        "templates": stats,
        "candidates": split_info,
        "validation_candidates": validation["info"],
    }


def predictions_table(split: dict) -> pa.Table:
    guesses = ranked(split["products"], score(split["data"]))
    return pa.table(
        {"id": split["table"]["id"], "predictions": pa.array(guesses, type=pa.list_(pa.string()))}
    )


# --- evaluate ---------------------------------------------------------------------------------
for name in ("validation", "test"):
    split = validation if name == "validation" else eval_split(s.config, name)
    started = time.perf_counter()
    predictions = predictions_table(split)
    pq.write_table(predictions, out_dir / f"{name}_predictions_{s.config}.parquet")
    result = recipe.evaluate_rows(
        predictions, built, s.config, name, run_info(split["info"]), s.max_eval_rows
    )
    result["predict_seconds"] = round(time.perf_counter() - started, 1)
    fsutil.write_json(out_dir / f"{name}.json", result)
    m = result["metrics"]
    print(
        f"{s.config}/{name}: top1 {m['top1']:.4f} top3 {m['top3']:.4f} top5 {m['top5']:.4f} "
        f"top10 {m['top10']:.4f} (coverage {split['info']['coverage']:.4f})"
    )
if s.record:
    print(f"recorded {recipe.record_result(result, run, built.name, s.config)}")

if s.transfer_config:
    split = eval_split(s.transfer_config, "test")
    predictions = predictions_table(split)
    pq.write_table(predictions, out_dir / f"test_predictions_{s.transfer_config}.parquet")
    result = recipe.evaluate_transfer(
        predictions, run, built, s.config, s.transfer_config, "test", False, None,
        s.max_eval_rows,
    )  # fmt: skip
    result["run"] |= {"candidates": split["info"], "templates": stats}
    fsutil.write_json(out_dir / f"test_on_{s.transfer_config}.json", result)
    if s.record:
        recipe.record_result(result, run, built.name, s.transfer_config, s.config)
    m = result["metrics"]
    print(
        f"{s.transfer_config}/test (trained on {s.config}): top1 {m['top1']:.4f} "
        f"top3 {m['top3']:.4f} top5 {m['top5']:.4f} top10 {m['top10']:.4f} "
        f"(coverage {split['info']['coverage']:.4f})"
    )
print(f"results in {out_dir}")
