"""The shortcut baselines as leaderboard rows: majority class, length-only, bag of characters.

    python recipes/validity/shortcuts.py --config=random --record=true
    python recipes/validity/shortcuts.py --max-eval-rows=500   # smoke

Deterministic (no seed): fit on train, predict test, score with molbench's evaluator.
They show what a model gets without learning valence.
"""

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from molbench import recipe
from molbench.hardware import describe
from molbench.shortcuts import bag_of_characters, length_only, majority_class, unsaturation_rule


@dataclass(frozen=True)
class Settings(recipe.RecipeSettings):
    text_column: str = "condensed"  # what length-only and bag-of-characters read


s = recipe.parse_overrides(Settings())
built = recipe.dataset("validity", s.root, s.data, [s.config])
train = built.table(s.config, "train")
test = built.table(s.config, "test").slice(0, s.max_eval_rows or None)
train_text, test_text = train[s.text_column].to_pylist(), test[s.text_column].to_pylist()
train_y = train["label"].to_numpy()

baselines = {
    "majority_class": lambda: {"label": majority_class(train_y, len(test_text))},
    "length_only": lambda: {"label": length_only(train_text, train_y, test_text)},
    "bag_of_characters_logreg": lambda: {
        "score": bag_of_characters(train_text, train_y, test_text)
    },
    "unsaturation_rule": lambda: {
        "label": unsaturation_rule(test["formula"].to_pylist(), test["n_double_bonds"].to_numpy())
    },
}
for method, fit_predict in baselines.items():
    run = recipe.Run(method, __file__, seed=None)
    columns = fit_predict()
    predictions = pa.table({"id": test["id"], **{k: np.asarray(v) for k, v in columns.items()}})
    run_info = {
        "method": method,
        "recipe": run.recipe,
        "seed": None,
        "n_parameters": None,
        "train_seconds": round(time.perf_counter() - run.started, 2),
        "hardware": describe("cpu"),
        "git_commit": run.commit,
    }
    result = recipe.evaluate_rows(predictions, built, s.config, "test", run_info, s.max_eval_rows)
    print(f"{method:<26} test accuracy {result['headline']['value']:.4f}")
    if s.record:
        recipe.record_result(result, run, "validity", s.config)
