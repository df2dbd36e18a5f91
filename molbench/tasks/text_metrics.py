"""Text <-> molecule scores: embedding retrieval, text-to-molecule generation, names.

Retrieval follows Text2Mol (ChEBI-20): every query is ranked against every candidate by
cosine similarity. Unlike Text2Mol's ``argsort``, ties are broken pessimistically, so a
constant or degenerate embedding gets the worst rank instead of a lucky one. A tie is a tie
at the embeddings' own precision (float32 in a predictions file): similarities computed in
float64 from the float32 unit vectors, equal within ``TIE_ULPS`` float32 units in the last
place of the true one. A fixed tolerance would rank a truly better candidate as tied.

Generation follows MolT5's evaluation (``mol_translation_metrics.py`` and
``fingerprint_metrics.py``): exact match by InChI over all rows, validity, character-level
corpus BLEU and mean Levenshtein distance against the reference SMILES strings, and
fingerprint Tanimoto similarities (FTS) averaged over the rows whose prediction parses. The
same similarities averaged over all rows (an invalid prediction scores 0) come alongside,
because the valid-only mean rewards a model for leaving out the molecules it gets wrong.

Validity is stricter than MolT5's: an empty prediction and a SMILES followed by words
(``CCO is ethanol``: RDKit reads ``CCO`` titled ``is ethanol``) are invalid here, while
MolT5's ``Chem.MolFromSmiles(out) is not None`` counts both; ``validity_molt5`` is MolT5's
count, for comparison with published numbers.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import MACCSkeys, rdFingerprintGenerator
from rdkit.rdBase import BlockLogs

from molbench.chem.untrusted import smiles_too_large
from molbench.errors import MolbenchError
from molbench.tasks.reaction_metrics import parse_smiles

# Candidates whose similarity is within this many float32 ulps of the true one's are tied
# with it (and so rank ahead of it): differences below the embeddings' precision are noise.
TIE_ULPS = 4
# The float64 product's own rounding for unit vectors (at most ~dim * 1.1e-16): the floor of
# the tolerance, so a vector equal to the true one always ties, even at similarity ~0.
_PRODUCT_ERROR = 1e-12
_CHUNK_ELEMENTS = 1 << 23  # similarities held at once: 64 MiB of float64

_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

# Fingerprints compared by Tanimoto similarity. ``morgan`` is a 2048-bit vector;
# ``morgan_count`` is the unfolded count fingerprint MolT5 used (``GetMorganFingerprint``),
# the one to compare with published "Morgan FTS" numbers.
FINGERPRINTS: Mapping[str, Callable[[Chem.Mol], Any]] = {
    "maccs": MACCSkeys.GenMACCSKeys,
    "rdk": Chem.RDKFingerprint,
    "morgan": _MORGAN.GetFingerprint,
    "morgan_count": _MORGAN.GetSparseCountFingerprint,
}

HIGHER_IS_BETTER: Mapping[str, bool] = {
    "mrr": True,
    "hits_at_1": True,
    "hits_at_5": True,
    "hits_at_10": True,
    "mean_rank": False,
    "median_rank": False,
    "exact_match": True,
    "validity": True,
    "validity_molt5": True,
    "bleu": True,
    "levenshtein": False,
    **{f"{name}_fts": True for name in FINGERPRINTS},
    **{f"{name}_fts_all_rows": True for name in FINGERPRINTS},
    "name_exact_match": True,
}


def retrieval_ranks(
    queries: np.ndarray,
    candidates: np.ndarray,
    true_index: np.ndarray,
    heads: Sequence[Sequence[int]] | None = None,
) -> np.ndarray:
    """1-based rank of each query's true candidate by cosine similarity, ties counted against it.

    rank = 1 + the number of other candidates whose similarity is at least the true one's
    less ``tie_tolerance(true)``. A zero vector has similarity 0 with everything. Queries
    are scored in chunks, so memory stays bounded for any number of queries.

    ``heads`` (optional, one per query): candidate indices a re-ranker put first, best
    first. They take ranks 1 … len(head) in that order; the other candidates follow by
    cosine as above (retrieve, then re-rank the top: the ranking a re-ranker submits).
    """
    queries, candidates, true_index = map(np.asarray, (queries, candidates, true_index))
    _check_retrieval_inputs(queries, candidates, true_index)
    if heads is not None:
        _check_heads(heads, len(queries), len(candidates))
    q = _unit_rows(queries)
    c = _unit_rows(candidates).astype(np.float64)
    ranks = np.empty(len(q), dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // len(c))
    for start in range(0, len(q), step):
        sims = q[start : start + step].astype(np.float64) @ c.T
        rows = np.arange(len(sims))
        true = sims[rows, true_index[start : start + step]]
        above = sims >= (true - tie_tolerance(true))[:, None]
        if heads is None:
            ranks[start : start + step] = np.count_nonzero(above, axis=1)
            continue
        for row, head in enumerate(heads[start : start + step]):
            head = list(head)
            target = int(true_index[start + row])
            if target in head:
                ranks[start + row] = head.index(target) + 1
            else:  # the listed ones first, then the others at or above the true one
                above[row, head] = False
                ranks[start + row] = len(head) + np.count_nonzero(above[row])
    return ranks


def _check_heads(heads: Sequence[Sequence[int]], n_queries: int, n_candidates: int) -> None:
    if len(heads) != n_queries:
        raise ValueError(f"heads must be {n_queries} lists, got {len(heads)}")
    for i, head in enumerate(heads):
        values = list(head)
        if any(not 0 <= int(v) < n_candidates for v in values):
            raise ValueError(f"head {i} lists a candidate outside 0..{n_candidates - 1}")
        if len(set(values)) != len(values):
            raise ValueError(f"head {i} lists a candidate twice")


def tie_tolerance(similarity: np.ndarray) -> np.ndarray:
    """How far below a similarity another one still ties: ``TIE_ULPS`` float32 ulps of it."""
    ulp = np.spacing(np.abs(similarity).astype(np.float32)).astype(np.float64)
    return np.maximum(TIE_ULPS * ulp, _PRODUCT_ERROR)


def _check_retrieval_inputs(
    queries: np.ndarray, candidates: np.ndarray, true_index: np.ndarray
) -> None:
    if queries.ndim != 2 or candidates.ndim != 2:
        raise ValueError(f"embeddings must be 2-D, got {queries.shape} and {candidates.shape}")
    if queries.shape[1] != candidates.shape[1]:
        raise ValueError(
            f"dimensions differ: queries {queries.shape}, candidates {candidates.shape}"
        )
    if len(candidates) == 0:
        raise ValueError("no candidates to rank")
    if true_index.shape != (len(queries),) or not np.issubdtype(true_index.dtype, np.integer):
        raise ValueError(f"true_index must be {len(queries)} integers, got {true_index.shape}")
    if len(true_index) and (true_index.min() < 0 or true_index.max() >= len(candidates)):
        raise ValueError(f"true_index outside 0..{len(candidates) - 1}")
    for name, x in (("queries", queries), ("candidates", candidates)):
        if not np.isfinite(x).all():
            raise ValueError(f"{name} hold NaN or infinite values")


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (normalised in float64, kept at float32, the embeddings'
    precision); zero rows stay zero."""
    out = np.empty(x.shape, dtype=np.float32)
    step = max(1, _CHUNK_ELEMENTS // max(1, x.shape[1]))  # float64 blocks of one chunk
    for start in range(0, len(x), step):
        block = np.array(x[start : start + step], dtype=np.float64)  # a copy: divided in place
        norm = np.linalg.norm(block, axis=1, keepdims=True)
        np.divide(block, norm, out=block, where=norm > 0)  # a zero row is left as zeros
        out[start : start + step] = block
    return out


def retrieval_metrics(ranks: np.ndarray) -> dict[str, float]:
    """MRR, hits@1/5/10 (fractions), mean and median rank; ``nan`` for no queries."""
    r = np.asarray(ranks, dtype=np.float64)
    if len(r) and r.min() < 1:
        raise ValueError("ranks are 1-based; got a rank below 1")
    if len(r) == 0:
        return dict.fromkeys(
            ("mrr", "hits_at_1", "hits_at_5", "hits_at_10", "mean_rank", "median_rank"),
            float("nan"),
        )
    return {
        "mrr": float(np.mean(1 / r)),
        "hits_at_1": float(np.mean(r <= 1)),
        "hits_at_5": float(np.mean(r <= 5)),
        "hits_at_10": float(np.mean(r <= 10)),
        "mean_rank": float(np.mean(r)),
        "median_rank": float(np.median(r)),
    }


def extra_candidate_effect(ranks: np.ndarray, n_candidates: int, extra: int) -> dict[str, Any]:
    """What ``extra`` more candidates could do to MRR and Hits@1/10, from this run's ranks.

    Each rank can grow by at most ``extra``: ``worst_drop`` assumes every extra candidate
    outranks the true one; ``expected_drop`` assumes each scores like a random other
    candidate of the pool (above the true one with probability (rank - 1) / (n - 1)).
    """
    r = np.asarray(ranks, dtype=np.float64)
    if len(r) == 0 or n_candidates < 2:
        return {}
    p = (r - 1) / (n_candidates - 1)
    above = [
        (k, math.comb(extra, k) * p**k * (1 - p) ** (extra - k)) for k in range(extra + 1)
    ]  # how many extra candidates land above the true one, and how likely
    worst = {"mrr": float(np.mean(1 / r - 1 / (r + extra)))}
    expected = {"mrr": float(np.mean(1 / r - sum(w / (r + k) for k, w in above)))}
    for hits in (1, 10):
        inside = r <= hits
        worst[f"hits_at_{hits}"] = float(np.mean(inside & (r + extra > hits)))
        expected[f"hits_at_{hits}"] = float(
            np.mean(inside * sum(w * (r + k > hits) for k, w in above))
        )
    return {"extra_candidates": extra, "worst_drop": worst, "expected_drop": expected}


def same_molecule(truth: Chem.Mol, prediction: Chem.Mol) -> bool:
    """Standard-InChI equality, as MolT5 scores exact match; canonical SMILES where InChI fails.

    Standard InChI keeps stereo but merges some tautomers (2-pyridone = 2-hydroxypyridine).
    It is empty for molecules it cannot describe (``*`` atoms in ChEBI); MolT5 then counts
    two failures as a match, here the canonical SMILES decide.
    """
    with BlockLogs():
        a, b = Chem.MolToInchi(truth), Chem.MolToInchi(prediction)
    if a and b:
        return a == b
    return Chem.MolToSmiles(truth) == Chem.MolToSmiles(prediction)


def generation_metrics(
    truth_smiles: Sequence[str],
    predicted_smiles: Sequence[str],
    reference_strings: Sequence[str] | None = None,
) -> dict[str, float]:
    """The metrics of :func:`generation_scores` without the per-row exact matches."""
    return generation_scores(truth_smiles, predicted_smiles, reference_strings)[0]


def generation_scores(
    truth_smiles: Sequence[str],
    predicted_smiles: Sequence[str],
    reference_strings: Sequence[str] | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """Exact match, validity, BLEU and Levenshtein over all rows; per fingerprint, FTS.

    ``<fp>_fts`` averages over rows whose prediction parses (MolT5's number; ``nan`` when none
    does); ``<fp>_fts_all_rows`` averages over every row with an invalid prediction as 0.
    BLEU and Levenshtein compare the prediction strings with ``reference_strings`` (the SMILES
    as published, which is what MolT5 compares with; default ``truth_smiles``). Also
    returns the per-row exact matches (paired tests), so InChI is computed once per row.
    Raises ``ValueError`` when lengths differ or a truth SMILES does not parse.
    """
    references = truth_smiles if reference_strings is None else reference_strings
    if not len(truth_smiles) == len(predicted_smiles) == len(references):
        raise ValueError(
            f"{len(truth_smiles)} truth rows, {len(references)} reference strings but "
            f"{len(predicted_smiles)} predictions"
        )
    truth = [parse_smiles(s) for s in truth_smiles]
    bad = [i for i, m in enumerate(truth) if m is None]
    if bad:
        raise ValueError(f"{len(bad)} truth SMILES do not parse, first rows {bad[:5]}")
    predicted = [parse_smiles(s) for s in predicted_smiles]
    n = len(truth)
    valid = np.array([m is not None for m in predicted], dtype=bool)
    exact = np.array(
        [p is not None and same_molecule(t, p) for t, p in zip(truth, predicted, strict=True)],
        dtype=bool,
    )
    nan = float("nan")
    metrics = {
        "exact_match": float(np.mean(exact)) if n else nan,
        "validity": float(np.mean(valid)) if n else nan,
        "validity_molt5": validity_molt5(predicted_smiles),
        "bleu": character_bleu(references, predicted_smiles),
        "levenshtein": float(np.mean(levenshtein(references, predicted_smiles))) if n else nan,
    }
    pairs = [(t, p) for t, p in zip(truth, predicted, strict=True) if p is not None]
    for name, fingerprint in FINGERPRINTS.items():
        sims = [DataStructs.TanimotoSimilarity(fingerprint(t), fingerprint(p)) for t, p in pairs]
        metrics[f"{name}_fts"] = float(np.mean(sims)) if sims else nan
        metrics[f"{name}_fts_all_rows"] = float(np.sum(sims)) / n if n else nan
    return metrics, exact


def character_bleu(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """MolT5's text-to-molecule BLEU: nltk corpus BLEU over characters, one reference each.

    Default nltk settings, as MolT5 calls it: up to 4-grams, equal weights, no smoothing
    (0.0 when some n-gram order has no match anywhere in the corpus); ``nan`` for no rows.
    """
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        return float("nan")
    corpus_bleu = _text_extra("nltk.translate.bleu_score").corpus_bleu
    with warnings.catch_warnings():  # nltk warns on a 0.0 BLEU; documented above
        warnings.simplefilter("ignore", UserWarning)
        return float(corpus_bleu([[list(r)] for r in references], [list(h) for h in hypotheses]))


def levenshtein(references: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
    """Per row, the character edit distance between prediction and reference (MolT5's)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    distance = _text_extra("Levenshtein").distance
    return np.array(
        [distance(h, r) for r, h in zip(references, hypotheses, strict=True)],
        dtype=np.int64,
    )


def _text_extra(module: str) -> Any:
    """A string-metric library of the ``text`` extra, imported when a generation is scored."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MolbenchError(
            f"scoring generated SMILES needs {module.split('.')[0]}: pip install 'molbench[text]'"
        ) from None


def validity_molt5(predicted_smiles: Sequence[str]) -> float:
    """Share of predictions MolT5 counts valid: ``Chem.MolFromSmiles`` returns a molecule.

    That includes the empty string (a molecule without atoms) and a SMILES followed by
    words; molbench's ``validity`` counts neither. A string over the size limits of
    :mod:`molbench.chem.untrusted` is invalid here too: RDKit never sees it. ``nan`` for no
    rows.
    """
    if not predicted_smiles:
        return float("nan")
    with BlockLogs():
        parsed = [
            not smiles_too_large(s) and Chem.MolFromSmiles(s) is not None for s in predicted_smiles
        ]
    return float(np.mean(parsed))


def name_exact_match(truth_names: Sequence[str], predicted_names: Sequence[str]) -> float:
    """Share of names equal after trimming whitespace, ignoring case (IUPAC names are lowercase).

    A model writing ``2-Methylpropane`` names the right molecule. IUPAC's only case-only
    distinction is in stereodescriptors (``R`` vs pseudo-asymmetric ``r``): names that carry
    those would need a case-sensitive match. ``nan`` for no rows.
    """
    if len(truth_names) != len(predicted_names):
        raise ValueError(f"{len(truth_names)} names but {len(predicted_names)} predictions")
    if not truth_names:
        return float("nan")
    hits = [
        t.strip().casefold() == p.strip().casefold()
        for t, p in zip(truth_names, predicted_names, strict=True)
    ]
    return float(np.mean(hits))
