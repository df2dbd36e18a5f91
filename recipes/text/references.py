"""Reference rows of the text leaderboard: the floor and the rule-based ceiling.

    python recipes/text/references.py --config=hydrocarbon_names --record=true
    python recipes/text/references.py --seeds=0 --max-eval-rows=50   # smoke

- `random_embeddings` (seeded): text and molecule embeddings drawn at random — the
  retrieval floor every learned model must clear.
- `opsin` (deterministic): OPSIN, a rule-based IUPAC name parser, turns each test name
  into a structure — the ceiling of the name→structure task a learned model approximates.
  Needs Java and the `opsin` extra.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from molbench import recipe
from molbench.chem import opsin
from molbench.hardware import describe


@dataclass(frozen=True)
class Settings(recipe.RecipeSettings):
    config: str = "hydrocarbon_names"
    seeds: str = "0,1,2"  # random_embeddings runs
    dim: int = 128


s = recipe.parse_overrides(Settings())
built = recipe.dataset("text", s.root, s.data, [s.config])
test = built.table(s.config, "test").slice(0, s.max_eval_rows or None)
text_column = "name" if "name" in test.column_names else "description"


out_dir = Path(s.out or f"runs/text/references/{s.config}")
out_dir.mkdir(parents=True, exist_ok=True)


def score(method: str, seed: int | None, columns: dict) -> None:
    run = recipe.Run(method, __file__, seed=seed)
    predictions = pa.table({"id": test["id"], **columns})
    suffix = f"seed{seed}" if seed is not None else "deterministic"
    pq.write_table(predictions, out_dir / f"{method}_{suffix}_test.parquet")  # molbench eval
    run_info = {
        "method": method,
        "recipe": run.recipe,
        "seed": seed,
        "n_parameters": None,
        "train_seconds": round(time.perf_counter() - run.started, 2),
        "hardware": describe("cpu"),
        "git_commit": run.commit,
    }
    result = recipe.evaluate_rows(predictions, built, s.config, "test", run_info, s.max_eval_rows)
    h = result["headline"]
    print(f"{method:<18} seed {seed}: test {h['metric']} {h['value']:.4f}")
    if s.record:
        recipe.record_result(result, run, "text", s.config)


for seed in (int(x) for x in s.seeds.split(",") if x.strip()):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((2, test.num_rows, s.dim)).astype(np.float32)
    score(
        "random_embeddings",
        seed,
        {"text_embedding": list(vectors[0]), "mol_embedding": list(vectors[1])},
    )

reason = opsin.opsin_available()
if reason is not None:
    print(f"opsin row skipped: {reason}")
elif text_column == "name":
    parsed = opsin.parse_names(test["name"].to_pylist())
    score("opsin", None, {"smiles": pa.array(parsed, pa.string())})
