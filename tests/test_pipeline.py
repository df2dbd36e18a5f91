"""Building end to end: determinism, skip/force, atomicity, Hugging Face loading."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import molbench
from molbench import store
from molbench.errors import (
    BuildConflictError,
    DatasetNotFoundError,
    IntegrityError,
    ParameterError,
)

from .conftest import SMALL


def parquet_bytes(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*.parquet"))}


def test_same_seed_gives_byte_identical_files(small_build, tmp_path: Path) -> None:
    again = molbench.build("validity", SMALL, out=tmp_path, workers=2)
    assert again.manifest["content_hash"] == small_build.manifest["content_hash"]
    assert parquet_bytes(again.path) == parquet_bytes(small_build.path)
    assert (again.path / "README.md").read_bytes() == (small_build.path / "README.md").read_bytes()


def test_another_seed_gives_another_dataset(small_build, tmp_path: Path) -> None:
    other = molbench.build("validity", {**SMALL, "seed": 8}, out=tmp_path, workers=1)
    assert other.manifest["content_hash"] != small_build.manifest["content_hash"]


def test_existing_build_is_skipped_conflicts_or_forced(tmp_path: Path) -> None:
    params = {**SMALL, "n_molecules": 100}
    first = molbench.build("validity", params, out=tmp_path, workers=1)
    assert not first.skipped
    assert molbench.build("validity", params, out=tmp_path, workers=1).skipped
    with pytest.raises(BuildConflictError, match="n_molecules: 100 -> 120"):
        molbench.build("validity", {**params, "n_molecules": 120}, out=tmp_path, workers=1)
    forced = molbench.build(
        "validity", {**params, "n_molecules": 120}, out=tmp_path, workers=1, force=True
    )
    assert forced.manifest["groups"]["default"]["counts"]["rows"] == 120
    store.verify(forced.path)


def test_a_failure_mid_write_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    calls = []
    real = store.write_shards

    def fail_on_third(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "write_shards", fail_on_third)
    with pytest.raises(OSError):
        molbench.build("validity", {**SMALL, "n_molecules": 100}, out=tmp_path, workers=1)
    assert not (tmp_path / "validity").exists()  # not even an empty directory


def test_a_killed_build_never_leaves_a_loadable_half(tmp_path: Path) -> None:
    """SIGKILL a build at several moments; the version dir is absent or verifies."""
    code = (
        "import molbench; molbench.build('validity', {'n_molecules': 4000, 'max_carbons': 14, "
        f"'size_ood_max_train_carbons': 10}}, out={str(tmp_path)!r}, workers=1)"
    )
    final = tmp_path / "validity" / "1.0.0"
    for delay in (0.5, 1.5, 2.5):
        proc = subprocess.Popen([sys.executable, "-c", code])
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if final.exists():
            store.verify(final)
            break
    finished = subprocess.run([sys.executable, "-c", code], check=True)
    assert finished.returncode == 0
    store.verify(final)
    assert sorted(p.name for p in final.parent.iterdir()) == ["1.0.0"]


def test_hugging_face_datasets_loads_every_config(small_build) -> None:
    datasets = pytest.importorskip("datasets")
    for config in ("random", "size_ood"):
        loaded = datasets.load_dataset(str(small_build.path), config)
        expected = small_build.manifest["configs"][config]["splits"]
        assert {k: v.num_rows for k, v in loaded.items()} == {
            k: v["rows"] for k, v in expected.items()
        }
    row = loaded["train"][0]
    assert set(row) >= {"condensed", "smiles", "edge_index", "label", "error", "parent_id"}


def test_python_loader_reads_splits(small_build) -> None:
    built = molbench.open_dataset(small_build.path)
    assert built.configs == ["random", "size_ood"]
    assert built.splits("random") == ["train", "validation", "test"]
    frame = built.to_pandas("random", "test")
    assert len(frame) == small_build.manifest["configs"]["random"]["splits"]["test"]["rows"]
    with pytest.raises(DatasetNotFoundError, match="no config"):
        built.table("scaffold", "test")
    with pytest.raises(DatasetNotFoundError, match="no split"):
        built.table("random", "dev")


def test_unknown_dataset_and_parameters_are_clear_errors(tmp_path) -> None:
    with pytest.raises(DatasetNotFoundError, match="unknown dataset"):
        molbench.build("proteins", out=tmp_path)
    with pytest.raises(ParameterError, match="unknown parameter"):
        molbench.build("validity", {"n_molecule": 10}, out=tmp_path)
    with pytest.raises(ParameterError, match="must be int"):
        molbench.build("validity", {"n_molecules": "10"}, out=tmp_path)


def test_manifest_records_provenance(small_build) -> None:
    m = small_build.manifest
    group = m["groups"]["default"]
    assert group["parameters"] == SMALL and group["seed"] == SMALL["seed"]
    assert set(group["environment"]) >= {"python", "rdkit", "pyarrow", "molbench"}
    assert m["content_hash"] == group["content_hash"]  # one group: its hash is the version's
    assert all(len(f["sha256"]) == 64 for f in m["files"].values())
    assert "README.md" in m["files"]


def test_hugging_face_cache_never_serves_a_replaced_build(tmp_path: Path) -> None:
    """datasets keys its cache on the card (it carries the content hash), so a forced
    rebuild at the same path is never answered from the cache of the old one."""
    datasets = pytest.importorskip("datasets")
    params = {**SMALL, "n_molecules": 200}
    old = molbench.build("validity", params, out=tmp_path, workers=1)
    old_ids = datasets.load_dataset(str(old.path), "random")["train"]["id"]
    new = molbench.build("validity", {**params, "seed": 99}, out=tmp_path, workers=1, force=True)
    assert new.path == old.path
    new_ids = datasets.load_dataset(str(new.path), "random")["train"]["id"]
    truth = molbench.open_dataset(new.path).table("random", "train")["id"].to_pylist()
    assert sorted(new_ids) == sorted(truth) and sorted(new_ids) != sorted(old_ids)


def test_force_replaces_a_build_whose_manifest_is_unreadable(tmp_path) -> None:
    final = tmp_path / "validity" / "1.0.0"
    final.mkdir(parents=True)
    (final / "manifest.json").write_text("{not json")
    with pytest.raises(BuildConflictError, match="--force"):
        molbench.build("validity", {**SMALL, "n_molecules": 60}, out=tmp_path)
    result = molbench.build("validity", {**SMALL, "n_molecules": 60}, out=tmp_path, force=True)
    store.verify(result.path)


def test_a_build_in_an_older_layout_is_rebuilt_without_force(tmp_path) -> None:
    final = tmp_path / "validity" / "1.0.0"
    final.mkdir(parents=True)
    (final / "manifest.json").write_text('{"format": 1, "name": "validity"}')
    result = molbench.build("validity", {**SMALL, "n_molecules": 60}, out=tmp_path)
    assert not result.skipped
    store.verify(result.path)


def test_a_damaged_kept_group_stops_the_build_before_any_work(raw_fixtures, tmp_path) -> None:
    first = molbench.build("reactions", configs=["uspto_15k"], out=tmp_path, source=raw_fixtures)
    victim = first.path / "uspto_15k" / "test-00000-of-00001.parquet"
    victim.write_bytes(victim.read_bytes()[:-1] + b"!")
    with pytest.raises(IntegrityError, match="--config uspto_15k --force"):
        molbench.build("reactions", configs=["uspto_mit"], out=tmp_path, source=raw_fixtures)
    with pytest.raises(IntegrityError, match="--config uspto_15k --force"):
        store.verify(first.path)


def test_an_interrupted_swap_is_restored_not_deleted(small_build, tmp_path) -> None:
    root = tmp_path / "root"
    final = root / "validity" / "1.0.0"
    shutil.copytree(small_build.path, final)
    retired = final.parent / ".1.0.0.replaced-deadbeef"
    final.rename(retired)  # what a crash between the two renames of a swap leaves
    result = molbench.build("validity", SMALL, out=root)
    assert result.skipped and final.is_dir() and not retired.exists()
    store.verify(final)
