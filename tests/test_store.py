import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import molbench
from molbench import store
from molbench.errors import BuildConflictError, DatasetNotFoundError, IntegrityError


def copy_build(result: molbench.BuildResult, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(result.path, target)
    return target


def first_parquet(path: Path) -> Path:
    return sorted(path.glob("*/*.parquet"))[0]


def test_resolve_root_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert store.resolve_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.setenv("MOLBENCH_HOME", str(tmp_path / "home"))
    assert store.resolve_root() == tmp_path / "home"
    monkeypatch.delenv("MOLBENCH_HOME")
    assert store.resolve_root() == Path.home() / ".cache" / "molbench"


def test_verify_passes_on_an_intact_build(small_build: molbench.BuildResult) -> None:
    report = store.verify(small_build.path, deep=True)
    assert report.files_checked == len(small_build.manifest["files"])
    assert report.content_hash == small_build.manifest["content_hash"]


def test_one_changed_byte_fails_verification(small_build, tmp_path: Path) -> None:
    path = copy_build(small_build, tmp_path)
    target = first_parquet(path)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256 differs"):
        store.verify(path)
    with pytest.raises(IntegrityError):
        molbench.open_dataset(path)


def test_truncated_missing_and_extra_files_fail_verification(small_build, tmp_path) -> None:
    path = copy_build(small_build, tmp_path)
    files = sorted(path.glob("*/*.parquet"))
    files[0].write_bytes(files[0].read_bytes()[:-10])
    files[1].unlink()
    (path / "random" / "train-00001-of-00002.parquet").write_bytes(b"PAR1")
    with pytest.raises(IntegrityError) as caught:
        store.verify(path)
    message = str(caught.value)
    assert "bytes, expected" in message and "missing" in message


def test_verify_reports_an_unrecorded_parquet_file(small_build, tmp_path) -> None:
    path = copy_build(small_build, tmp_path)
    (path / "random" / "extra.parquet").write_bytes(b"PAR1")
    with pytest.raises(IntegrityError, match="not in the manifest"):
        store.verify(path)


def test_deep_verify_catches_a_manifest_whose_hash_was_edited(small_build, tmp_path) -> None:
    path = copy_build(small_build, tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["content_hash"] = "sha256:" + "0" * 64
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="does not match its digest"):
        store.verify(path)
    # forged consistently (every hash, files hash and digest recomputed): only --deep sees it
    fake = "sha256:" + "0" * 64
    manifest["groups"]["default"]["content_hash"] = fake
    for config in manifest["configs"].values():
        config["content_hash"] = fake
    store.write_manifest(path, manifest)
    store.verify(path)
    with pytest.raises(IntegrityError, match="content hash"):
        store.verify(path, deep=True)


def test_not_a_build_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="not a directory"):
        store.read_manifest(tmp_path / "nope")
    with pytest.raises(DatasetNotFoundError, match=r"no manifest\.json"):
        store.read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(IntegrityError, match="not valid JSON"):
        store.read_manifest(tmp_path)


def test_content_hash_covers_data_and_split_assignment() -> None:
    table = pa.table({"id": [2, 0, 1], "x": ["b", "z", "a"]})
    split = {"c": {"train": np.array([0, 1]), "test": np.array([2])}}
    base = store.content_hash(table, split)
    assert (
        store.content_hash(
            table.take([1, 2, 0]), {"c": {"train": np.array([2, 0]), "test": np.array([1])}}
        )
        == base
    )
    moved = {"c": {"train": np.array([0]), "test": np.array([1, 2])}}
    assert store.content_hash(table, moved) != base
    changed = table.set_column(1, "x", pa.array(["b", "z", "A"]))
    assert store.content_hash(changed, split) != base


def test_staging_is_removed_when_the_build_fails(tmp_path: Path) -> None:
    final = tmp_path / "ds" / "1.0.0"
    with pytest.raises(RuntimeError), store.staging_dir(final) as staging:
        (staging / "half.parquet").write_bytes(b"half")
        raise RuntimeError("killed")
    assert not final.exists()
    assert list(final.parent.iterdir()) == []


def test_publish_replaces_only_when_asked(tmp_path: Path) -> None:
    final = tmp_path / "ds" / "1.0.0"
    for content, replace in (("old", False), ("new", True)):
        with store.staging_dir(final) as staging:
            (staging / "f").write_text(content)
            store.publish(staging, final, replace=replace)
    assert (final / "f").read_text() == "new"
    with store.staging_dir(final) as staging, pytest.raises(BuildConflictError):
        store.publish(staging, final, replace=False)
    assert sorted(p.name for p in final.parent.iterdir()) == ["1.0.0"]


def test_leftovers_of_dead_builds_are_cleaned(tmp_path: Path) -> None:
    final = tmp_path / "ds" / "1.0.0"
    final.parent.mkdir(parents=True)
    dead = final.parent / f".1.0.0.incomplete-{2**22 + 12345}-abcd"
    alive = final.parent / f".1.0.0.incomplete-{os.getpid()}-abcd"
    dead.mkdir()
    alive.mkdir()
    with store.staging_dir(final):
        pass
    assert not dead.exists() and alive.exists()


def test_list_builds_finds_complete_builds_only(small_build, tmp_path) -> None:
    root = small_build.path.parent.parent
    builds = store.list_builds(root)
    assert [(b["name"], b["version"]) for b in builds] == [("validity", "1.0.0")]
    assert store.list_builds(tmp_path) == []
