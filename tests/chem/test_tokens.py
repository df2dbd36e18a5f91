import hashlib
import importlib.util
import json
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from molbench.chem import tokens
from molbench.chem.generate import all_isomers, corruptions
from molbench.chem.notation import write
from molbench.chem.tokens import (
    SMILES_REGEX,
    SPECIALS,
    VOCAB_SHA256,
    VOCAB_VERSION,
    Vocabulary,
    load_vocabulary,
    tokenize,
)
from molbench.errors import IntegrityError

VOCAB_BYTES = (files("molbench") / "data" / "smiles_vocab_v1.json").read_bytes()
TOOL = Path(__file__).resolve().parents[2] / "tools" / "make_vocab.py"

TRICKY = [
    "ClCCBr",
    "CCl",
    "BrC(Br)Br",
    "C%10CCCCC%10",
    "C12CC3CC(C1)CC(C3)C2",
    "[13CH3]C(=O)[O-]",
    "[NH4+].[Cl-]",
    "[Fe+2]",
    "C/C=C\\C",
    "F/C=C/F",
    "N[C@@H](C)C(=O)O",
    "C[C@]12CCC(=O)C=C1",
    "Sc1ccccc1",
    "c1cc[nH]c1",
    "O=[N+]([O-])c1ccc(S(=O)(=O)Cl)cc1",
    "[2H]C([2H])([2H])I",
    "*c1ccccc1",
    "C#N",
    "CC(=O)O.OCC>>CC(=O)OCC",
    "CCO>[Na+].[OH-]>CC[O-]",
    "[CH3][CH4]",
]


@pytest.mark.parametrize("smiles", TRICKY)
def test_tokenize_is_lossless(smiles: str) -> None:
    assert "".join(tokenize(smiles)) == smiles


@pytest.mark.parametrize(
    ("smiles", "expected"),
    [
        ("ClCCBr", ["Cl", "C", "C", "Br"]),
        ("CCl", ["C", "Cl"]),
        ("Sc1", ["S", "c", "1"]),  # sulfur + aromatic carbon, not scandium
        ("[Sc+3]", ["[Sc+3]"]),
        ("C%10C%10", ["C", "%10", "C", "%10"]),
        ("C12", ["C", "1", "2"]),
        ("[13CH3][C@@H]", ["[13CH3]", "[C@@H]"]),
        ("C/C=C\\C", ["C", "/", "C", "=", "C", "\\", "C"]),
        ("C>>O", ["C", ">", ">", "O"]),
        ("C.O", ["C", ".", "O"]),
        ("", []),
    ],
)
def test_tokenize_splits_as_the_molecular_transformer(smiles: str, expected: list[str]) -> None:
    assert tokenize(smiles) == expected


@pytest.mark.parametrize(
    ("smiles", "position"),
    [("CCX", 2), ("C C", 1), ("CH4", 1), ("C[CH3", 1), ("Cl%1C", 2)],
)
def test_tokenize_names_the_first_uncovered_position(smiles: str, position: int) -> None:
    with pytest.raises(ValueError, match=f"at position {position} "):
        tokenize(smiles)


def test_special_ids_are_fixed() -> None:
    vocab = load_vocabulary()
    assert vocab.tokens[: len(SPECIALS)] == SPECIALS
    ids = (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id, vocab.sep_id, vocab.mask_id)
    assert ids == (0, 1, 2, 3, 4, 5)


@pytest.mark.parametrize("smiles", TRICKY)
def test_decode_inverts_encode(smiles: str) -> None:
    vocab = load_vocabulary()
    ids = vocab.encode(smiles)
    assert vocab.n_unknown(ids) == 0
    assert ids[0] == vocab.bos_id and ids[-1] == vocab.eos_id
    assert vocab.decode(ids) == smiles
    assert vocab.decode(vocab.encode(smiles, add_bos_eos=False)) == smiles


def test_encode_counts_unknown_tokens() -> None:
    vocab = load_vocabulary()
    ids = vocab.encode("C[Xx]C[Yy+]", add_bos_eos=False)
    assert vocab.n_unknown(ids) == 2
    assert ids == [vocab.index["C"], vocab.unk_id, vocab.index["C"], vocab.unk_id]
    assert vocab.encode(["C", "[Xx]"], add_bos_eos=False) == [vocab.index["C"], vocab.unk_id]


def test_decode_drops_specials_and_stops_at_eos() -> None:
    vocab = load_vocabulary()
    c, o = vocab.index["C"], vocab.index["O"]
    ids = [vocab.bos_id, c, vocab.pad_id, vocab.unk_id, o, vocab.eos_id, c, c]
    assert vocab.decode(ids) == "CO"
    with pytest.raises(ValueError, match="outside"):
        vocab.decode([c, len(vocab)])
    with pytest.raises(ValueError, match="outside"):
        vocab.decode([-1])


def test_vocabulary_rejects_missing_specials_and_repeats() -> None:
    with pytest.raises(ValueError, match="start with"):
        Vocabulary(("C", *SPECIALS))
    with pytest.raises(ValueError, match="repeat"):
        Vocabulary((*SPECIALS, "C", "C"))


def test_vocab_file_is_pinned_by_sha256() -> None:
    # Any edit to the file must come with a new VOCAB_VERSION and a new pinned hash.
    assert hashlib.sha256(VOCAB_BYTES).hexdigest() == VOCAB_SHA256


def test_load_vocabulary_rejects_a_changed_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tokens._VOCAB_FILES, VOCAB_VERSION, ("smiles_vocab_v1.json", "0" * 64))
    with pytest.raises(IntegrityError, match="edited"):
        load_vocabulary.__wrapped__(VOCAB_VERSION)
    with pytest.raises(ValueError, match="unknown vocabulary version"):
        load_vocabulary("0")


def test_vocab_file_content() -> None:
    data = json.loads(VOCAB_BYTES)
    assert (data["format"], data["version"], data["name"]) == (1, "1", "molbench-smiles-v1")
    assert data["regex"] == SMILES_REGEX
    assert data["specials"] == list(SPECIALS) == data["tokens"][: len(SPECIALS)]
    rest = data["tokens"][len(SPECIALS) :]
    assert rest == sorted(set(rest))  # unique, in the documented order
    assert len(data["tokens"]) < 2000
    assert load_vocabulary().tokens == tuple(data["tokens"])
    assert {s["name"] for s in data["built_from"]["sources"]} >= {
        "uspto_mit/valid",
        "uspto_mit/test",
        "uspto_15k/train",
        "chebi20/train",
    }


def test_vocab_has_the_base_tokens() -> None:
    vocab = load_vocabulary()
    base = [*"BCNOPSFIbcnops", "Cl", "Br", *"-=#:/\\().>*", "[nH]", "[C@@H]", "[NH4+]"]
    base += [str(d) for d in range(10)] + [f"%{d}" for d in range(10, 100)]
    base += [f"[CH{h}]" for h in range(2, 7)] + ["[C]", "[CH]"]
    assert [t for t in base if t not in vocab.index] == []


def test_hydrocarbon_validity_smiles_are_covered() -> None:
    vocab = load_vocabulary()
    for n in range(1, 6):
        for mol in all_isomers(n):
            for variant in [mol] + [v for vs in corruptions(mol).values() for v in vs]:
                smiles = write(variant).smiles
                assert vocab.n_unknown(vocab.encode(smiles)) == 0, smiles


@pytest.fixture(scope="module")
def make_vocab():
    spec = importlib.util.spec_from_file_location("make_vocab", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_vocab"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules["make_vocab"]


def test_vocab_file_holds_the_tool_base_set(make_vocab) -> None:
    vocab = load_vocabulary()
    assert make_vocab.base_tokens() <= set(vocab.tokens)
    assert json.loads(VOCAB_BYTES)["built_from"]["min_count"] == make_vocab.MIN_COUNT


def test_tool_removes_atom_maps_and_canonicalises(make_vocab) -> None:
    mapped = (
        "[CH3:15][C:16](=[O:17])[CH3:18].[CH3:3][O:4][c:5]1[cH:6][cH:7][c:8]([S:11](=[O:12])"
        "(=[O:13])[Cl:14])[cH:9][cH:10]1.[I-:1].[Na+:2]>>[CH3:3][O:4][c:5]1[cH:6][cH:7][c:8]"
        "([S:11](=[O:12])[O-:13])[cH:9][cH:10]1.[Na+:2]"
    )
    smiles, unsanitized = make_vocab.canonical_reaction(mapped)
    assert not unsanitized
    assert smiles == "CC(C)=O.COc1ccc(S(=O)(=O)Cl)cc1.[I-].[Na+]>>COc1ccc(S(=O)[O-])cc1.[Na+]"
    vocabulary = load_vocabulary()
    assert vocabulary.n_unknown(vocabulary.encode(smiles)) == 0


def test_tool_unescapes_chebi_backslashes(make_vocab) -> None:
    source = make_vocab.Source("chebi", "x.gz", "", "", "molecules")
    text = "CID\tSMILES\tdescription\n1\tC/C=C\\\\C\tThe molecule ...\n"
    assert list(make_vocab.records(text, source)) == ["C/C=C\\C"]
