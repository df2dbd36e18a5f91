import numpy as np

from molbench.shortcuts import (
    bag_of_characters,
    fit_logistic_regression,
    length_only,
    majority_class,
    shortcut_report,
)


def test_majority_class_predicts_the_most_common_training_label() -> None:
    assert majority_class(np.array([1, 1, 0]), np.array([1, 0, 0, 0])) == 0.25


def test_length_only_learns_a_length_rule_and_nothing_else() -> None:
    train = ["aa", "bb", "ccc", "ddd"]
    y = np.array([0, 0, 1, 1])
    assert length_only(train, y, ["xx", "yyy"], np.array([0, 1])) == 1.0
    # same lengths, opposite labels: no length rule can separate them
    assert length_only(["ab", "ba"], np.array([0, 1]), ["ab", "ba"], np.array([0, 1])) == 0.5


def test_bag_of_characters_solves_a_character_count_task() -> None:
    train = ["xa", "xb", "ya", "yb", "xab", "yab"]
    y = np.array([1, 1, 0, 0, 1, 0])
    assert bag_of_characters(train, y, ["xbb", "ybb"], np.array([1, 0])) == 1.0


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
