"""The name ↔ SMILES encoder-decoder: ids, cached decoding, learning, saving."""

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

torch = pytest.importorskip("torch")

from molbench.chem.tokens import load_vocabulary  # noqa: E402
from molbench.models import ModelCard, architectures, load_model, save_model  # noqa: E402
from molbench.nn.name_seq2seq import (  # noqa: E402
    BOS,
    EOS,
    NAME_VOCABULARY,
    PAD,
    UNK,
    NameSeq2Seq,
    condensed_smiles,
    decode_name,
    encode_names,
    pad,
)

PAIRS = {
    "CC(C)C=C": "3-methylbut-1-ene",
    "CCCCC(CC(C)C)CCCC": "5-(2-methylpropyl)nonane",
    "C=CC=C": "buta-1,3-diene",
    "CC(C)(C)C": "2,2-dimethylpropane",
    "CCC=C(C)CCCC": "4-methyloct-3-ene",
    "C=C=CCC(=C)C=C": "5-methylidenehepta-1,2,6-triene",
    "CCCC": "butane",
    "CC=CC(C)C": "4-methylpent-2-ene",
}
TINY = {"d_model": 32, "heads": 2, "encoder_layers": 1, "decoder_layers": 1}


def text_table(pairs: dict[str, str]) -> pa.Table:
    vocabulary = load_vocabulary()
    return pa.table(
        {
            "id": pa.array(range(len(pairs)), pa.int64()),
            "smiles": list(pairs),
            "name": list(pairs.values()),
            "smiles_tokens": pa.array([vocabulary.encode(s) for s in pairs], pa.list_(pa.int16())),
        }
    )


def test_name_characters_round_trip_and_unknowns_are_counted() -> None:
    names = ["3-methylbut-1-ene", "5-(2-methylpropyl)nonane", "1,1'-[x] y"]
    ids, unknown = encode_names(names)
    assert unknown == 1  # the apostrophe
    assert all(row[0] == BOS and row[-1] == EOS for row in ids)
    assert [decode_name(row) for row in ids[:2]] == names[:2]
    assert ids[2][4] == UNK
    assert decode_name(ids[2]) == "1,1-[x] y"  # an unknown character is dropped on the way back
    assert encode_names(["Tert-Butyl"])[0] == encode_names(["tert-butyl"])[0]
    assert decode_name([BOS, *encode_names(["but"])[0][0][1:-1], EOS, 10, PAD]) == "but"
    with pytest.raises(ValueError, match="outside the name vocabulary"):
        decode_name([len(NAME_VOCABULARY)])


def test_each_direction_reads_and_writes_the_right_columns() -> None:
    table = text_table(PAIRS)
    forward = NameSeq2Seq("name2smiles", **TINY)
    backward = NameSeq2Seq("smiles2name", **TINY)
    tokens = table["smiles_tokens"].to_pylist()
    assert forward.target_ids(table) == tokens == backward.source_ids(table)
    assert (
        forward.source_ids(table) == backward.target_ids(table) == encode_names(PAIRS.values())[0]
    )
    assert [forward.decode(row[1:]) for row in tokens] == list(PAIRS)
    assert [backward.decode(row[1:]) for row in backward.target_ids(table)] == list(PAIRS.values())
    ids, lengths = pad(tokens)
    assert ids.shape == (len(tokens), max(map(len, tokens)))
    assert lengths.tolist() == [len(row) for row in tokens]
    assert (ids[lengths.argmin(), int(lengths.min()) :] == PAD).all()
    with pytest.raises(ValueError, match="direction"):
        NameSeq2Seq("name2inchi")


def test_condensed_targets_write_the_main_chain_first() -> None:
    chem = pytest.importorskip("rdkit.Chem")
    condensed = "CH3CH2CH2CH2CH(CH2CH(CH3)CH3)CH2CH2CH2CH3"  # 5-(2-methylpropyl)nonane
    smiles = condensed_smiles(condensed)
    canonical = chem.MolToSmiles(chem.MolFromSmiles(smiles))
    assert canonical == chem.MolToSmiles(chem.MolFromSmiles("CCCCC(CC(C)C)CCCC"))
    outside_branches = re.sub(r"\([^()]*(\([^()]*\))*[^()]*\)", "", smiles)
    assert outside_branches.count("C") == 9  # the nonane chain, unbroken
    table = text_table(PAIRS).append_column("condensed", pa.array([condensed] * len(PAIRS)))
    model = NameSeq2Seq("name2smiles", **TINY, smiles_order="condensed")
    assert {model.decode(row[1:]) for row in model.target_ids(table)} == {smiles}
    with pytest.raises(ValueError, match="smiles_order"):
        NameSeq2Seq("smiles2name", smiles_order="condensed")
    with pytest.raises(ValueError, match="smiles_order"):
        NameSeq2Seq("name2smiles", smiles_order="random")


@pytest.mark.parametrize("direction", ["name2smiles", "smiles2name"])
def test_cached_greedy_decoding_matches_the_full_forward_pass(direction: str) -> None:
    torch.manual_seed(0)
    model = NameSeq2Seq(direction, **TINY).eval()
    table = text_table(PAIRS)
    source, _ = pad(model.source_ids(table))
    generated = model.generate(source, max_length=12)
    teacher = torch.cat([torch.full((len(source), 1), BOS), generated], dim=1)[:, :-1]
    with torch.no_grad():
        full = model(source, teacher).argmax(-1)
    written = torch.cumsum(generated == EOS, dim=1) - (generated == EOS).long() == 0
    assert torch.equal(full[written], generated[written])
    # padding a row to a longer batch does not change what it decodes to
    alone = model.generate(pad([model.source_ids(table)[0]])[0], max_length=12)
    assert torch.equal(alone[0], generated[0, : alone.shape[1]])


@pytest.mark.parametrize("direction", ["name2smiles", "smiles2name"])
def test_a_handful_of_pairs_is_learnt_exactly(direction: str) -> None:
    torch.manual_seed(0)
    table = text_table(PAIRS)
    model = NameSeq2Seq(direction, **TINY, max_output_length=40)
    sources, _ = pad(model.source_ids(table))
    targets, _ = pad(model.target_ids(table))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    column = "smiles" if direction == "name2smiles" else "name"
    for _ in range(12):  # at most 600 steps, stopping once every pair comes back exactly
        model.train()
        for _ in range(50):
            loss = model.loss(sources, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        predicted = model.predict(table, batch_size=3)
        if predicted[column].tolist() == table[column].to_pylist():
            break
    assert list(predicted) == [column]
    assert predicted[column].dtype == object
    assert predicted[column].tolist() == table[column].to_pylist()


def test_saved_model_is_registered_and_predicts_the_same(tmp_path: Path) -> None:
    assert "text_name_seq2seq" in architectures(), (
        'register text_name_seq2seq = "molbench.nn.name_seq2seq:NameSeq2Seq" under '
        '[project.entry-points."molbench.models"] and reinstall'
    )
    torch.manual_seed(0)
    hyperparameters = {"direction": "smiles2name", **TINY, "max_output_length": 8}
    module = NameSeq2Seq.from_hyperparameters(hyperparameters)
    card = ModelCard(
        tmp_path / "m",
        "text_name_seq2seq",
        {"dataset": "text", "version": "1.0.0", "config": "hydrocarbon_names"},
        hyperparameters,
        {"seed": 0},
        sum(p.numel() for p in module.parameters()),
    )
    save_model(card.path, module, card)
    loaded, _ = load_model(card.path)
    table = text_table(PAIRS)
    np.testing.assert_array_equal(loaded.predict(table)["name"], module.predict(table)["name"])
