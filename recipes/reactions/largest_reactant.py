"""The zero-learning floor: predict that the product is the largest reactant.

    python recipes/reactions/largest_reactant.py --config=uspto_15k --record=true \
        --transfer-config=uspto_mit
    python recipes/reactions/largest_reactant.py --max-eval-rows=20   # smoke

One prediction per reaction: the reactant molecule with the most heavy atoms (ties: the
first in canonical order), unchanged. It is right only when the recorded product is a
reactant, so its top-1 measures how many "reactions" leave their main reactant as it was.
Nothing is fitted and nothing is random (no seed).
"""

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from rdkit import Chem, RDLogger

from molbench import fsutil, recipe

RDLogger.DisableLog("rdApp.*")


@dataclass(frozen=True)
class Settings(recipe.RecipeSettings):
    config: str = "uspto_15k"
    transfer_config: str = ""  # also score on this config's test split ("" = none)
    input_column: str = "reactants"  # reactants (separated) | precursors_mixed


METHOD = "largest_reactant"


def heavy_atoms(smiles: str) -> int:
    mol = Chem.MolFromSmiles(smiles) or Chem.MolFromSmiles(smiles, sanitize=False)
    return -1 if mol is None else mol.GetNumHeavyAtoms()


def largest(reactants: str) -> list[str]:
    """The reactant with the most heavy atoms, as a one-item ranked list ([] for none)."""
    molecules = [m for m in reactants.split(".") if m]
    return [max(molecules, key=heavy_atoms)] if molecules else []


def predict(config: str, split: str) -> pa.Table:
    table = built.table(config, split, ["id", s.input_column]).slice(0, s.max_eval_rows or None)
    ranked = [largest(r) for r in table[s.input_column].to_pylist()]
    predictions = pa.table(
        {"id": table["id"], "predictions": pa.array(ranked, type=pa.list_(pa.string()))}
    )
    pq.write_table(predictions, out_dir / f"{split}_predictions_{config}.parquet")
    return predictions


def summary(name: str, result: dict) -> str:
    m = result["metrics"]
    return f"{name}: top1 {m['top1']:.4f} top10 {m['top10']:.4f} invalid {m['invalid_top1']:.4f}"


s = recipe.parse_overrides(Settings())
run = recipe.Run(METHOD, __file__, seed=None)
built = recipe.dataset("reactions", s.root, s.data, [s.config])
if s.transfer_config:  # fail before any work, not after
    recipe.check_transfer(built, s.config, s.transfer_config)
out_dir = Path(s.out or f"runs/reactions/{METHOD}/{s.config}/deterministic")
out_dir.mkdir(parents=True, exist_ok=True)

for split in ("validation", "test"):
    started = time.perf_counter()
    info = {
        **run.provenance(built, s.config),
        "n_parameters": None,
        "train_seconds": 0.0,
        "settings": {k: v for k, v in asdict(s).items() if k not in ("root", "data", "out")},
    }
    predictions = predict(s.config, split)
    result = recipe.evaluate_rows(predictions, built, s.config, split, info, s.max_eval_rows)
    result["predict_seconds"] = round(time.perf_counter() - started, 1)
    fsutil.write_json(out_dir / f"{split}.json", result)
    print(summary(f"{s.config}/{split}", result))
if s.record:
    print(f"recorded {recipe.record_result(result, run, built.name, s.config)}")

if s.transfer_config:
    result = recipe.evaluate_transfer(
        predict(s.transfer_config, "test"),
        run,
        built,
        s.config,
        s.transfer_config,
        "test",
        s.record,
        out_dir,
        s.max_eval_rows,
    )
    print(summary(f"{s.transfer_config}/test", result))
print(f"results in {out_dir}")
