"""The manifest's own checks, as pure functions over a small hand-made manifest."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from molbench import manifest
from molbench.manifest import manifest_digest, seal, structure_problem

SHA = "a" * 64


def small() -> dict[str, Any]:
    """One group, one config, two splits of one shard each: a sealed, sound manifest."""
    files = {
        "c/train-00000-of-00001.parquet": {"sha256": SHA, "bytes": 10},
        "c/test-00000-of-00001.parquet": {"sha256": "b" * 64, "bytes": 8},
        "README.md": {"sha256": "c" * 64, "bytes": 5},
    }
    return seal(
        {
            "format": 3,
            "name": "toy",
            "version": "1.0.0",
            "content_hash": "sha256:" + "d" * 64,
            "groups": {
                "g": {
                    "configs": ["c"],
                    "content_hash": "sha256:" + "d" * 64,
                    "rows": 5,
                    "counts": {"by_size": {1: 2, 10: 3, 2: 0}},  # int keys, as builders write
                }
            },
            "configs": {
                "c": {
                    "group": "g",
                    "content_hash": "sha256:" + "d" * 64,
                    "splits": {
                        "train": {"rows": 3, "files": ["c/train-00000-of-00001.parquet"]},
                        "test": {"rows": 2, "files": ["c/test-00000-of-00001.parquet"]},
                    },
                }
            },
            "files": files,
        }
    )


def test_the_digest_survives_the_json_round_trip_and_key_order() -> None:
    m = small()
    reread = json.loads(json.dumps(m, indent=2))
    assert manifest_digest(reread) == m["digest"]
    reordered = dict(reversed(list(reread.items())))
    assert manifest_digest(reordered) == m["digest"]
    assert seal(reread) == reread  # sealing a sealed manifest changes nothing


def test_any_edit_changes_the_digest() -> None:
    m = small()
    edited = copy.deepcopy(m)
    edited["groups"]["g"]["counts"]["by_size"]["1"] = 3
    assert manifest_digest(edited) != m["digest"]


def test_a_sound_manifest_has_no_structure_problem() -> None:
    assert structure_problem(small()) is None


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../../x.parquet", "leaves the build directory"),
        ("/tmp/x.parquet", "absolute"),
        ("c/./x.parquet", "leaves the build directory"),
        ("c/sub/x.parquet", "not in a build's layout"),
        ("other/x.parquet", "not in a build's layout"),
        ("c/x.txt", "not in a build's layout"),
    ],
)
def test_paths_outside_the_layout_are_problems(path: str, problem: str) -> None:
    m = small()
    m["files"][path] = {"sha256": SHA, "bytes": 1}
    assert problem in structure_problem(seal(m))


def test_split_lists_that_disagree_with_the_files_hash_are_a_problem() -> None:
    m = small()
    splits = m["configs"]["c"]["splits"]
    splits["train"]["files"], splits["test"]["files"] = (
        splits["test"]["files"],
        splits["train"]["files"],
    )
    assert "files hash" in structure_problem(m)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["configs"]["c"]["splits"]["train"].update(rows=4),
        lambda m: m.update(content_hash="sha256:" + "e" * 64),
        lambda m: m["groups"]["g"].pop("configs"),
        lambda m: m.update(name="../x"),
    ],
)
def test_inconsistent_manifests_are_problems_not_exceptions(change) -> None:
    m = small()
    change(m)
    assert structure_problem(seal(m)) is not None


def test_names_with_separators_are_not_plain() -> None:
    assert manifest.is_plain("uspto_15k") and manifest.is_plain("1.0.0")
    assert not any(manifest.is_plain(n) for n in ("../x", "a/b", "", ".hidden", 3))
