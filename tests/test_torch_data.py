"""Arrow → torch adapters."""

from __future__ import annotations

import pyarrow as pa
import pytest

torch = pytest.importorskip("torch")

from molbench.torch_data import padded_tokens  # noqa: E402


def test_padded_tokens_pads_rows_and_keeps_values() -> None:
    column = pa.chunked_array([pa.array([[2, 7, 3], [2, 3]]), pa.array([[2, 9, 9, 9, 3]])])
    ids = padded_tokens(column)
    assert ids.dtype == torch.long
    assert ids.tolist() == [[2, 7, 3, 0, 0], [2, 3, 0, 0, 0], [2, 9, 9, 9, 3]]


def test_padded_tokens_works_on_a_slice_and_refuses_to_truncate() -> None:
    column = pa.array([[1], [2, 3], [4, 5, 6]]).slice(1)
    assert padded_tokens(column, pad_id=-1).tolist() == [[2, 3, -1], [4, 5, 6]]
    with pytest.raises(ValueError, match="exceeds max_length 2"):
        padded_tokens(column, max_length=2)
