"""Attacks on built dataset directories (issue 18): each tampering class is refused on every
load path (verify, open_dataset, list, info, a skipped build, Hugging Face loading), in one
line, and never read as if it were the build."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import molbench
from molbench import store
from molbench.cli import main
from molbench.errors import IntegrityError
from molbench.manifest import manifest_digest

from .conftest import SMALL

Manifest = dict[str, Any]
TRAIN = "random/train-00000-of-00001.parquet"
TEST = "random/test-00000-of-00001.parquet"
VALIDATION = "random/validation-00000-of-00001.parquet"


def copy_build(small_build: molbench.BuildResult, tmp_path: Path) -> Path:
    """A private copy in the root layout (``<root>/validity/1.0.0``)."""
    target = tmp_path / "root" / "validity" / "1.0.0"
    shutil.copytree(small_build.path, target)
    return target


def edit(path: Path, change: Callable[[Manifest], None]) -> None:
    """Edit manifest.json by hand, as a user or a script would."""
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))


def forge(path: Path, change: Callable[[Manifest], None]) -> None:
    """Edit manifest.json and reseal it with molbench's own writer (digest recomputed)."""
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    store.write_manifest(path, manifest)


def assert_refused(path: Path, match: str | None = None) -> None:
    """Every reader refuses the directory, with one line saying why."""
    with pytest.raises(IntegrityError, match=match):
        store.verify(path)
    with pytest.raises(IntegrityError, match=match):
        molbench.open_dataset(path)
    with pytest.raises(IntegrityError, match=match):
        molbench.open_dataset(path, verify_files=False)
    assert store.list_builds(path.parent.parent) == []
    for command in (["info", str(path)], ["verify", "--deep", str(path)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output


def swap_files(path: Path, a: str, b: str) -> None:
    (path / a).rename(path / "tmp")
    (path / b).rename(path / a)
    (path / "tmp").rename(path / b)


def swap_records(manifest: Manifest, a: str, b: str) -> None:
    files = manifest["files"]
    files[a], files[b] = files[b], files[a]


def _rows(m: Manifest) -> None:
    m["configs"]["random"]["splits"]["train"]["rows"] += 1


def _parameters(m: Manifest) -> None:
    m["groups"]["default"]["parameters"]["seed"] = 8


def _audits(m: Manifest) -> None:
    m["groups"]["default"]["audits"]["leakage"]["shared_between_splits"]["size_ood"] = {}


def _content_hash(m: Manifest) -> None:
    m["content_hash"] = "sha256:" + "0" * 64


def _counts(m: Manifest) -> None:
    m["groups"]["default"]["counts"]["valid"] = 1


@pytest.mark.parametrize("change", [_rows, _parameters, _audits, _content_hash, _counts])
def test_an_edited_manifest_is_refused_everywhere(small_build, tmp_path, change) -> None:
    path = copy_build(small_build, tmp_path)
    edit(path, change)
    assert_refused(path)


def test_a_manifest_edit_that_keeps_its_digest_still_fails_the_row_counts(
    small_build, tmp_path
) -> None:
    """Resealed (digest and files hash recomputed): the Parquet footers still disagree."""
    path = copy_build(small_build, tmp_path)

    def move_rows(m: Manifest) -> None:
        m["configs"]["random"]["splits"]["train"]["rows"] += 1
        m["configs"]["random"]["splits"]["test"]["rows"] -= 1

    forge(path, move_rows)
    assert_refused(path, "holds 480 rows, the manifest says 481")


def test_swapped_split_files_are_caught_without_deep(small_build, tmp_path) -> None:
    """Files swapped and their sha256 records swapped too: each file matches its entry."""
    path = copy_build(small_build, tmp_path)
    swap_files(path, TRAIN, TEST)
    edit(path, lambda m: swap_records(m, TRAIN, TEST))
    assert_refused(path)


def test_split_lists_relisted_with_a_hand_made_digest_fail_the_files_hash(
    small_build, tmp_path
) -> None:
    """Split lists exchanged and the digest recomputed, the files hash left as it was."""
    path = copy_build(small_build, tmp_path)

    def relist(m: Manifest) -> None:
        splits = m["configs"]["random"]["splits"]
        splits["validation"]["files"], splits["test"]["files"] = [TEST], [VALIDATION]
        m["digest"] = manifest_digest(m)

    edit(path, relist)
    assert_refused(path, "files hash")


def test_a_resealed_swap_of_unequal_splits_fails_cheap_checks_and_hugging_face(
    small_build, tmp_path
) -> None:
    datasets = pytest.importorskip("datasets")
    path = copy_build(small_build, tmp_path)
    swap_files(path, TRAIN, TEST)
    forge(path, lambda m: swap_records(m, TRAIN, TEST))
    assert_refused(path, "holds 60 rows, the manifest says 480")
    with pytest.raises(datasets.exceptions.NonMatchingSplitsSizesError):
        # its own cache: `datasets` fixes its cache folder when first imported, and an
        # earlier test's load of the same rows would be reused instead of checked
        datasets.load_dataset(str(path), "random", cache_dir=str(tmp_path / "hf_cache"))


@pytest.mark.parametrize("absolute", [False, True])
def test_a_path_outside_the_build_is_never_read(small_build, tmp_path, absolute) -> None:
    path = copy_build(small_build, tmp_path)
    outside = tmp_path / "outside.parquet"
    shutil.copy(path / TEST, outside)
    where = str(outside) if absolute else "../../../outside.parquet"

    def point_outside(m: Manifest) -> None:
        m["files"][where] = m["files"].pop(TEST)
        m["configs"]["random"]["splits"]["test"]["files"] = [where]

    forge(path, point_outside)
    (path / TEST).unlink()
    assert_refused(path, "absolute or leaves the build directory")


@pytest.mark.parametrize("stray", ["random/train-00001-of-00002.parquet", "random/extra.jsonl"])
def test_files_the_manifest_does_not_list_are_refused(small_build, tmp_path, stray) -> None:
    path = copy_build(small_build, tmp_path)
    shutil.copy(path / TEST, path / stray)
    assert_refused(path, "not in the manifest")


def test_hugging_face_loading_does_not_pick_up_a_stray_shard(small_build, tmp_path) -> None:
    datasets = pytest.importorskip("datasets")
    path = copy_build(small_build, tmp_path)
    shutil.copy(path / TEST, path / "random" / "train-00001-of-00002.parquet")
    loaded = datasets.load_dataset(str(path), "random")
    assert (
        loaded["train"].num_rows
        == small_build.manifest["configs"]["random"]["splits"]["train"]["rows"]
    )
    assert not set(loaded["train"]["id"]) & set(loaded["test"]["id"])


def test_a_symlinked_file_is_refused(small_build, tmp_path) -> None:
    path = copy_build(small_build, tmp_path)
    elsewhere = tmp_path / "elsewhere.parquet"
    shutil.move(path / TRAIN, elsewhere)
    (path / TRAIN).symlink_to(elsewhere)  # same bytes, same sha256
    assert_refused(path, "is a symlink")


def test_a_symlinked_config_directory_is_refused(small_build, tmp_path) -> None:
    path = copy_build(small_build, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(path / "size_ood", elsewhere)
    (path / "size_ood").symlink_to(elsewhere, target_is_directory=True)
    assert_refused(path, "size_ood is a symlink")


def test_a_symlinked_manifest_is_refused(small_build, tmp_path) -> None:
    path = copy_build(small_build, tmp_path)
    shutil.move(path / "manifest.json", tmp_path / "manifest.json")
    (path / "manifest.json").symlink_to(tmp_path / "manifest.json")
    assert_refused(path, "symlink")


def test_a_symlinked_group_is_not_linked_into_the_next_build(raw_fixtures, tmp_path) -> None:
    """Building another group keeps this one by hard links: never through a symlink."""
    first = molbench.build("reactions", configs=["uspto_15k"], out=tmp_path, source=raw_fixtures)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(first.path / "uspto_15k", elsewhere)
    (first.path / "uspto_15k").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(IntegrityError, match="a symlink"):
        molbench.build("reactions", configs=["uspto_mit"], out=tmp_path, source=raw_fixtures)


def test_a_build_without_a_digest_is_refused_and_rebuilt(small_build, tmp_path) -> None:
    """Format 2 (no digest) cannot be told from an edited manifest: rebuild, not trust."""
    path = copy_build(small_build, tmp_path)

    def older(m: Manifest) -> None:
        m["format"] = 2
        m.pop("digest", None)
        m.pop("files_hash", None)

    edit(path, older)
    with pytest.raises(IntegrityError, match=r"older molbench .* rebuild it"):
        molbench.open_dataset(path)
    rebuilt = molbench.build("validity", SMALL, out=path.parent.parent, workers=1)
    assert not rebuilt.skipped
    assert rebuilt.manifest["content_hash"] == small_build.manifest["content_hash"]
    molbench.open_dataset(path)


def test_a_reader_opened_before_a_forced_rebuild_never_reads_the_new_files(tmp_path) -> None:
    params = {**SMALL, "n_molecules": 200}
    old = molbench.build("validity", params, out=tmp_path, workers=1)
    built = molbench.open_dataset(old.path)
    molbench.build("validity", {**params, "n_molecules": 400}, out=tmp_path, force=True)
    with pytest.raises(IntegrityError, match=r"replaced after .* was opened"):
        built.table("random", "train")
    assert molbench.open_dataset(old.path).table("random", "train").num_rows == 320


def test_a_damaged_build_is_not_already_built(tmp_path) -> None:
    params = {**SMALL, "n_molecules": 100}
    first = molbench.build("validity", params, out=tmp_path, workers=1)
    target = first.path / TRAIN
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size: only a hash tells
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"sha256 differs.*--force"):
        molbench.build("validity", params, out=tmp_path, workers=1)
    result = CliRunner().invoke(main, ["build", "validity", "-q", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "already built" not in result.output


def test_a_damaged_file_opened_without_hashing_is_one_error_not_a_crash(
    small_build, tmp_path
) -> None:
    path = copy_build(small_build, tmp_path)
    built = molbench.open_dataset(path, verify_files=False)
    before = os.stat(path / TRAIN)
    data = bytearray((path / TRAIN).read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    with open(path / TRAIN, "r+b") as f:  # in place: same inode and size
        f.write(bytes(data))
    os.utime(path / TRAIN, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back
    with pytest.raises(IntegrityError, match="not readable Parquet"):
        built.table("random", "train")


def test_list_does_not_show_a_truncated_build(small_build, tmp_path, caplog) -> None:
    path = copy_build(small_build, tmp_path)
    (path / TRAIN).write_bytes((path / TRAIN).read_bytes()[:-100])
    caplog.set_level(logging.WARNING)
    result = CliRunner().invoke(main, ["list", "--root", str(path.parent.parent)])
    assert result.exit_code == 0 and "1.0.0" not in result.stdout
    assert "not listed, damaged" in caplog.text and "bytes, expected" in caplog.text


def test_deep_verify_of_a_broken_manifest_is_one_error_line(small_build, tmp_path) -> None:
    path = copy_build(small_build, tmp_path)
    forge(path, lambda m: m["groups"]["default"].pop("configs"))
    result = CliRunner().invoke(main, ["verify", "--deep", str(path)])
    assert result.exit_code == 2 and not isinstance(result.exception, KeyError)
    assert result.output.startswith("error: ") and len(result.output.splitlines()) == 1


def test_list_of_a_missing_root_says_so(tmp_path) -> None:
    result = CliRunner().invoke(main, ["list", "--root", str(tmp_path / "nonexistent")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_a_build_waiting_on_the_lock_says_for_whom(tmp_path, caplog) -> None:
    import fcntl

    lock = tmp_path / ".locks" / "validity-1.0.0.lock"
    lock.parent.mkdir(parents=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, json.dumps({"pid": 4242, "command": "molbench build validity"}).encode())
    params = {**SMALL, "n_molecules": 60}
    errors: list[BaseException] = []

    def build() -> None:
        try:
            molbench.build("validity", params, out=tmp_path, workers=1)
        except BaseException as e:
            errors.append(e)

    caplog.set_level(logging.WARNING)
    waiter = threading.Thread(target=build)
    waiter.start()
    deadline = time.monotonic() + 60
    while "waiting for" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    message = caplog.text
    os.close(fd)  # releases the lock
    waiter.join(timeout=120)
    assert not errors and not waiter.is_alive()
    assert re.search(r"waiting for another build of validity 1\.0\.0.*pid 4242", message)
    assert "molbench build validity" in message


def test_allow_unverified_warns_once_per_file(raw_fixtures, tmp_path, monkeypatch, caplog) -> None:
    from molbench.builders import reactions

    wrong = {
        split: dataclasses.replace(file, sha256="0" * 64)
        for split, file in reactions.SOURCES["uspto_15k"].items()
    }
    monkeypatch.setattr(reactions, "SOURCES", {**reactions.SOURCES, "uspto_15k": wrong})
    caplog.set_level(logging.WARNING)
    molbench.build(
        "reactions",
        configs=["uspto_15k"],
        out=tmp_path,
        source=raw_fixtures,
        allow_unverified=True,
        workers=1,
    )
    warnings = [r for r in caplog.records if "allow-unverified" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


def test_readme_snippets_resolve_the_root_like_the_cli() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippets = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert snippets
    hardcoded = [s for s in snippets if ".cache/molbench" in s]
    assert not hardcoded, hardcoded[0]
