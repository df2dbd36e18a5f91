"""The template-candidate ranker's arrays, count features, loss and a tiny fit."""

import numpy as np
import pyarrow as pa
import pytest
import torch

from molbench.nn.template_ranker import (
    CandidateArrays,
    TemplateRanker,
    count_features,
    nested_offsets,
)


def _arrays() -> CandidateArrays:
    """Three reactions: 2 candidates, none, 3 candidates; 8 feature ids in 2 x 4 spaces."""
    table = pa.table(
        {
            "ids": [[[0, 5], [1]], [], [[2], [3, 6], [4, 7]]],
            "values": [[[1.0, 2.0], [1.0]], [], [[1.0], [1.0, 1.0], [3.0, 1.0]]],
            "context_ids": [[0], [1, 2], [3]],
            "context_values": [[1.0], [1.0, 1.0], [2.0]],
        }
    )
    dense = np.arange(5, dtype=np.float32).reshape(5, 1)
    return CandidateArrays.from_table(table, dense)


def test_nested_offsets_flatten_lists_of_lists() -> None:
    outer, inner, values = nested_offsets(pa.chunked_array([[[[1, 2], [3]], [], [[4]]]]))
    assert outer.tolist() == [0, 2, 2, 3] and inner.tolist() == [0, 2, 3, 4]
    assert values.tolist() == [1, 2, 3, 4]


def test_batch_gathers_the_rows_candidates_and_their_features() -> None:
    data = _arrays()
    batch = data.batch([2, 0], [1, 0])
    assert batch["ids"].tolist() == [2, 3, 6, 4, 7, 0, 5, 1]
    assert batch["offsets"].tolist() == [0, 1, 3, 5, 7]
    assert batch["dense"].squeeze(1).tolist() == [2, 3, 4, 0, 1]
    assert batch["reaction"].tolist() == [0, 0, 0, 1, 1]
    assert batch["context_ids"].tolist() == [3, 0] and batch["context_offsets"].tolist() == [0, 1]
    assert np.allclose(batch["weights"][3].item(), np.log1p(3.0))


def test_select_keeps_only_the_chosen_candidates() -> None:
    kept = _arrays().select(np.array([False, True, True, False, True]))
    assert kept.cand_offsets.tolist() == [0, 1, 1, 3]
    assert kept.ids.tolist() == [1, 2, 4, 7] and kept.dense.squeeze(1).tolist() == [1, 2, 4]
    assert kept.batch([2])["ids"].tolist() == [2, 4, 7]


def test_count_features_take_the_best_rule_and_rank_by_it() -> None:
    # reaction 0: candidates with rules counted [3], [1, 5]; reaction 1: [0], [2]
    rule_offsets = np.array([0, 1, 3, 4, 5])
    counts = np.array([3.0, 1.0, 5.0, 0.0, 2.0])
    features = count_features(rule_offsets, counts, np.array([0, 2, 4]))
    assert np.allclose(np.expm1(features[:, 0]), [3, 5, 0, 2])  # best count
    assert np.allclose(np.expm1(features[:, 1]), [3, 6, 0, 2])  # all counts
    assert np.allclose(np.expm1(features[:, 2]), [1, 2, 0, 1])  # rules seen
    assert np.allclose(np.expm1(features[:, 3]), [1, 0, 1, 0])  # rank by best count


def test_loss_is_the_softmax_over_each_reactions_own_candidates() -> None:
    data = _arrays()
    batch = data.batch([0, 1, 2], [1, -1, 2])
    scores = torch.tensor([0.0, 1.0, 2.0, 0.0, 1.0])
    expected = (
        -torch.log_softmax(scores[:2], 0)[1] - torch.log_softmax(scores[2:], 0)[2]
    ) / 2  # the reaction without candidates (target -1) does not count
    assert torch.isclose(TemplateRanker.loss(scores, batch), expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_tiny_ranker_learns_which_feature_marks_the_product(seed: int) -> None:
    torch.manual_seed(seed)
    model = TemplateRanker(bits=4, context_bits=4, hidden=8, n_dense=1, dropout=0.0)
    data = _arrays()
    rows, targets = [0, 2], [1, 2]  # the true candidates carry ids 1 and 4, 7
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        batch = data.batch(rows, targets)
        loss = TemplateRanker.loss(model(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    scores = model(data.batch(rows)).detach()
    assert scores[:2].argmax().item() == 1 and scores[2:].argmax().item() == 2
    assert loss.item() < 0.1
