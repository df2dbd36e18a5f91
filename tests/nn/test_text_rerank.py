"""Retrieve-then-rerank: the combined order, and the decoder's sequence log-probabilities."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from molbench.nn.name_seq2seq import NameSeq2Seq  # noqa: E402
from molbench.nn.text_rerank import CandidateScores, rerank, sequence_log_probs  # noqa: E402
from tests.nn.test_name_seq2seq import PAIRS, TINY, text_table  # noqa: E402


def test_the_weight_moves_the_order_from_the_cosine_to_the_decoder() -> None:
    top = np.array([[7, 3, 5], [1, 2, 0]])
    cosine = np.array([[0.9, 0.8, 0.7], [0.5, 0.5, 0.4]])
    log_p = np.array([[-9.0, -1.0, -5.0], [-3.0, -3.0, -3.0]])
    scores = CandidateScores({}, top, cosine, log_p)
    assert rerank(scores, 0.0).tolist() == [[7, 3, 5], [1, 2, 0]]  # ties keep cosine order
    assert rerank(scores, 1e6).tolist() == [[3, 5, 7], [1, 2, 0]]
    assert rerank(scores, 0.02).tolist() == [[3, 7, 5], [1, 2, 0]]  # 0.78 > 0.72 > 0.6


def test_sequence_log_probs_are_the_loss_summed_and_independent_of_the_batch() -> None:
    torch.manual_seed(0)
    model = NameSeq2Seq(**TINY).eval()
    table = text_table(PAIRS)
    sources, targets = model.source_ids(table), model.target_ids(table)
    together = sequence_log_probs(model, sources, targets, batch_size=8)
    alone = np.array(
        [sequence_log_probs(model, [s], [t])[0] for s, t in zip(sources, targets, strict=True)]
    )
    np.testing.assert_allclose(together, alone, rtol=1e-5)  # padding changes nothing
    with torch.no_grad():
        source, target = torch.tensor([sources[2]]), torch.tensor([targets[2]])
        loss = model.loss(source, target).item()
    assert together[2] == pytest.approx(-loss * (len(targets[2]) - 1), rel=1e-5)
    assert (together < 0).all()
