"""PyTorch / torch_geometric adapters: Parquet graph and token columns → tensors.

Only Arrow columns are read, never RDKit, so the same code runs on a GPU machine that has
torch and pyarrow but no chemistry stack.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import torch


def graphs(table: pa.Table, label_column: str | None = "label") -> list:
    """One ``torch_geometric.data.Data`` per row of a table with molbench graph columns.

    ``x``: hydrogens per atom (long, [N, 1]); ``edge_index``: [2, E]; ``edge_attr``: bond
    order per directed edge (long); ``y``: the label as float, when ``label_column`` is set.
    """
    from torch_geometric.data import Data

    h = table["atom_h_counts"].to_pylist()
    edges = table["edge_index"].to_pylist()
    orders = table["bond_orders"].to_pylist()
    labels = table[label_column].to_numpy() if label_column else None
    out = []
    for i in range(table.num_rows):
        data = Data(
            x=torch.tensor(h[i], dtype=torch.long).unsqueeze(1),
            edge_index=torch.tensor(edges[i], dtype=torch.long).reshape(2, -1),
            edge_attr=torch.tensor(orders[i], dtype=torch.long),
        )
        if labels is not None:
            data.y = torch.tensor([float(labels[i])])
        out.append(data)
    return out


def encode_strings(
    texts: list[str], vocabulary: list[str], max_length: int, cls_token: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Character ids (0 = padding, 1 = [CLS], 2 = unknown) and lengths for a list of strings.

    Strings longer than ``max_length`` are an error, not silently truncated.
    """
    index = {c: i for i, c in enumerate(vocabulary)}
    offset = 1 if cls_token else 0
    longest = max((len(t) for t in texts), default=0) + offset
    if longest > max_length:
        raise ValueError(
            f"a string of {longest - offset} characters exceeds max_length {max_length}"
        )
    ids = np.zeros((len(texts), longest), dtype=np.int64)
    lengths = np.zeros(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):
        if cls_token:
            ids[row, 0] = index["[CLS]"]
        ids[row, offset : offset + len(text)] = [index.get(c, index["[UNK]"]) for c in text]
        lengths[row] = len(text) + offset
    return torch.from_numpy(ids), torch.from_numpy(lengths)


def padded_tokens(
    column: pa.ChunkedArray | pa.Array, pad_id: int = 0, max_length: int | None = None
) -> torch.Tensor:
    """A token-id list column (``src_tokens_*``, ``tgt_tokens``, ``smiles_tokens``) as one
    ``[rows, longest]`` LongTensor padded with ``pad_id`` (``<pad>`` = 0 in the shared
    vocabulary). Rows longer than ``max_length`` are an error, not silently truncated."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    offsets = column.offsets.to_numpy()
    lengths = np.diff(offsets)
    longest = int(lengths.max(initial=0))
    if max_length is not None and longest > max_length:
        raise ValueError(f"a row of {longest} tokens exceeds max_length {max_length}")
    values = column.values.to_numpy(zero_copy_only=False).astype(np.int64)
    out = np.full((len(lengths), longest), pad_id, dtype=np.int64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    positions = offsets[0] + np.arange(len(rows))  # offsets are absolute in a sliced array
    out[rows, positions - np.repeat(offsets[:-1], lengths)] = values[positions]
    return torch.from_numpy(out)


class GraphBatch:
    """A batch of disjoint graphs: the "one big graph" whose components are molecules."""

    def __init__(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_attr: torch.Tensor,
        batch: torch.Tensor,
        num_graphs: int,
        y: torch.Tensor | None,
    ) -> None:
        self.x, self.edge_index, self.edge_attr = x, edge_index, edge_attr
        self.batch, self.num_graphs, self.y = batch, num_graphs, y

    def to(self, device: str | torch.device) -> GraphBatch:
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return GraphBatch(
            move(self.x),
            move(self.edge_index),
            move(self.edge_attr),
            move(self.batch),
            self.num_graphs,
            move(self.y),
        )


class GraphBatcher:
    """Fast batching straight from Arrow graph columns (no per-row Python objects).

    Holds every graph as flat arrays with offsets; a batch is a few numpy gathers.
    """

    def __init__(self, table: pa.Table, label_column: str | None = "label") -> None:
        h = table["atom_h_counts"].combine_chunks()
        orders = table["bond_orders"].combine_chunks()
        self.node_offsets = h.offsets.to_numpy().astype(np.int64)
        self.edge_offsets = orders.offsets.to_numpy().astype(np.int64)
        self.x = h.flatten().to_numpy().astype(np.int64)
        self.edge_attr = orders.flatten().to_numpy().astype(np.int64)
        flat = table["edge_index"].combine_chunks().flatten().flatten().to_numpy()
        counts = np.diff(self.edge_offsets)
        row = np.repeat(np.arange(len(counts)), counts)
        k = np.arange(len(row)) - self.edge_offsets[:-1][row]
        base = 2 * self.edge_offsets[:-1][row] + k  # row i: E_i sources, then E_i targets
        self.src = flat[base].astype(np.int64)
        self.dst = flat[base + counts[row]].astype(np.int64)
        self.y = table[label_column].to_numpy().astype(np.float32) if label_column else None
        self.num_graphs = table.num_rows

    def __len__(self) -> int:
        return self.num_graphs

    def batch(self, rows: np.ndarray) -> GraphBatch:
        nodes = _ranges(self.node_offsets[rows], self.node_offsets[rows + 1])
        edges = _ranges(self.edge_offsets[rows], self.edge_offsets[rows + 1])
        n_nodes = self.node_offsets[rows + 1] - self.node_offsets[rows]
        n_edges = self.edge_offsets[rows + 1] - self.edge_offsets[rows]
        # src/dst are local to their molecule: shift them to the molecule's start in the batch
        shift = np.repeat(np.concatenate([[0], np.cumsum(n_nodes)[:-1]]), n_edges)
        edge_index = np.stack([self.src[edges] + shift, self.dst[edges] + shift])
        return GraphBatch(
            torch.from_numpy(self.x[nodes]),
            torch.from_numpy(edge_index),
            torch.from_numpy(self.edge_attr[edges]),
            torch.from_numpy(np.repeat(np.arange(len(rows)), n_nodes)),
            len(rows),
            None if self.y is None else torch.from_numpy(self.y[rows]),
        )

    def batches(
        self, batch_size: int, shuffle: bool = False, rng: np.random.Generator | None = None
    ) -> Iterator[GraphBatch]:
        """Consecutive batches; with ``shuffle``, in an order drawn from ``rng`` (or a new one)."""
        if shuffle:
            order = (rng or np.random.default_rng()).permutation(self.num_graphs)
        else:
            order = np.arange(self.num_graphs)
        for start in range(0, self.num_graphs, batch_size):
            yield self.batch(order[start : start + batch_size])


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, e)`` for each pair, vectorised."""
    lengths = ends - starts
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(lengths.sum()) + offsets
