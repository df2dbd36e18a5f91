"""Rescore the released WLN / WLDN test outputs (Jin et al. 2017) with molbench's evaluator.

    python recipes/reactions/published_rexgen.py --source=../shared/data/published_outputs

Each released ``.cbond`` file (never committed: read in place, its sha256 checked against
the one pinned below) goes through the cbond importer and ``molbench eval`` three ways:
``--rule subset`` on whole edited mixtures rebuilt as the authors' scorer does (their
protocol, ``replay=authors``) and as molbench's edit replay does, and ``--rule exact`` on
the product molbench's graph-edit baseline would name (``keep=reactants``). Results land
in ``leaderboards/results/reactions/published/``, beside the number the paper printed.
"""

import time
from dataclasses import dataclass
from pathlib import Path

from molbench import fsutil, recipe
from molbench.errors import ChecksumError
from molbench.evaluate import evaluate_predictions
from molbench.hardware import describe, git_commit


@dataclass(frozen=True)
class Settings:
    source: str = "../shared/data/published_outputs"  # holds nips17_rexgen/
    root: str = ""  # dataset root ("" = $MOLBENCH_HOME or ~/.cache/molbench)
    out: str = "leaderboards/results/reactions/published"
    only: str = ""  # score only this method (e.g. wldn_published); "" = all
    config: str = ""  # score only this config (uspto_mit or uspto_15k); "" = both
    scoring: str = ""  # only this scoring (subset_authors, subset, exact); "" = all
    workers: int = 1  # processes replaying the edits


REPOSITORY = "wengong-jin/nips17-rexgen"
PAPER = "Jin, Coley, Barzilay, Jaakkola, NeurIPS 2017 (WLN/WLDN)"
# (method, model, config, path in the repository, commit, sha256, what the paper printed)
FILES = (
    (
        "wldn_published",
        "WLDN (difference-network ranker)",
        "uspto_mit",
        "USPTO/rank-diff-wln/test.cbond",
        "56b07e0a278e1a358f5530c520ab77818d49e7ae",
        "70e7c7418b5ac14821e27113f72ca4636bfdfa8247e774836fdd628d80cb8e56",
        {"top1": 0.796, "top3": 0.877, "top5": 0.892},
    ),
    (
        "wln_published",
        "WLN ranker (sum pooling)",
        "uspto_mit",
        "USPTO/rank-wln/test.cbond",
        "d1c623fc9c8e1d923ad2f6203000e29d72954fdc",
        "d6fec46796b924539b93d64773818ad9ce26256fb89e56c1e68c1b76362f8e01",
        {},
    ),
    (
        "wldn_published",
        "WLDN (difference-network ranker)",
        "uspto_15k",
        "USPTO-15K/rank-diff-wln/test.cbond",
        "d1c623fc9c8e1d923ad2f6203000e29d72954fdc",
        "8e6a7b189b11fff57c7879ab56daca723a0fdfac258d4c42c51bb658857dee21",
        {},
    ),
    (
        "wln_published",
        "WLN ranker (sum pooling)",
        "uspto_15k",
        "USPTO-15K/rank-wln/test.cbond",
        "d1c623fc9c8e1d923ad2f6203000e29d72954fdc",
        "19f90cc87384291276492d9ce9fc08b75a7ef4dbd25d23de2bc049b69b85ee2f",
        {},
    ),
)
# name -> (rule, cbond importer options): the authors' protocol (their rule and their way
# of rebuilding a candidate), their rule on molbench's edit replay, molbench's own rule
SCORINGS = {
    "subset_authors": ("subset", {"keep": "mixture", "replay": "authors"}),
    "subset": ("subset", {"keep": "mixture"}),
    "exact": ("exact", {"keep": "reactants"}),
}
NOTES = {
    "subset_authors": "The authors' protocol: their rule (the recorded products are among "
    "the molecules left after a candidate's edits) on candidates rebuilt as their scorer "
    "(scripts/eval.py) does: hydrogens from RDKit's default valences, their charge rules, "
    "molecules RDKit rejects dropped, the first candidate tried on the aromatic and then "
    "the Kekulé reactants (right if either holds the products), empty candidates at a "
    "line's start dropped (their line.strip), so later candidates move up a slot.",
    "subset": "The authors' rule on molbench's edit replay (hydrogens and charges "
    "re-derived by valence, as molbench's graph-edit baseline): more candidates sanitise "
    "into the recorded product than under the authors' replay.",
    "exact": "molbench's rule: the product the edits give (the largest edited molecule plus "
    "the reactant molecules the edits leave whole, molbench's graph-edit product rule) "
    "must equal the recorded product set; leaving groups and reagents are dropped, so "
    "products that keep a leaving group (an HCl salt) are missed.",
}
UNREPORTED = (
    "No number printed in the paper was checked for this file here (only the WLDN USPTO-MIT "
    "row of the authors' result table is pinned), so none is shown beside it."
)

s = recipe.parse_overrides(Settings())
out_dir = Path(s.out)
commit = git_commit()  # before the long scoring: the tree it ran from
for method, model, config, path, file_commit, sha256, reported in FILES:
    if (s.only and method != s.only) or (s.config and config != s.config):
        continue
    file = Path(s.source) / "nips17_rexgen" / path
    found = fsutil.sha256_file(file)
    if found != sha256:
        raise ChecksumError(f"{file}: sha256 {found}, expected {sha256} (the released file)")
    for scoring, (rule, options) in SCORINGS.items():
        if s.scoring and scoring != s.scoring:
            continue
        started = time.perf_counter()
        result = evaluate_predictions(
            file,
            "reactions",
            config,
            "test",
            s.root or None,
            rule=rule,
            format="cbond",
            import_options={**options, "workers": s.workers},
        )
        seconds = time.perf_counter() - started
        result["source"]["kind"] = "published"
        result["source"]["published"] = {
            "model": model,
            "paper": PAPER,
            "repository": REPOSITORY,
            "commit": file_commit,
            "path": path,
            "sha256": sha256,
            "reported": reported,
            "note": NOTES[scoring] + ("" if reported else " " + UNREPORTED),
        }
        result["run"] = {
            "method": method,
            "recipe": "recipes/reactions/published_rexgen.py",
            "seed": None,
            "n_parameters": None,
            "train_seconds": None,
            "hardware": describe("cpu"),
            "git_commit": commit,
        }
        result["predict_seconds"] = round(seconds, 1)
        name = f"{method}__{config}__{scoring}.json"
        fsutil.write_json(out_dir / name, result)
        m = result["metrics"]
        print(
            f"{method} {config} {scoring}: top1 {m['top1']:.4f} top3 {m['top3']:.4f} "
            f"top5 {m['top5']:.4f} (paper: {reported or 'not pinned'}) -> {out_dir / name}"
        )
