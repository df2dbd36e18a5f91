"""Names as morphemes: lossless, fewest tokens, one id per morpheme wherever it appears."""

import pytest

pytest.importorskip("torch")

from molbench.nn.name_morphemes import (
    MAX_NUMBER,
    MORPHEMES,
    VOCABULARY_SIZE,
    morpheme_ids,
    morphemes,
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
