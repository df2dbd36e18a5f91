"""Forward reaction prediction as translation (Molecular Transformer, Schwaller et al. 2019).

An encoder-decoder transformer reads the token ids of the precursors (``src_tokens_separated``:
``reactants>reagents``, or ``src_tokens_mixed``) and writes the product's tokens over the same
shared SMILES vocabulary, so one embedding table serves the source, the target and the output
layer. Positions are rotary (:mod:`molbench.nn.seq2seq`), attention is PyTorch's SDPA.

Candidates come from a batched beam search with a key/value cache: every row keeps
``beam_size`` live hypotheses; a hypothesis that writes ``<eos>`` among the best
``beam_size`` candidates of a step is finished with its log-probability divided by
``length ** length_penalty``, and a row stops once it has ``beam_size`` finished ones
(fairseq's rule). Ties are broken by position, so the search is deterministic.

``predict(table, device)`` returns ``{"predictions": ...}``: up to ``beam_size`` product
SMILES per row, best first, decoded from tokens (no RDKit needed).
"""

from __future__ import annotations

import contextlib
import math
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from torch import nn
from torch.nn import functional as F

from molbench.chem.tokens import SPECIALS, load_vocabulary
from molbench.hyperparameters import Choice, Float, Int
from molbench.nn.seq2seq import (
    Block,
    KVCache,
    cross_memory,
    encode_source,
    pad,
    reorder,
    teacher_forced,
)

PAD, UNK, BOS, EOS = range(4)
INPUTS = ("separated", "mixed")
# never written by the decoder: every special but <eos>
_BANNED = [i for i, t in enumerate(SPECIALS) if t != "<eos>"]


class ReactionTransformer(nn.Module):
    """Encoder-decoder transformer from precursor tokens to product tokens, with beam search."""

    hyperparameter_schema = MappingProxyType(
        {
            "inputs": Choice(INPUTS),
            "d_model": Int(1, 4096),
            "heads": Int(1, 64),
            "encoder_layers": Int(1, 64),
            "decoder_layers": Int(1, 64),
            "d_ff": Int(1, 65536),
            "dropout": Float(0, 1, False),
            "beam_size": Int(1, 100, False),
            "length_penalty": Float(0, 10, False),
            "max_output_length": Int(1, 4096, False),
        }
    )

    def __init__(
        self,
        inputs: str = "separated",
        d_model: int = 256,
        heads: int = 8,
        encoder_layers: int = 4,
        decoder_layers: int = 4,
        d_ff: int = 1024,
        dropout: float = 0.1,
        beam_size: int = 10,
        length_penalty: float = 1.0,
        max_output_length: int = 200,
    ) -> None:
        super().__init__()
        if inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
        if not 1 <= beam_size <= 10:
            raise ValueError(f"beam_size must be 1 to 10 (the task scores 10), got {beam_size}")
        self.inputs, self.d_model = inputs, d_model
        self.beam_size, self.length_penalty = beam_size, length_penalty
        self.max_output_length = max_output_length
        self.vocabulary = load_vocabulary()
        self.embedding = nn.Embedding(len(self.vocabulary), d_model, padding_idx=PAD)
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)  # tied with the output layer
        with torch.no_grad():
            self.embedding.weight[PAD].zero_()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.ModuleList(
            Block(d_model, heads, dropout, cross=False, d_ff=d_ff) for _ in range(encoder_layers)
        )
        self.decoder = nn.ModuleList(
            Block(d_model, heads, dropout, cross=True, d_ff=d_ff) for _ in range(decoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(d_model)
        self.decoder_norm = nn.LayerNorm(d_model)

    @classmethod
    def from_hyperparameters(cls, hp: dict[str, Any]) -> ReactionTransformer:
        return cls(
            hp["inputs"],
            hp["d_model"],
            hp["heads"],
            hp["encoder_layers"],
            hp["decoder_layers"],
            hp["d_ff"],
            hp.get("dropout", 0.0),
            hp.get("beam_size", 10),
            hp.get("length_penalty", 1.0),
            hp.get("max_output_length", 200),
        )

    @property
    def source_column(self) -> str:
        return f"src_tokens_{self.inputs}"

    # ------------------------------------------------------------------ network

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.drop(self.embedding(ids) * math.sqrt(self.d_model))

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.decoder_norm(x), self.embedding.weight)

    def encode(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states and the key mask (``True`` = a real token) for cross-attention."""
        return encode_source(self.encoder, self.encoder_norm, self._embed(source), source)

    def forward(self, source: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        """Next-token logits ``[batch, target length, vocabulary]`` under teacher forcing."""
        memory = cross_memory(self.decoder, *self.encode(source))
        x = teacher_forced(self.decoder, self._embed(target_in), memory)
        return self._logits(x)

    def loss(
        self, source: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0
    ) -> torch.Tensor:
        """Token cross-entropy of ``target`` (``<bos>`` … ``<eos>``, padded) given ``source``."""
        logits = self(source, target[:, :-1])
        return F.cross_entropy(
            logits.float().flatten(0, 1),
            target[:, 1:].flatten(),
            ignore_index=PAD,
            label_smoothing=label_smoothing,
        )

    def _step(
        self,
        token: torch.Tensor,
        step: int,
        memory: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        caches: list[KVCache],
        beams: int = 1,
    ) -> torch.Tensor:
        """Log-probabilities ``[rows, vocabulary]`` of the next token after ``token`` at ``step``
        (``beams`` consecutive rows per row of ``memory``)."""
        positions = torch.tensor([step], device=token.device)
        x = self._embed(token[:, None])
        for block, block_memory, cache in zip(self.decoder, memory, caches, strict=True):
            x = block(x, positions, memory=block_memory, cache=cache, beams=beams)
        logits = self._logits(x[:, -1]).float()
        logits[:, _BANNED] = -math.inf
        return logits.log_softmax(-1)

    # ------------------------------------------------------------------ decoding

    @torch.no_grad()
    def greedy(self, source: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
        """Greedy output ids ``[batch, ≤ max_length]`` (no ``<bos>``; ``<pad>`` after ``<eos>``)."""
        max_length = max_length or self.max_output_length
        memory = cross_memory(self.decoder, *self.encode(source))
        caches: list[KVCache] = [[] for _ in self.decoder]
        token = torch.full((source.shape[0],), BOS, device=source.device)
        done = torch.zeros(source.shape[0], dtype=torch.bool, device=source.device)
        out = []
        for step in range(max_length):
            token = self._step(token, step, memory, caches).argmax(-1).masked_fill(done, PAD)
            out.append(token)
            done |= token == EOS
            if bool(done.all()):
                break
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def beam_search(
        self, source: torch.Tensor, beam_size: int | None = None, max_length: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The best ``beam_size`` outputs of every row, best first.

        Returns ids ``[batch, beam, length]`` (no ``<bos>``; ``<pad>`` after ``<eos>``) and
        their length-normalised log-probabilities ``[batch, beam]`` (``-inf``: no output).
        """
        k = beam_size or self.beam_size
        max_length = max_length or self.max_output_length
        batch, device = source.shape[0], source.device
        memory = cross_memory(self.decoder, *self.encode(source))
        caches: list[KVCache] = [[] for _ in self.decoder]
        # live hypotheses: their summed log-probabilities and tokens; one beam at the start
        scores = torch.full((batch, k), -math.inf, device=device)
        scores[:, 0] = 0.0
        live = torch.empty((batch, k, 0), dtype=torch.long, device=device)
        token = torch.full((batch * k,), BOS, device=device)
        finished = torch.full((batch, k, max_length), PAD, device=device)
        finished_scores = torch.full((batch, k), -math.inf, device=device)
        n_finished = torch.zeros(batch, dtype=torch.long, device=device)
        first_k = torch.arange(2 * k, device=device) < k
        rows = torch.arange(batch, device=device)[:, None]
        for step in range(max_length):
            log_probs = self._step(token, step, memory, caches, k)
            if step == max_length - 1:  # out of room: every live hypothesis ends here
                log_probs[:, :EOS] = log_probs[:, EOS + 1 :] = -math.inf
            vocabulary = log_probs.shape[-1]
            candidates = (scores[:, :, None] + log_probs.view(batch, k, -1)).view(batch, -1)
            top_scores, top_index = candidates.topk(2 * k, dim=1)
            beam, top_token = top_index // vocabulary, top_index % vocabulary
            history = torch.cat(
                (live.gather(1, beam[..., None].expand(-1, -1, step)), top_token[..., None]), 2
            )
            # hypotheses ending here: <eos> among a row's best k candidates
            ends = (top_token == EOS) & first_k & top_scores.isfinite()
            ends &= (n_finished < k)[:, None]
            normalised = top_scores / float(step + 1) ** self.length_penalty
            pool_scores = torch.cat((finished_scores, normalised.masked_fill(~ends, -math.inf)), 1)
            pool = torch.cat((finished, F.pad(history, (0, max_length - step - 1), value=PAD)), 1)
            finished_scores, best = pool_scores.topk(k, dim=1)
            finished = pool.gather(1, best[..., None].expand(-1, -1, max_length))
            n_finished += ends.sum(1)
            if bool((n_finished >= k).all()):
                break
            # the best k candidates that go on (each beam has one <eos>, so k remain):
            # a unique key per candidate, rank order with the <eos> ones moved last
            order_key = (top_token == EOS).long() * 2 * k + torch.arange(2 * k, device=device)
            keep = order_key.argsort(dim=1)[:, :k]
            scores = top_scores.gather(1, keep).masked_fill((n_finished >= k)[:, None], -math.inf)
            live = history.gather(1, keep[..., None].expand(-1, -1, step + 1))
            token = live[:, :, -1].reshape(-1)
            reorder(caches, (rows * k + beam.gather(1, keep)).reshape(-1))
        used = int((finished != PAD).sum(-1).max()) if finished.numel() else 0
        return finished[:, :, :used], finished_scores

    @torch.no_grad()
    def predict(
        self, table: pa.Table, device: str = "cpu", batch_size: int | None = None
    ) -> dict[str, np.ndarray]:
        """Up to ``beam_size`` distinct product SMILES per row, best first."""
        if self.source_column not in table.column_names:
            raise ValueError(f"the table has no {self.source_column} column to read")
        self.eval()
        batch_size = batch_size or (256 if device.startswith("cuda") else 32)
        sources = table[self.source_column].to_pylist()
        order = np.argsort([len(s) for s in sources], kind="stable")  # less padding per batch
        ranked = np.empty(len(sources), dtype=object)
        autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if device.startswith("cuda")
            else contextlib.nullcontext()
        )
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            source, _ = pad([sources[i] for i in rows])
            with autocast:
                ids, scores = self.beam_search(source.to(device))
            for row, row_ids, row_scores in zip(
                rows, ids.tolist(), scores.isfinite().tolist(), strict=True
            ):
                ranked[row] = self._distinct(row_ids, row_scores)
        return {"predictions": ranked}

    def _distinct(self, candidates: list[list[int]], found: list[bool]) -> list[str]:
        """Decoded candidates in order, without empty strings or repeats."""
        out: list[str] = []
        for ids, ok in zip(candidates, found, strict=True):
            smiles = self.vocabulary.decode(ids) if ok else ""
            if smiles and smiles not in out:
                out.append(smiles)
        return out
