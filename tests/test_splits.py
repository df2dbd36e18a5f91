import numpy as np
import pytest

from molbench.errors import BuildError
from molbench.splits import (
    check_split,
    duplicated_structures,
    grouped_random_split,
    shared_structures,
    threshold_split,
)


def groups_of(split: dict[str, np.ndarray], groups: np.ndarray) -> dict[str, set[int]]:
    return {name: set(groups[idx].tolist()) for name, idx in split.items()}


def test_grouped_split_keeps_groups_whole_and_hits_fractions() -> None:
    groups = np.repeat(np.arange(1000), 2)
    split = grouped_random_split(groups, (0.8, 0.1, 0.1), seed=3)
    sizes = {k: len(v) for k, v in split.items()}
    assert sizes == {"train": 1600, "validation": 200, "test": 200}
    g = groups_of(split, groups)
    assert not (
        g["train"] & g["validation"] or g["train"] & g["test"] or g["validation"] & g["test"]
    )
    check_split(split, len(groups))


def test_grouped_split_is_a_pure_function_of_the_seed() -> None:
    groups = np.arange(500) // 3
    a = grouped_random_split(groups, (0.8, 0.1, 0.1), seed=1)
    b = grouped_random_split(groups, (0.8, 0.1, 0.1), seed=1)
    c = grouped_random_split(groups, (0.8, 0.1, 0.1), seed=2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])


def test_grouped_split_rejects_fractions_that_do_not_sum_to_one() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        grouped_random_split(np.arange(10), (0.8, 0.1, 0.2), seed=0)


def test_threshold_split_puts_only_large_values_in_test() -> None:
    values = np.arange(100) % 10
    groups = np.arange(100)
    split = threshold_split(values, 6, groups, validation_fraction=0.1, seed=0)
    assert (values[split["test"]] > 6).all()
    assert (values[split["train"]] <= 6).all() and (values[split["validation"]] <= 6).all()
    assert len(split["test"]) == 30 and len(split["validation"]) == 7
    check_split(split, 100)


def test_threshold_split_refuses_groups_that_straddle() -> None:
    with pytest.raises(ValueError, match="straddle"):
        threshold_split(np.array([1, 9]), 5, np.array([0, 0]), 0.1, seed=0)


def test_check_split_rejects_empty_overlapping_and_missing_rows() -> None:
    with pytest.raises(BuildError, match="empty"):
        check_split({"train": np.array([0, 1]), "test": np.array([], dtype=int)}, 2)
    with pytest.raises(BuildError, match="more than one"):
        check_split({"train": np.array([0, 1]), "test": np.array([1])}, 2)
    with pytest.raises(BuildError, match="no split"):
        check_split({"train": np.array([0]), "test": np.array([1])}, 3)


def test_shared_structures_counts_distinct_keys_per_pair() -> None:
    keys = np.array(["a", "b", "a", "c", "c", "c"], dtype=object)
    split = {"train": np.array([0, 1, 3]), "validation": np.array([2]), "test": np.array([4, 5])}
    assert shared_structures(keys, split) == {
        "train/validation": 1,
        "train/test": 1,
        "validation/test": 0,
    }
    assert duplicated_structures(keys) == 3


def test_merged_groups_joins_rows_that_share_any_key() -> None:
    from molbench.splits import merged_groups

    scaffold = np.array(["a", "b", "c", "a", "d"], dtype=object)
    inchikey = np.array(["X", "Y", "Y", "Z", "W"], dtype=object)
    groups = merged_groups(scaffold, inchikey)
    assert groups[0] == groups[3]  # same scaffold
    assert groups[1] == groups[2]  # same structure, different scaffolds
    assert len({groups[0], groups[1], groups[4]}) == 3
