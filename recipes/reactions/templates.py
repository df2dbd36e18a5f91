"""Forward reaction templates counted on train, applied most frequent first (rdchiral).

    python recipes/reactions/templates.py --config=uspto_15k --record=true \
        --transfer-config=uspto_mit
    python recipes/reactions/templates.py --max-train-rows=200 --max-eval-rows=20   # smoke

Extract one forward template per training reaction (rdchiral's retro template read
reactants >> product; see molbench.chem.templates), count them, apply them to each test
reaction's reactants and rank the products by the count of the rule that gave them.
Templates read only the reactant molecules (a reagent never gives the product an atom), so
the input is the ``reactants`` column, the "separated" task; ``--input-column=
precursors_mixed`` gives the rules reagents too. Deterministic (no seed). Reactions that
give no template are counted by reason, and the run records how often a template gives
back its own reaction's product (self-consistency).
"""

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from molbench import fsutil, recipe
from molbench.chem.templates import Extraction, TemplateLibrary, check_extraction, predict_all
from molbench.parallel import ordered_map


@dataclass(frozen=True)
class Settings(recipe.RecipeSettings):
    config: str = "uspto_15k"  # templates come from this config's train split
    transfer_config: str = ""  # also score on this config's test split ("" = none)
    input_column: str = "reactants"  # reactants (separated) | precursors_mixed
    min_count: int = 1  # use templates seen at least this many times in train
    top_k: int = 10
    workers: int = 2  # processes for extraction and application
    max_train_rows: recipe.NonNegative = 0  # 0 = all; fewer for smoke tests


TRAIN_COLUMNS = ["mapped_rxn", "edits", "reactants", "products"]

s = recipe.parse_overrides(Settings())
# settings that change the predictions get their own leaderboard row (and result file)
METHOD = (
    "rdchiral_templates"
    + ("_mixed" if s.input_column == "precursors_mixed" else "")
    + (f"_min{s.min_count}" if s.min_count > 1 else "")
)
run = recipe.Run(METHOD, __file__, seed=None)
built = recipe.dataset("reactions", s.root, s.data, [s.config])
if s.transfer_config:  # fail before any work, not after
    recipe.check_transfer(built, s.config, s.transfer_config)
out_dir = Path(s.out or f"runs/reactions/{METHOD}/{s.config}/deterministic")

# --- data: the training reactions -------------------------------------------------------
train = built.table(s.config, "train", TRAIN_COLUMNS)
if s.max_train_rows:
    train = train.slice(0, s.max_train_rows)
rows = train.to_pylist()


def extract(row: dict) -> Extraction:
    return check_extraction(row["mapped_rxn"], row["edits"], row["reactants"], row["products"])


# --- "training": extract and count templates ---------------------------------------------
with ordered_map(s.workers) as imap:
    extractions = list(tqdm(imap(extract, rows), total=len(rows), desc="extract templates"))
library = TemplateLibrary.from_templates((e.template for e in extractions), s.min_count)
usable = [e for e in extractions if e.template]
failures = Counter(e.error for e in extractions if not e.template)
stats = {
    "n_train_reactions": len(rows),
    "n_with_template": len(usable),
    "n_without_template": len(rows) - len(usable),
    "failures": dict(sorted(failures.items())),
    "self_consistency": sum(bool(e.self_consistent) for e in usable) / max(len(usable), 1),
    "n_distinct_templates": len({e.template for e in usable}),
    "n_templates_used": len(library),
    "reactions_covered_by_used": sum(library.counts),
}
print(
    f"{len(usable):,}/{len(rows):,} train reactions give a template "
    f"({stats['n_without_template']} do not: {dict(failures)}); "
    f"{stats['n_distinct_templates']:,} distinct, {len(library):,} used "
    f"(seen >= {s.min_count}); self-consistency {stats['self_consistency']:.4f}"
)
fit_seconds = time.perf_counter() - run.started
out_dir.mkdir(parents=True, exist_ok=True)
fsutil.write_json(
    out_dir / "templates.json",
    {
        "stats": stats,
        "templates": [[t, n] for t, n in zip(library.templates, library.counts, strict=True)],
    },
)


def predict(config: str, split: str) -> pa.Table:
    """Top-k products for every reaction of a split, in the split's order."""
    table = built.table(config, split, ["id", s.input_column]).slice(0, s.max_eval_rows or None)
    inputs = table[s.input_column].to_pylist()
    ranked = list(
        tqdm(
            predict_all(library, inputs, s.top_k, s.workers),
            total=len(inputs),
            desc=f"apply to {config}/{split}",
        )
    )
    predictions = pa.table(
        {"id": table["id"], "predictions": pa.array(ranked, type=pa.list_(pa.string()))}
    )
    pq.write_table(predictions, out_dir / f"{split}_predictions_{config}.parquet")
    return predictions


def run_info() -> dict:
    return {
        **run.provenance(built, s.config),
        "n_parameters": None,
        "train_seconds": round(fit_seconds, 1),
        "settings": {k: v for k, v in asdict(s).items() if k not in ("root", "data", "out")},
        "templates": stats,
    }


# --- evaluate ----------------------------------------------------------------------------
for split in ("validation", "test"):
    started = time.perf_counter()
    predictions = predict(s.config, split)
    result = recipe.evaluate_rows(predictions, built, s.config, split, run_info(), s.max_eval_rows)
    result["predict_seconds"] = round(time.perf_counter() - started, 1)
    fsutil.write_json(out_dir / f"{split}.json", result)
    m = result["metrics"]
    print(
        f"{s.config}/{split}: top1 {m['top1']:.4f} top3 {m['top3']:.4f} "
        f"top5 {m['top5']:.4f} top10 {m['top10']:.4f} invalid {m['invalid_top1']:.4f} "
        f"({result['predict_seconds']} s)"
    )
if s.record:
    print(f"recorded {recipe.record_result(result, run, built.name, s.config)}")

if s.transfer_config:
    started = time.perf_counter()
    predictions = predict(s.transfer_config, "test")
    result = recipe.evaluate_transfer(
        predictions, run, built, s.config, s.transfer_config, "test", s.record, out_dir,
        s.max_eval_rows,
    )  # fmt: skip
    m = result["metrics"]
    print(
        f"{s.transfer_config}/test (templates from {s.config}): top1 {m['top1']:.4f} "
        f"top3 {m['top3']:.4f} top5 {m['top5']:.4f} top10 {m['top10']:.4f} "
        f"invalid {m['invalid_top1']:.4f} ({time.perf_counter() - started:.1f} s)"
    )
print(f"results in {out_dir}")
