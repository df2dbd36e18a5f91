"""Retrieve, then re-rank: contrastive top-k candidates re-scored by a name → SMILES decoder.

A bi-encoder compares a name with every molecule through one vector each, so near-ties
between isomers (``4,4-`` vs ``3,4-dimethylheptane``) and between chain lengths it failed
to count (``but-1-ene`` vs ``oct-1-ene``) are settled by a single cosine. A decoder that
writes the molecule from the name reads it token by token: the log-probability
``log P(SMILES | name)`` of each candidate, teacher-forced, is a second, independent
opinion. The re-ranked score of candidate ``c`` for name ``t`` is

    cos(t, c) + rerank_weight · log P(smiles(c) | t)

over the retriever's ``top_k`` candidates (the weight chosen on validation by the recipe);
the rest keep their cosine order. ``predict`` returns both embeddings (the cosine ranking
every retrieval row is scored by) and ``t2m_reranked``, the re-ranked top ids, which
``molbench eval`` puts first (see :mod:`molbench.tasks.text`).

Both components are ordinary molbench models (``text_contrastive_gin``,
``text_name_seq2seq`` with ``direction=name2smiles``), trained by their own recipes and
composed here with their weights; the card keeps both hyperparameter sets.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from molbench.hyperparameters import Float, Int, Nested
from molbench.nn.name_seq2seq import NameSeq2Seq
from molbench.nn.seq2seq import pad
from molbench.nn.text_contrastive import ContrastiveGIN

QUERY_CHUNK = 1024  # names whose similarities to every candidate are held at once


class RetrieveRerank(nn.Module):
    hyperparameter_schema = MappingProxyType(
        {
            "retriever": Nested(ContrastiveGIN.hyperparameter_schema),
            "reranker": Nested(NameSeq2Seq.hyperparameter_schema),
            "top_k": Int(1, 1000),
            "rerank_weight": Float(0, 1e6),
        }
    )

    def __init__(
        self,
        retriever: ContrastiveGIN,
        reranker: NameSeq2Seq,
        top_k: int = 5,
        rerank_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if reranker.direction != "name2smiles":
            raise ValueError("the re-ranker must write SMILES from names (direction name2smiles)")
        self.retriever = retriever
        self.reranker = reranker
        self.top_k = top_k
        self.rerank_weight = rerank_weight

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any]) -> RetrieveRerank:
        return cls(
            ContrastiveGIN.from_hyperparameters(hp["retriever"]),
            NameSeq2Seq.from_hyperparameters(hp["reranker"]),
            hp["top_k"],
            hp["rerank_weight"],
        )

    @torch.no_grad()
    def candidate_scores(self, table: pa.Table, device: str = "cpu") -> CandidateScores:
        """Each name's top-k candidates (row indices, cosine order) with both opinions."""
        self.eval()
        embeddings = self.retriever.predict(table, device)
        text = _unit(embeddings["text_embedding"])
        mol = _unit(embeddings["mol_embedding"])
        k = min(self.top_k, len(mol))
        top = np.empty((len(text), k), dtype=np.int64)
        cosine = np.empty((len(text), k))
        for start in range(0, len(text), QUERY_CHUNK):
            sims = text[start : start + QUERY_CHUNK] @ mol.T
            order = np.argsort(-sims, axis=1, kind="stable")[:, :k]  # ties: candidate order
            top[start : start + QUERY_CHUNK] = order
            cosine[start : start + QUERY_CHUNK] = np.take_along_axis(sims, order, axis=1)
        sources = self.reranker.source_ids(table)
        targets = self.reranker.target_ids(table)
        queries = np.repeat(np.arange(len(text)), k)
        log_p = sequence_log_probs(
            self.reranker, [sources[i] for i in queries], [targets[j] for j in top.ravel()], device
        ).reshape(len(text), k)
        return CandidateScores(embeddings, top, cosine, log_p)

    @torch.no_grad()
    def predict(self, table: pa.Table, device: str = "cpu") -> dict:
        scores = self.candidate_scores(table, device)
        ids = table["id"].to_numpy(zero_copy_only=False)
        heads = ids[rerank(scores, self.rerank_weight)]
        return {
            "text_embedding": scores.embeddings["text_embedding"],
            "mol_embedding": scores.embeddings["mol_embedding"],
            "t2m_reranked": pa.array(heads.tolist(), type=pa.list_(table["id"].type)),
        }


class CandidateScores(NamedTuple):
    """A table's top-k candidates per name (row indices in cosine order, ``[names, k]``),
    their cosines and decoder log-probabilities; the embeddings they came from."""

    embeddings: dict
    top: np.ndarray
    cosine: np.ndarray
    log_p: np.ndarray


def rerank(scores: CandidateScores, weight: float) -> np.ndarray:
    """Each name's candidates (row indices) by ``cosine + weight · log_p``, best first;
    equal scores keep the cosine order."""
    combined = scores.cosine + weight * scores.log_p
    order = np.argsort(-combined, axis=1, kind="stable")
    return np.take_along_axis(scores.top, order, axis=1)


@torch.no_grad()
def sequence_log_probs(
    model: NameSeq2Seq,
    sources: list[list[int]],
    targets: list[list[int]],
    device: str = "cpu",
    batch_size: int = 512,
) -> np.ndarray:
    """``log P(target | source)`` of each pair under teacher forcing, in batches of
    similar length (:meth:`NameSeq2Seq.sequence_log_probs`)."""
    model.eval()
    out = np.empty(len(sources))
    order = np.argsort([len(s) + len(t) for s, t in zip(sources, targets, strict=True)])
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        source, _ = pad([sources[i] for i in rows])
        target, _ = pad([targets[i] for i in rows])
        log_p = model.sequence_log_probs(source.to(device), target.to(device))
        out[rows] = log_p.cpu().numpy()
    return out


def _unit(vectors: pa.Array) -> np.ndarray:
    matrix = np.asarray(vectors.flatten(), dtype=np.float64).reshape(len(vectors), -1)
    norm = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norm, out=np.zeros_like(matrix), where=norm > 0)
