"""Paired tests on hand-made rows: no difference gives p = 1, a clear winner p near 0."""

import numpy as np
import pytest

from molbench.stats import mcnemar, paired_bootstrap

RNG = np.random.default_rng(7)
A = RNG.integers(0, 2, size=500)


@pytest.mark.parametrize("test", [mcnemar, paired_bootstrap])
def test_identical_predictions_are_no_evidence(test) -> None:
    result = test(A, A.copy())
    assert result.difference == 0.0
    assert result.p_greater == 1.0 and result.p_two_sided == 1.0


@pytest.mark.parametrize("test", [mcnemar, paired_bootstrap])
def test_right_on_every_row_the_other_misses_is_significant(test) -> None:
    better = np.ones_like(A)  # right wherever A is, and on every row A misses
    result = test(better, A)
    assert result.difference == pytest.approx(1 - A.mean())
    assert result.p_greater < 1e-3 and result.p_two_sided < 1e-3
    assert test(A, better).p_greater > 0.999  # the other way round: no evidence at all


def test_mcnemar_is_the_exact_binomial_tail_for_few_discordant_rows() -> None:
    a = np.array([1, 1, 1, 1, 1, 0, 1, 0])
    b = np.array([0, 0, 0, 0, 0, 0, 1, 0])  # 5 rows only a got right, none only b
    result = mcnemar(a, b)
    assert result.p_greater == pytest.approx(0.5**5)  # all 5 discordant rows go to a
    assert result.p_two_sided == pytest.approx(2 * 0.5**5)
    assert result.detail == "5 rows only A got right, 0 only B"
    one_each = mcnemar(np.array([1, 0]), np.array([0, 1]))
    assert one_each.p_greater == pytest.approx(0.75) and one_each.p_two_sided == 1.0


def test_bootstrap_is_seeded_and_its_interval_holds_the_difference() -> None:
    a, b = RNG.random(300), RNG.random(300)
    first, again = paired_bootstrap(a, b, seed=3), paired_bootstrap(a, b, seed=3)
    assert first == again
    assert first.ci95[0] < first.difference < first.ci95[1]
    assert 0.0 < first.p_greater < 1.0


def test_bootstrap_matches_resampling_rows() -> None:
    """The multinomial shortcut has the distribution of resampling rows with replacement."""
    a, b = RNG.random(200), RNG.random(200)
    d = a - b
    rng = np.random.default_rng(0)
    direct = d[rng.integers(0, len(d), size=(4000, len(d)))].mean(axis=1)
    shortcut = paired_bootstrap(a, b, seed=1, resamples=4000)
    assert shortcut.ci95 == pytest.approx(tuple(np.quantile(direct, [0.025, 0.975])), abs=0.01)


def test_refuses_unpaired_or_non_binary_rows() -> None:
    with pytest.raises(ValueError, match="equal"):
        paired_bootstrap(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="0/1"):
        mcnemar(np.array([0.5, 1.0]), np.array([1.0, 1.0]))
