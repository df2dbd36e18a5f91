"""Scoring forward reaction prediction: ranked product SMILES against the recorded products."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
from rdkit import Chem
from rdkit.rdBase import BlockLogs

from molbench.chem.untrusted import MAX_BRANCH_DEPTH, MAX_SMILES_LENGTH, smiles_too_large
from molbench.parallel import default_workers, ordered_map
from molbench.tasks.base import BOOTSTRAP_RESAMPLES, Curve, per_row_record
from molbench.tasks.reaction_metrics import (
    DEFAULT_KS,
    RULES,
    Canonical,
    canonical_molecules,
    first_correct_ranks,
    hits_at,
    is_right,
    topk_ci,
)

MAX_PREDICTIONS = 10  # scored per row: top-10 is the literature's limit; the rest is ignored

MIT = "USPTO-MIT test"
JIN_2017 = "Jin et al., NeurIPS 2017 (WLDN)"
COLEY_2019 = "Coley et al., Chem. Sci. 2019, 10, 370 (WLDN5)"
COLEY_2017 = "Coley et al., ACS Cent. Sci. 2017, 3, 434 (templates + learned ranker)"
SCHWALLER_2019 = "Schwaller et al., ACS Cent. Sci. 2019, 5, 1572 (Molecular Transformer)"
# as tabulated by the authors in their repositories (kaist-amsg/LocalTransform README, an
# earlier version; otori-bird/retrosynthesis README)
CHEN_JUNG_2022 = "Chen & Jung, Nat. Mach. Intell. 2022 (LocalTransform), authors' README table"
ZHONG_2022 = "Zhong et al., Chem. Sci. 2022, 13, 9023 (R-SMILES), authors' README table"


class ReactionsTask:
    dataset = "reactions"
    default_config = "uspto_mit"
    headline = "top1"
    train_columns = ("reaction_key", "product_inchikey")  # the clean-subset metrics need them
    summary_metrics = (
        *(f"top{k}" for k in DEFAULT_KS),
        *(f"top{k}_distinct" for k in DEFAULT_KS[1:]),
        "invalid_top1",
        *(f"top{k}_subset" for k in (1, 3, 5)),  # the published rows' other rule, beside them
    )
    higher_is_better = True
    # under the tables of the leaderboard page: the columns scored under the other rule
    column_notes = MappingProxyType(
        {
            f"top{k}_subset": "top-k by position under rule subset (right when the recorded "
            "products are among a prediction's molecules, the WLDN authors' rule), as the "
            "published rows marked `rule subset` below are scored; every other column is under "
            "rule exact. A run that gives its whole edited mixtures beside its products "
            "(the `mixtures` column, as `wldn.py` writes them; `subset_scores` in its result) "
            "is scored on those, as those rows are; any other run on its predictions."
            for k in (1, 3, 5)
        }
    )
    rules = RULES  # --rule: what counts as a right prediction
    published_metrics = ("top1", "top3", "top5")  # what papers print for rescored models
    prediction_columns = MappingProxyType({"predictions": "ranked_text", "mixtures": "ranked_text"})
    required_columns = (("predictions",),)
    prediction_help = (
        "`id` plus `predictions`: product SMILES per reaction, best first, the first 10 "
        "scored (a list column in Parquet; in CSV one string, the candidates joined by "
        "single spaces, no quotes or commas). Optionally `mixtures`, for an edit-based "
        "model: its ranked whole edited mixtures, which the subset rule then scores instead "
        "of `predictions`. "
        "Multi-molecule products are '.'-joined; molecule order, atom maps and writing "
        "order do not matter, stereo does. Invalid SMILES count as wrong, and so does a SMILES "
        f"over {MAX_SMILES_LENGTH:,} characters or with branches nested over {MAX_BRANCH_DEPTH} "
        "deep (RDKit crashes on some such strings)."
    )
    literature = (
        {
            "method": "WLDN",
            "metric": f"top-1, {MIT}",
            "value": "79.6",
            "protocol": "by position over edit candidates, subset rule (rescored above)",
            "citation": JIN_2017,
        },
        {
            "method": "Templates + learned candidate ranker (hybrid)",
            "metric": "top-1, USPTO-15K",
            "value": "71.8",
            "protocol": "5-fold cross-validation over all 15K reactions, not this 10,500 / "
            "1,500 / 3,000 split (not checked here; the peer of rdchiral_templates_ranker)",
            "citation": COLEY_2017,
        },
        {
            "method": "WLDN5",
            "metric": f"top-1 / 2 / 5, {MIT}",
            "value": "85.6 / 90.5 / 93.4",
            "protocol": "by position over edit candidates, authors' rule (not checked here)",
            "citation": COLEY_2019,
        },
        {
            "method": "Molecular Transformer (separated)",
            "metric": f"top-1 / 2 / 5, {MIT}",
            "value": "90.4 / 93.7 / 95.3",
            "protocol": "by position (score_predictions.py), exact match of canonical SMILES",
            "citation": SCHWALLER_2019,
        },
        {
            "method": "Molecular Transformer (mixed)",
            "metric": f"top-1 / 2 / 5, {MIT}",
            "value": "88.7 / 92.1 / 94.2",
            "protocol": "by position (score_predictions.py), exact match of canonical SMILES",
            "citation": SCHWALLER_2019,
        },
        {
            "method": "LocalTransform (separated)",
            "metric": f"top-1 / 2 / 3 / 5, {MIT}",
            "value": "92.3 / 95.6 / 96.5 / 97.2",
            "protocol": "not stated in the table quoted (not checked here)",
            "citation": CHEN_JUNG_2022,
        },
        {
            "method": "LocalTransform (mixed)",
            "metric": f"top-1 / 2 / 3 / 5, {MIT}",
            "value": "90.8 / 94.8 / 95.7 / 96.3",
            "protocol": "not stated in the table quoted (not checked here)",
            "citation": CHEN_JUNG_2022,
        },
        {
            "method": "R-SMILES (separated)",
            "metric": f"top-1 / 2 / 5 / 10, {MIT}",
            "value": "92.3 / 95.9 / 97.5 / 98.1",
            "protocol": "not stated in the table quoted (not checked here)",
            "citation": ZHONG_2022,
        },
        {
            "method": "R-SMILES (mixed)",
            "metric": f"top-1 / 2 / 5 / 10, {MIT}",
            "value": "91.0 / 95.0 / 96.8 / 97.0",
            "protocol": "not stated in the table quoted (not checked here)",
            "citation": ZHONG_2022,
        },
    )

    def score(
        self,
        truth: pa.Table,
        predictions: Mapping[str, np.ndarray],
        seed: int,
        context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Top-k by position (headline) and among distinct guesses, under ``context["rule"]``.

        Under ``exact`` also ``top{k}_subset``: top-k by position under the ``subset`` rule
        (the WLDN authors'), so one run sits beside results printed under either rule. The
        subset rule scores ``mixtures`` where the predictions have them (an edit-based
        model's whole edited mixtures, as the authors score theirs), else ``predictions``.
        """
        context = context or {}
        rule = context.get("rule") or "exact"
        products = truth["products"].to_pylist()
        ranked, warnings = _first_predictions(predictions["predictions"])
        mixtures = predictions.get("mixtures")
        if mixtures is not None:
            mixtures, more = _first_predictions(mixtures, "mixtures")
            warnings += more
        subset_ranked = ranked if mixtures is None else mixtures
        workers = context.get("workers") or default_workers()
        caches: tuple[dict, dict] = ({}, {})  # canonical forms, shared by both rules
        scored = subset_ranked if rule == "subset" else ranked
        rank, rank_distinct, invalid_top1 = forward_ranks(products, scored, rule, workers, caches)
        n = len(rank)
        metrics: dict[str, float] = {f"top{k}": _mean(hits_at(rank, k)) for k in DEFAULT_KS}
        metrics |= {f"top{k}_distinct": _mean(hits_at(rank_distinct, k)) for k in DEFAULT_KS[1:]}
        metrics["invalid_top1"] = invalid_top1 / n if n else float("nan")
        if rule == "exact":  # the lenient rule too, to set beside results printed under it
            subset_rank = forward_ranks(products, subset_ranked, "subset", workers, caches)[0]
            metrics |= {f"top{k}_subset": _mean(hits_at(subset_rank, k)) for k in DEFAULT_KS}
        train = context.get("train")  # this config's train split, when it has one
        for key, subset in (
            ("reaction_key", "reaction_not_in_train"),
            ("product_inchikey", "product_not_in_train"),
        ):
            if train is not None:
                seen_keys = set(train[key].to_pylist())
                clean = np.array([v not in seen_keys for v in truth[key].to_pylist()], dtype=bool)
                metrics[f"n_{subset}"] = float(clean.sum())
                for k in DEFAULT_KS:
                    metrics[f"top{k}_{subset}"] = _mean(hits_at(rank[clean], k))
        low, high = topk_ci(rank, 1, seed=seed, resamples=BOOTSTRAP_RESAMPLES)
        n_edits = [min(len(e), 6) for e in truth["edits"].to_pylist()]
        return {
            "metrics": metrics,
            "headline": {
                "metric": self.headline,
                "value": metrics[self.headline],
                "ci95": [low, high],
                "higher_is_better": self.higher_is_better,
            },
            "protocol": protocol(rule, "predictions" if mixtures is None else "mixtures"),
            "buckets": {
                "top1_by_n_edits": _top1_by([f"{k}+" if k == 6 else str(k) for k in n_edits], rank),
                "top1_by_reagents_given": _top1_by(
                    ["yes" if r else "no" for r in truth["reagents"].to_pylist()], rank
                ),
                "top1_by_product_molecules": _top1_by(
                    ["multi" if "." in p else "single" for p in products], rank
                ),
            },
            "per_row": per_row_record(
                truth["id"].to_pylist(),
                top1=hits_at(rank, 1).astype(int).tolist(),
                rank=rank.tolist(),
                rank_distinct=rank_distinct.tolist(),
            ),
            "warnings": warnings,
            "n_rows": n,
        }

    def curve(self, result: Mapping[str, Any]) -> Curve:
        # among distinct guesses: every recorded run has those (by position, k > 1, only
        # the runs scored since that protocol became the headline)
        metrics = result["metrics"]
        names = {str(k): f"top{k}_distinct" if k > 1 else "top1" for k in DEFAULT_KS}
        points = {k: metrics[name] for k, name in names.items() if name in metrics}
        return Curve("top-k among distinct guesses", "k", points)


def protocol(rule: str, subset_scores: str = "predictions") -> dict[str, Any]:
    """How a reactions result was scored, recorded in it (see :mod:`reaction_metrics`).

    ``subset_scores``: the column the subset rule scored (``mixtures`` when given).
    """
    return {
        "topk": "by_position",
        "rule": rule,
        "subset_scores": subset_scores,
        "distinct_metrics": "top{k}_distinct",
        "atom_maps": "stripped",
        "max_predictions": MAX_PREDICTIONS,
    }


def _first_predictions(
    ranked: np.ndarray, column: str = "predictions"
) -> tuple[np.ndarray, list[str]]:
    """The first ``MAX_PREDICTIONS`` of every row, and a warning when some row had more."""
    longest = max((len(row) for row in ranked), default=0)
    if longest <= MAX_PREDICTIONS:
        return ranked, []
    n_long = sum(len(row) > MAX_PREDICTIONS for row in ranked)
    cut = np.empty(len(ranked), dtype=object)
    cut[:] = [list(row[:MAX_PREDICTIONS]) for row in ranked]
    return cut, [
        f"{n_long:,} rows have more than {MAX_PREDICTIONS} {column} (up to {longest}): "
        f"only the first {MAX_PREDICTIONS} of each were scored"
    ]


def forward_ranks(
    products: Sequence[str],
    ranked: Sequence[Sequence[str]],
    rule: str = "exact",
    workers: int = 1,
    caches: tuple[dict[str, Canonical | None], dict[str, Canonical | None]] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Rank of the first right prediction per row by position and among distinct guesses
    (0: none), and the number of rows whose top-1 is invalid.

    A recorded product RDKit cannot sanitise (a handful of USPTO-MIT reactions) is compared
    in unsanitised canonical form, and so are the predictions for that row; a prediction
    is right there only if it writes the same unsanitised graph.

    Canonical forms are computed once per distinct SMILES. With ``workers > 1`` and enough
    of them, they are computed in rounds on a process pool: the products and every row's
    first prediction, then the second prediction of the rows still unanswered, and so on,
    so a right answer at rank 1 still spares canonicalising the rest of its row.
    ``caches``: the (sanitised, unsanitised) canonical forms by SMILES, shared between calls
    that score the same predictions under several rules.
    """
    cache, raw_cache = caches if caches is not None else ({}, {})
    if workers > 1:
        _fill_by_rounds(cache, products, ranked, rule, workers)

    def canonical(smiles: str, raw: bool) -> Canonical | None:
        store = raw_cache if raw else cache
        if smiles not in store:
            store[smiles] = _unsanitised(smiles) if raw else canonical_molecules(smiles)
        return store[smiles]

    targets: list[Canonical | None] = []
    candidates: list[Iterable[Canonical | None]] = []
    invalid_top1 = 0
    for product, row in zip(products, ranked, strict=True):
        target = canonical(product, raw=False)
        raw = target is None
        if raw:
            target = canonical(product, raw=True)
        targets.append(target)
        # lazily: a right answer at rank 1 spares canonicalising the other nine
        candidates.append(map(canonical, row, [raw] * len(row)))
        invalid_top1 += bool(row) and canonical(row[0], raw) is None
    rank, rank_distinct = first_correct_ranks(targets, candidates, rule)
    return rank, rank_distinct, invalid_top1


PARALLEL_MIN_SMILES = 20_000  # below this a process pool costs more than it saves
_CHUNK = 2_000


def _fill_by_rounds(
    cache: dict[str, Canonical | None],
    products: Sequence[str],
    ranked: Sequence[Sequence[str]],
    rule: str,
    workers: int,
    min_smiles: int = PARALLEL_MIN_SMILES,
) -> None:
    """Canonicalise, on ``workers`` processes, what :func:`forward_ranks` will look up.

    Only a cache is filled (the scoring itself stays in :func:`first_correct_ranks`), so
    the ranks are the same for any number of workers. Round ``p`` canonicalises position
    ``p`` of the rows with no right answer before it: the work a serial lazy scan does.
    """
    n_smiles = len(products) + sum(len(row) for row in ranked)
    if n_smiles < min_smiles:
        return
    open_rows = list(range(len(products)))
    with ordered_map(workers) as imap:

        def fill(smiles: Iterable[str]) -> None:
            todo = sorted({s for s in smiles if s not in cache})
            chunks = [todo[i : i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
            for chunk, forms in zip(chunks, imap(_canonical_chunk, chunks), strict=True):
                cache.update(zip(chunk, forms, strict=True))

        fill(products)
        for position in range(max((len(row) for row in ranked), default=0)):
            fill(ranked[i][position] for i in open_rows if position < len(ranked[i]))
            open_rows = [
                i
                for i in open_rows
                if cache[products[i]] is not None  # raw targets: scored serially later
                and position + 1 < len(ranked[i])
                and not is_right(cache[ranked[i][position]], cache[products[i]], rule)
            ]


def _canonical_chunk(chunk: list[str]) -> list[Canonical | None]:
    return [canonical_molecules(smiles) for smiles in chunk]


def _unsanitised(smiles: str) -> Canonical | None:
    text = smiles.strip()
    if not text or any(c.isspace() for c in text) or smiles_too_large(text):
        return None
    with BlockLogs():
        mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    for atom in mol.GetAtoms():
        atom.SetAtomMapNum(0)
    return tuple(sorted(Chem.MolToSmiles(mol).split(".")))


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else float("nan")


def _top1_by(keys: list[str], rank: np.ndarray) -> dict[str, float]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    return {k: _mean(hits_at(rank[idx], 1)) for k, idx in sorted(groups.items())}
