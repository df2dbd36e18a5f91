"""The reaction encoder-decoder: shapes, beam search, learning a few reactions, saving."""

from pathlib import Path

import pyarrow as pa
import pytest

torch = pytest.importorskip("torch")

from molbench.chem.tokens import load_vocabulary  # noqa: E402
from molbench.models import ModelCard, load_model, save_model  # noqa: E402
from molbench.nn.reaction_transformer import (  # noqa: E402
    BOS,
    EOS,
    PAD,
    ReactionTransformer,
    pad,
)

REACTIONS = {  # reactants>reagents -> product
    "CC(=O)Cl.OCC>CCN(CC)CC": "CCOC(C)=O",
    "Brc1ccccc1.OB(O)c1ccncc1>[Pd]": "c1ccc(-c2ccncc2)cc1",
    "CCN.O=C(O)c1ccccc1": "CCNC(=O)c1ccccc1",
}
TINY = {
    "inputs": "separated",
    "d_model": 32,
    "heads": 2,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "d_ff": 64,
    "dropout": 0.0,
    "beam_size": 5,
    "max_output_length": 40,
}


def reaction_table(reactions: dict[str, str]) -> pa.Table:
    encode = load_vocabulary().encode
    tokens = pa.list_(pa.int16())
    return pa.table(
        {
            "id": [f"r{i}" for i in range(len(reactions))],
            "src_tokens_separated": pa.array([encode(s) for s in reactions], tokens),
            "src_tokens_mixed": pa.array([encode(s.replace(">", ".")) for s in reactions], tokens),
            "tgt_tokens": pa.array([encode(p) for p in reactions.values()], tokens),
        }
    )


def tiny(**changes) -> ReactionTransformer:
    torch.manual_seed(0)
    return ReactionTransformer.from_hyperparameters({**TINY, **changes}).eval()


@pytest.fixture(scope="module")
def trained() -> ReactionTransformer:
    """A tiny model that has learnt the three REACTIONS by heart."""
    model = tiny(d_model=64, d_ff=128, encoder_layers=2, decoder_layers=2).train()
    table = reaction_table(REACTIONS)
    source, _ = pad(table["src_tokens_separated"].to_pylist())
    target, _ = pad(table["tgt_tokens"].to_pylist())
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(80):
        loss = model.loss(source, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    return model.eval()


def test_logits_loss_and_encoder_shapes() -> None:
    model = tiny()
    source, _ = pad([[BOS, 10, 11, 12, EOS], [BOS, 13, EOS]])
    target, _ = pad([[BOS, 20, 21, EOS], [BOS, 22, EOS]])
    assert model(source, target[:, :-1]).shape == (2, 3, len(load_vocabulary()))
    states, mask = model.encode(source)
    assert states.shape == (2, 5, 32) and mask.shape == (2, 1, 1, 5)
    assert mask[1, 0, 0].tolist() == [True, True, True, False, False]
    assert model.loss(source, target, label_smoothing=0.1).ndim == 0


def test_beam_search_returns_distinct_hypotheses_best_first() -> None:
    model = tiny()
    source, _ = pad([[BOS, 10, 11, 12, EOS], [BOS, 13, EOS]])
    ids, scores = model.beam_search(source, max_length=12)
    assert ids.shape[:2] == (2, 5) and scores.shape == (2, 5)
    assert ids.shape[2] <= 12
    for row in range(2):
        assert scores[row].isfinite().all()
        assert (scores[row, :-1] >= scores[row, 1:]).all()  # sorted by normalised score
        sequences = {tuple(seq) for seq in ids[row].tolist()}
        assert len(sequences) == 5
        for seq in ids[row].tolist():  # each ends in <eos> (forced at the last step at worst)
            assert EOS in seq and set(seq[seq.index(EOS) + 1 :]) <= {PAD}
    again, again_scores = model.beam_search(source, max_length=12)
    assert torch.equal(ids, again) and torch.equal(scores, again_scores)


def test_beam_of_one_is_greedy_and_rows_do_not_see_each_other(trained) -> None:
    sources = reaction_table(REACTIONS)["src_tokens_separated"].to_pylist()
    source, _ = pad(sources)
    greedy = trained.greedy(source)
    beam, _ = trained.beam_search(source, beam_size=1)
    assert beam[:, 0].tolist() == greedy[:, : beam.shape[2]].tolist()
    assert (greedy[:, beam.shape[2] :] == PAD).all()
    alone, alone_scores = trained.beam_search(pad(sources[1:2])[0])
    batched, batched_scores = trained.beam_search(source)
    assert alone[0, 0].tolist() == batched[1, 0, : alone.shape[2]].tolist()
    assert alone_scores[0] == pytest.approx(batched_scores[1], abs=1e-4)


def test_learns_reactions_and_beam_search_reproduces_them(trained) -> None:
    predictions = trained.predict(reaction_table(REACTIONS))["predictions"]
    assert [row[0] for row in predictions] == list(REACTIONS.values())
    for row in predictions:
        assert 1 <= len(row) <= 5 and len(set(row)) == len(row) and all(row)


def test_random_model_rows_within_bounds_and_bad_tables_are_refused() -> None:
    model = tiny(inputs="mixed", beam_size=3, max_output_length=8)
    rows = model.predict(reaction_table(REACTIONS))["predictions"]
    assert len(rows) == 3 and all(len(r) <= 3 for r in rows)
    with pytest.raises(ValueError, match="no src_tokens_mixed column"):
        model.predict(pa.table({"id": ["a"]}))
    with pytest.raises(ValueError, match="inputs must be one of separated, mixed"):
        tiny(inputs="both")
    with pytest.raises(ValueError, match="beam_size must be 1 to 10"):
        tiny(beam_size=11)


def test_saved_model_loads_and_predicts_the_same(trained, tmp_path: Path) -> None:
    card = ModelCard(
        tmp_path / "model",
        "reaction_transformer",
        {"dataset": "reactions", "version": "1.0.0", "config": "uspto_15k"},
        {**TINY, "d_model": 64, "d_ff": 128, "encoder_layers": 2, "decoder_layers": 2},
        {},
        None,
    )
    save_model(card.path, trained, card)
    loaded, _ = load_model(card.path)
    table = reaction_table(REACTIONS)
    assert loaded.predict(table)["predictions"].tolist() == (
        trained.predict(table)["predictions"].tolist()
    )


def test_token_batches_respect_the_budget_and_keep_every_row() -> None:
    import numpy as np

    from molbench.nn.seq2seq import token_batches

    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 60, size=500)
    order = np.argsort(lengths, kind="stable")
    batches = token_batches(order, lengths, 256)
    np.testing.assert_array_equal(np.concatenate(batches), order)  # all rows, in order
    for batch in batches:
        assert len(batch) * lengths[batch].max() <= 256
    assert len(batches[0]) > len(batches[-1])  # short rows come many to a batch
    # a row over the budget alone is still trained on, by itself
    assert [len(b) for b in token_batches(np.array([0, 1]), np.array([10, 300]), 256)] == [1, 1]
