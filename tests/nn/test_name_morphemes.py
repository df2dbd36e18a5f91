"""Names as morphemes: lossless, fewest tokens, one id per morpheme wherever it appears."""

import pytest

pytest.importorskip("torch")

import torch

from molbench.nn.name_morphemes import (
    MAX_NUMBER,
    MORPHEMES,
    NUMERAL_VALUES,
    VALUE_FEATURES,
    VOCABULARY_SIZE,
    morpheme_ids,
    morphemes,
    value_features,
)


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("nona-1,3,5,6,7-pentaene", "nona - 1 , 3 , 5 , 6 , 7 - penta ene"),
        ("decane", "dec ane"),  # not deca + n + e: the fewest tokens
        ("2-methylpropan-2-yl", "2 - meth yl prop an - 2 - yl"),
        (
            "4-ethenylidene-10-methylundec-1-ene",
            "4 - eth en ylidene - 10 - meth yl un dec - 1 - ene",
        ),
        ("tert-butyl", "tert - but yl"),
        ("henicosane", "hen icos ane"),
        ("xq-1", "x q - 1"),  # letters no morpheme covers: single characters
    ],
)
def test_names_split_into_their_morphemes(name: str, want: str) -> None:
    assert morphemes(name) == want.split()
    assert "".join(morphemes(name)) == name


def test_ids_share_a_morpheme_and_tell_locants_apart() -> None:
    ids = morpheme_ids(["nona-1,3,5,6,7-pentaene", "nona-1,3,4,6,7-pentaene", "pentane"], 16)
    a, b, c = ids.tolist()
    assert a[0] == b[0] and a[-2:] == b[-2:] == [0, 0]  # same stem; padded to 16
    assert [x != y for x, y in zip(a, b, strict=True)].count(True) == 1  # the one locant
    assert a[12] != c[0]  # penta (a multiplier) is not pent (a stem)
    assert a.count(0) == 2 and max(a) < VOCABULARY_SIZE  # padding only where the name ends


def test_ids_are_cut_capped_and_in_range() -> None:
    ids = morpheme_ids([f"{MAX_NUMBER + 50}-é" + "meth" * 10, ""], 6)
    assert ids[0, 3:].tolist() == [ids[0, 3].item()] * 3 and ids[1].tolist() == [0] * 6
    assert ids[0, 2] == VOCABULARY_SIZE - 1  # any non-ASCII character: the last id
    other, delete = morpheme_ids(["é", "\x7f"], 1).tolist()
    assert other != delete
    assert morpheme_ids(["9" * 5000], 1).tolist() == morpheme_ids([str(MAX_NUMBER)], 1).tolist()
    big, small = morpheme_ids([f"{MAX_NUMBER + 50}", f"{MAX_NUMBER}"], 1).tolist()
    assert big == small  # larger numbers share the last number id
    assert int(ids.max()) < VOCABULARY_SIZE and len(set(MORPHEMES)) == len(MORPHEMES)


def test_value_features_say_what_a_numeral_counts_whatever_its_spelling() -> None:
    table = value_features()
    assert table.shape == (VOCABULARY_SIZE, VALUE_FEATURES)
    but, buta, tetra, four, five = morpheme_ids(["but", "buta", "tetra", "4", "5"], 1)[:, 0]
    assert torch.equal(table[but, 2:], table[tetra, 2:])  # the stem and the multiplier
    assert torch.equal(table[buta, 2:], table[four, 2:])  # and the locant: all mean 4
    assert table[but, 0] == 1 and table[but, 1] == 0  # a numeral morpheme, not a locant
    assert table[four, 0] == 0 and table[four, 1] == 1  # a locant number
    assert table[five, 2] > table[four, 2] > table[morpheme_ids(["prop"], 1)[0, 0], 2]
    icosa, deca = morpheme_ids(["icosa", "deca"], 1)[:, 0]
    assert (table[icosa, 2], table[deca, 2]) == (2.0, 1.0)
    assert set(NUMERAL_VALUES) <= set(MORPHEMES)
    others = morpheme_ids(["ane", "yl", "-", ",", "(", "x"], 1)[:, 0]
    assert table[others].abs().sum() == 0 and table[0].abs().sum() == 0  # padding too
    big = morpheme_ids([str(MAX_NUMBER)], 1)[0, 0]
    assert table[big, 2:].sum() == MAX_NUMBER / 10  # beyond the one-hot: the scaled value only
