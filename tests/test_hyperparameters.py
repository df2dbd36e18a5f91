"""Hyperparameter schemas: a card's fields are checked, nested components by their own schema."""

import pytest

from molbench.errors import ModelFormatError
from molbench.hyperparameters import Choice, Int, Nested, check_hyperparameters

INNER = {"width": Int(1, 64), "kind": Choice(("a", "b"))}
OUTER = {"part": Nested(INNER), "k": Int(1, 10)}


def test_a_nested_component_is_checked_by_its_own_schema() -> None:
    good = {"part": {"width": 8, "kind": "a", "training": {"seed": 0}}, "k": 3}
    check_hyperparameters(OUTER, good, "card")
    bad = {"part": {"width": 10**9, "colour": "red"}, "k": 3}
    with pytest.raises(ModelFormatError) as e:
        check_hyperparameters(OUTER, bad, "card")
    message = str(e.value)
    assert "part (width must be in 1..64, got 1000000000; kind is missing;" in message
    assert "unknown field(s) 'colour')" in message
    with pytest.raises(ModelFormatError, match="part must be a mapping"):
        check_hyperparameters(OUTER, {"part": 3, "k": 3}, "card")
