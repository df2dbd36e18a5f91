"""Scoring molecule-text models: retrieval by embeddings, text-to-molecule and molecule-to-name.

One predictions file may carry any of three things, each scored when present:

- ``text_embedding`` + ``mol_embedding``: retrieval in both directions within the split's
  pool (and, with ``--candidates``, text-to-molecule against the whole corpus, Text2Mol's
  protocol); optionally ``t2m_reranked``, a re-ranker's order of each text's top
  candidates (ids of the split's rows, best first), which then rank first, the rest by
  cosine;
- ``smiles``: the molecule generated from each text (MolT5's text-to-molecule metrics; BLEU
  and Levenshtein against ``smiles_as_published`` where the config has it);
- ``name``: the name generated from each molecule (``hydrocarbon_names`` only).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa

from molbench.errors import PredictionFormatError
from molbench.stats import bootstrap_ci
from molbench.tasks.base import BOOTSTRAP_RESAMPLES, Curve, per_row_record
from molbench.tasks.text_metrics import (
    extra_candidate_effect,
    generation_scores,
    name_exact_match,
    retrieval_metrics,
    retrieval_ranks,
)
from molbench.tasks.validity import size_ood_boundary

TEXT2MOL = "Edwards et al., EMNLP 2021 (Text2Mol)"
MOLT5 = "Edwards et al., EMNLP 2022 (MolT5)"
MOLECULESTM = "Liu et al., Nat. Mach. Intell. 2023, 5, 1447 (MoleculeSTM)"
CHEBI_TEST = "ChEBI-20 test"

# Text2Mol ranks against 33,010 molecules; MolT5's files, and so molbench's corpus, lack two
# whose SMILES is `*` (see the dataset card). Each result says what they could change.
CHEBI20_CORPUS_SIZE = 33_008
TEXT2MOL_CORPUS_SIZE = 33_010
TEXT2MOL_ONLY = ["CID 135476786 (SMILES *, Text2Mol test)", "CID 135476785 (SMILES *, train)"]
TEXT2MOL_PROTOCOL = (
    "33,010 candidates (molbench: 33,008, see the dataset card), ranked by numpy argsort "
    "(ties fall in candidate order; here they count against the model)"
)
RETRIEVAL_PROTOCOL = {
    "similarity": "cosine of the float32 embeddings, computed in float64",
    "ties": "counted against the model: candidates within 4 float32 ulps of the true score",
}
RERANKED_PROTOCOL = (
    "text-to-molecule: each text's t2m_reranked ids take ranks 1..len in that order (as "
    "given: ties inside the head are the submitter's to break), the other candidates "
    "follow by cosine; molecule-to-text by cosine alone; t2m_retriever_* score the cosine "
    "ranking without the re-ranked head"
)
GENERATION_PROTOCOL = {
    "exact_match": "standard InChI equality (MolT5), canonical SMILES where InChI is empty",
    "validity": "RDKit parses it to at least one atom, no whitespace inside; validity_molt5 "
    "is MolT5's count (Chem.MolFromSmiles is not None: empty and 'SMILES words' count)",
    "bleu": "MolT5: nltk corpus BLEU over characters, 4-grams, equal weights, unsmoothed",
    "levenshtein": "MolT5: mean character edit distance",
    "references": "smiles_as_published where the config has it, else smiles",
}


class TextTask:
    dataset = "text"
    default_config = "chebi20"
    headline = "t2m_mrr"  # the first of t2m_mrr, exact_match, name_exact_match present
    summary_metrics = (
        "t2m_mrr",
        "t2m_hits_at_1",
        "t2m_hits_at_5",
        "t2m_hits_at_10",
        "t2m_retriever_hits_at_1",
        "m2t_mrr",
        "m2t_hits_at_1",
        "m2t_hits_at_10",
        "exact_match",
        "bleu",
        "levenshtein",
        "validity",
        "validity_molt5",
        "maccs_fts",
        "morgan_fts",
        "name_exact_match",
    )
    higher_is_better = True
    prediction_columns = MappingProxyType(
        {
            "text_embedding": "embedding",
            "mol_embedding": "embedding",
            "t2m_reranked": "ranked_ids",
            "smiles": "text",
            "name": "text",
        }
    )
    required_columns = (("text_embedding", "smiles", "name"),)
    prediction_help = (
        "`id` plus any of: `text_embedding` and `mol_embedding` (float lists of one "
        "dimension: retrieval, ranked by cosine similarity, ties counted against the model), "
        "optionally with `t2m_reranked` (per text, a re-ranker's best-first list of ids of "
        "the split's rows: they rank first, the rest by cosine); "
        "`smiles` (the molecule generated from the row's text); `name` (the IUPAC name "
        "generated from the row's molecule, hydrocarbon_names). For the whole-corpus "
        "protocol also pass --candidates FILE with `id` + `mol_embedding` for every "
        "chebi20_molecules row."
    )
    literature = (
        {
            "method": "Text2Mol (MLP1, single model)",
            "metric": f"text-to-molecule MRR / Hits@1 / Hits@10, whole corpus, {CHEBI_TEST}",
            "value": "0.372 / 22.4% / 68.6%",
            "citation": TEXT2MOL,
            "protocol": TEXT2MOL_PROTOCOL,
        },
        {
            "method": "Text2Mol (All-Ensemble)",
            "metric": f"text-to-molecule MRR, whole corpus, {CHEBI_TEST}",
            "value": "0.499",
            "citation": TEXT2MOL,
            "protocol": TEXT2MOL_PROTOCOL,
        },
        {
            "method": "Text2Mol (All-Ensemble)",
            "metric": f"text-to-molecule Hits@1, whole corpus, {CHEBI_TEST}",
            "value": "34.4%",
            "citation": TEXT2MOL,
            "protocol": TEXT2MOL_PROTOCOL,
        },
        {
            "method": "Text2Mol (All-Ensemble)",
            "metric": f"text-to-molecule Hits@10, whole corpus, {CHEBI_TEST}",
            "value": "81.1%",
            "citation": TEXT2MOL,
            "protocol": TEXT2MOL_PROTOCOL,
        },
        {
            "method": "MolT5-Large",
            "metric": f"text-to-molecule exact match, {CHEBI_TEST}",
            "value": "0.311",
            "citation": MOLT5,
            "protocol": "MolT5's evaluation scripts (rescored below)",
        },
        {
            "method": "MolT5-Large",
            "metric": f"text-to-molecule validity, {CHEBI_TEST}",
            "value": "0.905",
            "citation": MOLT5,
            "protocol": "MolT5's evaluation scripts (rescored below)",
        },
        {
            "method": "MolT5-Large",
            "metric": f"text-to-molecule MACCS / RDK / Morgan FTS, {CHEBI_TEST}",
            "value": "0.834 / 0.746 / 0.684",
            "citation": MOLT5,
            "protocol": "MolT5's evaluation scripts (rescored below)",
        },
        {
            "method": "MoleculeSTM",
            "metric": "no ChEBI-20 numbers: its retrieval is zero-shot on DrugBank subsets",
            "value": "—",
            "citation": MOLECULESTM,
            "protocol": "—",
        },
        {
            "method": "MolT5-Base",
            "metric": f"text-to-molecule exact match / validity, {CHEBI_TEST}",
            "value": "0.081 / 0.772",
            "citation": MOLT5,
            "protocol": "MolT5's evaluation scripts (rescored below)",
        },
    )

    def score(
        self,
        truth: pa.Table,
        predictions: Mapping[str, np.ndarray],
        seed: int,
        context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        context = context or {}
        metrics: dict[str, float] = {}
        warnings: list[str] = []
        has_embeddings = "text_embedding" in predictions or "mol_embedding" in predictions
        if "t2m_reranked" in predictions and not has_embeddings:
            raise PredictionFormatError(
                "`t2m_reranked` re-orders the head of a cosine ranking: the predictions need "
                "`text_embedding` and `mol_embedding` too"
            )
        if context.get("candidates") is not None and not has_embeddings:
            raise PredictionFormatError(
                "--candidates ranks text embeddings against a corpus: the predictions need "
                "`text_embedding` and `mol_embedding`"
            )
        per_row: dict[str, np.ndarray] = {}  # the headline candidates: CI and paired tests
        protocol: dict[str, Any] = {}
        if has_embeddings:
            per_row |= _retrieval(predictions, metrics, context, truth, warnings, protocol)
        if "smiles" in predictions:
            protocol["generation"] = GENERATION_PROTOCOL
            smiles = [str(s) for s in predictions["smiles"]]
            published = "smiles_as_published" in truth.column_names  # what MolT5 compares with
            references = truth["smiles_as_published" if published else "smiles"].to_pylist()
            scores, exact = generation_scores(truth["smiles"].to_pylist(), smiles, references)
            metrics |= scores
            per_row["exact_match"] = exact
        if "name" in predictions:
            if "name" not in truth.column_names:
                raise PredictionFormatError(
                    "`name` predictions are scored on hydrocarbon_names configs only"
                )
            names = truth["name"].to_pylist()
            guesses = [str(s) for s in predictions["name"]]
            metrics["name_exact_match"] = name_exact_match(names, guesses)
            per_row["name_exact_match"] = np.array(
                [
                    t.strip().casefold() == p.strip().casefold()
                    for t, p in zip(names, guesses, strict=True)
                ]
            )
        headline = next(m for m in ("t2m_mrr", "exact_match", "name_exact_match") if m in per_row)
        values = per_row[headline].astype(float)
        low, high = bootstrap_ci(
            lambda _, v: float(np.mean(v)),
            np.zeros(len(values)),
            values,
            seed=seed,
            resamples=BOOTSTRAP_RESAMPLES,
        )
        return {
            "metrics": metrics,
            "headline": {
                "metric": headline,
                "value": metrics[headline],
                "ci95": [low, high],
                "higher_is_better": True,
            },
            "buckets": _by_n_carbons(truth, per_row),
            "n_rows": truth.num_rows,
            "protocol": protocol,
            "warnings": warnings,
            "per_row": per_row_record(
                truth["id"].to_pylist(),
                **{
                    name: (v.astype(int) if v.dtype == bool else v.astype(float)).tolist()
                    for name, v in sorted(per_row.items())
                },
            ),
        }

    def curve(self, result: Mapping[str, Any]) -> Curve | None:
        metric = result["headline"]["metric"]
        bucket = f"{metric}_by_n_carbons"
        points = result.get("buckets", {}).get(bucket)
        if points is None:
            return None
        title = f"{metric} by chain length"
        return Curve(title, "carbons", points, size_ood_boundary(result), bucket)


def _by_n_carbons(truth: pa.Table, per_row: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Each per-row metric averaged per chain length (hydrocarbon configs): does it extrapolate?"""
    if "n_carbons" not in truth.column_names:
        return {}
    carbons = truth["n_carbons"].to_numpy()
    return {
        f"{metric}_by_n_carbons": {
            str(int(n)): float(np.mean(values[carbons == n])) for n in np.unique(carbons)
        }
        for metric, values in per_row.items()
    }


def _retrieval(
    predictions: Mapping[str, np.ndarray],
    metrics: dict[str, float],
    context: Mapping[str, Any],
    truth: pa.Table,
    warnings: list[str],
    protocol: dict[str, Any],
) -> dict[str, np.ndarray]:
    if not {"text_embedding", "mol_embedding"} <= set(predictions):
        raise PredictionFormatError("retrieval needs both `text_embedding` and `mol_embedding`")
    text, mol = predictions["text_embedding"], predictions["mol_embedding"]
    if text.shape[1] != mol.shape[1]:
        raise PredictionFormatError(
            f"text_embedding has dimension {text.shape[1]}, mol_embedding {mol.shape[1]}: "
            "they must match"
        )
    own = np.arange(len(text))
    t2m = retrieval_ranks(text, mol, own)
    m2t = retrieval_ranks(mol, text, own)
    if "t2m_reranked" in predictions:
        if context.get("candidates") is not None:
            raise PredictionFormatError(
                "`t2m_reranked` lists ids of the split's pool; the whole-corpus protocol "
                "(--candidates) ranks by embeddings alone: score the retriever's own model "
                "or predictions without the column"
            )
        metrics |= {f"t2m_retriever_{k}": v for k, v in retrieval_metrics(t2m).items()}
        heads = _reranked_heads(predictions["t2m_reranked"], truth)
        t2m = retrieval_ranks(text, mol, own, heads)
        metrics["t2m_rerank_depth"] = float(max((len(h) for h in heads), default=0))
        protocol["reranked"] = RERANKED_PROTOCOL
    metrics |= {f"t2m_{k}": v for k, v in retrieval_metrics(t2m).items()}
    metrics |= {f"m2t_{k}": v for k, v in retrieval_metrics(m2t).items()}
    per_row = {"t2m_mrr": 1 / t2m}
    protocol["retrieval"] = RETRIEVAL_PROTOCOL | {"pool": f"the split's {len(own):,} pairs"}
    corpus = context.get("candidates")
    if corpus is not None:
        ids, embeddings = corpus
        if embeddings.shape[1] != text.shape[1]:
            raise PredictionFormatError(
                f"candidates have dimension {embeddings.shape[1]}, text_embedding {text.shape[1]}"
            )
        position = {v: i for i, v in enumerate(ids)}
        missing = [v for v in truth["id"].to_pylist() if v not in position]
        if missing:
            raise PredictionFormatError(
                f"{len(missing)} ids of this split are not in the candidate corpus "
                "(chebi20_molecules): --candidates applies to the chebi20 configs only"
            )
        true_index = np.array([position[v] for v in truth["id"].to_pylist()])
        if not np.allclose(embeddings[true_index], mol, atol=1e-4):
            warnings.append(
                "the candidates' vectors of this split's molecules differ from the predictions' "
                "mol_embedding: the whole-corpus and in-split rankings use different embeddings"
            )
        corpus_ranks = retrieval_ranks(text, embeddings, true_index)
        metrics |= {f"t2m_corpus_{k}": v for k, v in retrieval_metrics(corpus_ranks).items()}
        metrics["corpus_size"] = float(len(ids))
        protocol["corpus"] = _corpus_protocol(corpus_ranks, len(ids))
    return per_row


def _reranked_heads(lists: np.ndarray, truth: pa.Table) -> list[list[int]]:
    """Each text's re-ranked ids as row indices of the split; unknown or repeated ids refused."""
    text_ids = truth["id"].to_pylist()
    position = {str(v): i for i, v in enumerate(text_ids)}
    heads, unknown, repeated = [], [], []
    for text_id, listed in zip(text_ids, lists, strict=True):
        head = [position.get(str(v), -1) for v in listed]
        if -1 in head:
            unknown.append(text_id)
        elif len(set(head)) != len(head):
            repeated.append(text_id)
        heads.append(head)
    problems = [
        f"{len(rows)} t2m_reranked list(s) {what} (ids {', '.join(map(str, rows[:5]))})"
        for rows, what in ((unknown, "name ids outside the split"), (repeated, "repeat an id"))
        if rows
    ]
    if problems:
        raise PredictionFormatError("; ".join(problems))
    return heads


def _corpus_protocol(ranks: np.ndarray, size: int) -> dict[str, Any]:
    """The whole-corpus pool against Text2Mol's, and what its two missing molecules could cost."""
    extra = TEXT2MOL_CORPUS_SIZE - size if size == CHEBI20_CORPUS_SIZE else 0
    about = {
        "candidates": size,
        "text2mol_candidates": TEXT2MOL_CORPUS_SIZE,
        "not_in_molbench": TEXT2MOL_ONLY if extra else [],
    }
    if extra:
        about["effect_of_text2mol_extra_candidates"] = extra_candidate_effect(ranks, size, extra)
    return about
