import numpy as np

from molbench.shortcuts import (
    bag_of_characters,
    fit_logistic_regression,
    length_only,
    majority_class,
    shortcut_report,
    unsaturation_rule,
)


def test_majority_class_predicts_the_most_common_training_label() -> None:
    assert majority_class(np.array([1, 1, 0]), 3).tolist() == [1, 1, 1]
    assert majority_class(np.array([1, 0]), 1).tolist() == [0]  # tie: the smaller label


def test_length_only_learns_a_length_rule_and_nothing_else() -> None:
    train = ["aa", "bb", "ccc", "ddd"]
    y = np.array([0, 0, 1, 1])
    assert length_only(train, y, ["xx", "yyy", "zzzz"]).tolist() == [0, 1, 0]
    # same lengths, opposite labels: one prediction for both
    assert len(set(length_only(["ab", "ba"], np.array([0, 1]), ["ab", "ba"]).tolist())) == 1


def test_bag_of_characters_solves_a_character_count_task() -> None:
    train = ["xa", "xb", "ya", "yb", "xab", "yab"]
    y = np.array([1, 1, 0, 0, 1, 0])
    probabilities = bag_of_characters(train, y, ["xbb", "ybb"])
    assert probabilities[0] > 0.5 > probabilities[1]


def test_unsaturation_rule_reads_the_formula_identity() -> None:
    formulas = ["CH4", "C2H4", "C2H7", "C4H8", "C4H8", "C"]
    doubles = np.array([0, 1, 0, 1, 0, 0])
    assert unsaturation_rule(formulas, doubles).tolist() == [1, 1, 0, 1, 0, 0]


def test_logistic_regression_matches_a_hand_computed_optimum() -> None:
    # one feature, symmetric data: the optimum has zero bias and positive slope
    x = np.array([[-2.0], [-1.0], [1.0], [2.0], [-0.5], [0.5]])
    y = np.array([0, 0, 1, 1, 1, 0])
    w = fit_logistic_regression(x, y, l2=0.0)
    assert abs(w[1]) < 1e-6 and w[0] > 0


def test_shortcut_report_names_all_three_baselines() -> None:
    text = ["CH4", "CH5", "CH3CH3", "CH4CH3"] * 5
    labels = np.array([1, 0, 1, 0] * 5)
    report = shortcut_report(text, labels, np.arange(12), np.arange(12, 20))
    assert set(report) == {"majority_class", "length_only", "bag_of_characters_logreg"}
    assert report["bag_of_characters_logreg"] == 1.0  # '5' and odd H give these away


def test_character_counts_are_the_per_character_tally() -> None:
    """The vectorised counts equal counting one character at a time, unicode included."""
    from molbench.shortcuts import _char_counts

    texts = ["CH3CH(CH3)2", "", "héllo✓", "CH4CH3", "zz"]
    alphabet = ["(", "2", "=", "C", "H", "é", "✓"]  # 'z' and others are not in it
    tally = np.array([[t.count(c) for c in alphabet] for t in texts], dtype=float)
    assert np.array_equal(_char_counts(texts, alphabet), tally)
    assert np.array_equal(_char_counts(texts, alphabet[::-1]), tally[:, ::-1])
    assert _char_counts([], alphabet).shape == (0, len(alphabet))
