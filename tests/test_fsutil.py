"""Atomic JSON writes: same data back, lists of numbers kept on one line."""

import json
import math
from pathlib import Path

from molbench.fsutil import dumps_json, write_json


def test_number_lists_are_one_line_and_read_back_the_same(tmp_path: Path) -> None:
    data = {
        "per_row": {"n": 3, "accuracy": [1, 0, 1], "mrr": [0.5, 1e-05, -2.0]},
        "names": ["a, b", "[1,\\n 2]"],  # strings stay one per line, untouched
        "nested": [[1, 2], {"x": [True, None]}],
        "empty": [],
        "nan": [math.nan],
    }
    text = dumps_json(data)
    assert '"accuracy": [1, 0, 1]' in text and '"mrr": [0.5, 1e-05, -2.0]' in text
    assert '"x": [true, null]' in text and '"names": [\n' in text
    path = tmp_path / "r.json"
    write_json(path, data)
    back = json.loads(path.read_text())
    assert back["per_row"] == data["per_row"] and back["names"] == data["names"]
    assert back["nested"] == data["nested"] and back["empty"] == [] and math.isnan(back["nan"][0])
    assert not (tmp_path / "r.json.tmp").exists()
