"""Leaderboard figures: the same results give the same bytes, one colour per method."""

from pathlib import Path

from molbench import plots
from molbench.tasks.base import Curve


def test_figures_are_byte_stable(tmp_path: Path) -> None:
    colours = plots.method_colours([["a", "b"]])
    runs = {"a": [{"1": 0.5, "2": 0.7}], "b": [{"1": 0.2, "2": 0.9}]}
    for name in ("one.svg", "two.svg", "one.png", "two.png"):
        plots.bucket_figure("top1_by_n_edits", runs, colours, tmp_path / name)
    one = (tmp_path / "one.svg").read_bytes()
    assert one == (tmp_path / "two.svg").read_bytes()
    assert b"<dc:date>" not in one and b"top1 by n edits" in one  # no date; text kept as text
    png = (tmp_path / "one.png").read_bytes()
    assert png == (tmp_path / "two.png").read_bytes() and b"Software" not in png


def test_method_colours_never_repeat_on_a_page_and_hold_across_pages() -> None:
    pages = [[f"m{i}" for i in range(12)], ["m0", "m11", "x", "y"]]
    colours = plots.method_colours(pages)
    for page in pages:
        assert len({colours[m] for m in page}) == len(page)
    assert colours == plots.method_colours(list(reversed(pages)))


def test_section_figure_takes_metrics_beyond_one_and_runs_without_curves(tmp_path: Path) -> None:
    colours = plots.method_colours([["a", "b"]])
    bars = [("a", [3.0, 5.0]), ("b", [1.5])]  # e.g. an edit distance, not a fraction
    plots.section_figure("t", "levenshtein", bars, {}, colours, tmp_path / "bars.png")
    curve = Curve("acc by size", "carbons", {"17": 0.9, "18": 0.8}, train_up_to=16)
    curves = {"a": [curve, curve]}
    plots.section_figure("t", "accuracy", [("a", [0.9, 0.8])], curves, colours, tmp_path / "c.svg")
    assert (tmp_path / "bars.png").read_bytes()[:4] == b"\x89PNG"
    assert b"train \xe2\x89\xa4 16" in (tmp_path / "c.svg").read_bytes()  # the OOD boundary
