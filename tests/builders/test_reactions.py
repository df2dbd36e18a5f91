"""The reactions builder end to end on committed fixtures that stand in for the real files."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import shutil
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import molbench
from molbench import store
from molbench.builders import reactions
from molbench.chem.tokens import load_vocabulary
from molbench.errors import BuildError, ChecksumError, SourceNotFoundError
from molbench.sources import SourceFile
from tests.conftest import FIXTURE_COUNTS as FIXTURE
from tests.conftest import RAW, pinned_reaction_sources

FIXTURE_COUNTS = {g: FIXTURE[g] for g in ("uspto_mit", "uspto_15k")}


def _pinned(root: Path) -> dict[str, dict[str, SourceFile]]:
    return pinned_reaction_sources(root)


@pytest.fixture
def fixture_sources(raw_fixtures):
    return raw_fixtures


def _build(tmp_path, configs, splits="train,validation,test", workers=1, source=RAW, **kw):
    return molbench.build(
        "reactions",
        {"splits": splits},
        configs=configs,
        out=tmp_path,
        workers=workers,
        source=source,
        **kw,
    )


def test_full_build_keeps_published_counts_and_adds_the_scaffold_split(
    fixture_sources, tmp_path
) -> None:
    result = _build(tmp_path, ["uspto_mit", "uspto_15k"])
    m = result.manifest
    assert list(m["configs"]) == ["uspto_mit", "uspto_mit_scaffold", "uspto_15k"]
    for config, group in (("uspto_mit", "uspto_mit"), ("uspto_mit_scaffold", "uspto_mit")):
        rows = {s: v["rows"] for s, v in m["configs"][config]["splits"].items()}
        assert rows == FIXTURE_COUNTS[group], config
    counts = m["groups"]["uspto_mit"]["counts"]
    assert counts["rows"] == FIXTURE_COUNTS["uspto_mit"]
    assert sum(counts["rdkit_unsanitizable"].values()) >= 2  # the fixture keeps two on purpose
    assert m["groups"]["uspto_mit"]["quarantine"]["rows"] == 0
    leakage = m["groups"]["uspto_mit"]["audits"]["leakage"]["shared_between_splits"]
    assert not any(leakage["uspto_mit_scaffold"].values())
    assert all(s["verified"] for g in m["groups"].values() for s in g["sources"])
    assert "reactions_shared_across_sets" in m["cross_audits"]
    store.verify(result.path, deep=True)

    built = molbench.open_dataset(result.path)
    test = built.table("uspto_mit", "test").to_pylist()
    assert all(r["id"].startswith("mit_test_") for r in test)
    assert sum(r["reaction_in_train"] for r in test) == 1  # the fixture's planted duplicate
    assert sum(r["product_in_train"] for r in test) >= 1
    overlap = m["groups"]["uspto_mit"]["audits"]["overlap_with_train"]["uspto_mit"]["test"]
    assert overlap["reaction_in_train"] == 1 and overlap["reactant_set_in_train"] >= 1
    shared = m["groups"]["uspto_mit"]["audits"]["leakage"]["shared_between_splits"]
    assert shared["uspto_mit"]["train/test"] == 1
    flagged = [r for r in built.table("uspto_mit", "train").to_pylist() if not r["rdkit_sanitizes"]]
    assert flagged and all(r["sanitize_error"] for r in flagged)
    scaffold = built.table("uspto_mit_scaffold", "test")["product_scaffold"].to_pylist()
    train_scaffolds = set(
        built.table("uspto_mit_scaffold", "train")["product_scaffold"].to_pylist()
    )
    assert not set(scaffold) & train_scaffolds


def test_parallel_build_is_byte_identical_to_serial(fixture_sources, tmp_path, monkeypatch):
    monkeypatch.setattr(reactions, "CHUNK", 3)  # many chunks in flight, out of order
    one = _build(tmp_path / "one", ["uspto_mit"], workers=1)
    two = _build(tmp_path / "two", ["uspto_mit"], workers=2)
    assert one.manifest["content_hash"] == two.manifest["content_hash"]
    assert one.manifest["files"] == two.manifest["files"]


def test_evaluation_only_build_says_what_is_absent(fixture_sources, tmp_path) -> None:
    result = _build(tmp_path, ["uspto_mit"], splits="validation,test")
    m = result.manifest
    assert list(m["configs"]) == ["uspto_mit"]
    config = m["configs"]["uspto_mit"]
    assert set(config["splits"]) == {"validation", "test"}
    assert "train.txt.tar.gz" in config["absent_splits"]["train"]
    assert "github.com" in config["absent_splits"]["train"]
    assert "uspto_mit_scaffold" in m["groups"]["uspto_mit"]["configs_not_built"]
    card = (result.path / "README.md").read_text()
    assert "Evaluation-only build" in card and "no **train** split" in card
    rows = molbench.open_dataset(result.path).table("uspto_mit", "test").to_pylist()
    assert {r["reaction_in_train"] for r in rows} == {None}


def test_explicit_scaffold_request_without_train_fails(fixture_sources, tmp_path) -> None:
    with pytest.raises(BuildError, match="uspto_mit_scaffold needs the train"):
        _build(tmp_path, ["uspto_mit_scaffold"], splits="validation,test")


def test_missing_train_file_is_one_line_naming_file_and_url(fixture_sources, tmp_path) -> None:
    partial = tmp_path / "raw"
    shutil.copytree(RAW, partial)
    (partial / "uspto_mit" / "train.txt.tar.gz").unlink()
    with pytest.raises(SourceNotFoundError) as e:
        _build(tmp_path / "out", ["uspto_mit"], source=partial)
    message = str(e.value)
    assert "\n" not in message
    assert "train.txt.tar.gz" in message and reactions.MIT_URL in message
    assert not (tmp_path / "out" / "reactions" / "1.0.0").exists()


def test_published_count_mismatch_fails_loudly(fixture_sources, tmp_path, monkeypatch) -> None:
    counts = json.loads(json.dumps(FIXTURE_COUNTS))
    counts["uspto_15k"]["test"] += 1
    monkeypatch.setattr(reactions, "PUBLISHED_COUNTS", counts)
    with pytest.raises(BuildError, match="published test split has 11"):
        _build(tmp_path, ["uspto_15k"])
    assert not (tmp_path / "reactions" / "1.0.0").exists()


def test_unreadable_lines_are_quarantined_and_counted(fixture_sources, tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    path = raw / "uspto_mit" / "valid.txt.tar.gz"
    with tarfile.open(path) as t:
        text = t.extractfile("valid.txt").read().decode()
    text += "this is not a reaction\n[CH3:1][OH:2]>>[CH3:1][OH:2] 1-x\n"
    data = text.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as t:
        info = tarfile.TarInfo("valid.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    monkeypatch.setattr(reactions, "SOURCES", _pinned(raw))
    counts = json.loads(json.dumps(FIXTURE_COUNTS))
    counts["uspto_mit"]["validation"] += 2
    monkeypatch.setattr(reactions, "PUBLISHED_COUNTS", counts)

    result = _build(tmp_path / "out", ["uspto_mit"], splits="validation,test", source=raw)
    group = result.manifest["groups"]["uspto_mit"]
    assert group["quarantine"]["rows"] == 2
    assert group["counts"]["quarantined"]["validation"] == 2
    lines = (result.path / group["quarantine"]["file"]).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["line"] for r in records] == [15, 16]
    assert all(r["reason"] and r["source"].startswith("uspto_mit/valid") for r in records)
    store.verify(result.path)


def test_checksum_mismatch_is_refused_unless_allowed(fixture_sources, tmp_path, monkeypatch):
    pinned = _pinned(RAW)
    pinned["uspto_15k"] = {
        s: dataclasses.replace(f, sha256="0" * 64) for s, f in pinned["uspto_15k"].items()
    }
    monkeypatch.setattr(reactions, "SOURCES", pinned)
    with pytest.raises(ChecksumError, match="allow-unverified"):
        _build(tmp_path, ["uspto_15k"])
    result = _build(tmp_path, ["uspto_15k"], allow_unverified=True)
    assert not any(s["verified"] for s in result.manifest["groups"]["uspto_15k"]["sources"])


def test_groups_are_built_separately_and_kept(fixture_sources, tmp_path) -> None:
    first = _build(tmp_path, ["uspto_15k"])
    k15_files = {k: v for k, v in first.manifest["files"].items() if k.startswith("uspto_15k/")}
    second = _build(tmp_path, ["uspto_mit"])
    assert set(second.manifest["groups"]) == {"uspto_mit", "uspto_15k"}
    assert {k: second.manifest["files"][k] for k in k15_files} == k15_files
    assert (
        second.manifest["groups"]["uspto_15k"]["content_hash"]
        == first.manifest["groups"]["uspto_15k"]["content_hash"]
    )
    assert second.manifest["cross_audits"]["reactions_shared_across_sets"]
    store.verify(second.path, deep=True)
    again = _build(tmp_path, ["uspto_15k"])
    assert again.skipped


def test_rows_have_consistent_model_ready_columns(fixture_sources, tmp_path) -> None:
    result = _build(tmp_path, ["uspto_15k"])
    table = pq.read_table(result.path / "uspto_15k" / "test-00000-of-00001.parquet")
    vocab = load_vocabulary()
    for row in table.to_pylist():
        assert vocab.decode(row["tgt_tokens"]) == row["products"]
        assert vocab.decode(row["src_tokens_mixed"]) == row["precursors_mixed"]
        n = row["n_atoms"]
        assert len(row["atom_features"]) == len(row["component"]) == len(row["atom_map"]) == n
        src, dst = row["edge_index"]
        assert len(src) == len(row["bond_orders"]) and all(0 <= i < n for i in src + dst)
        a, b = row["edit_index"]
        maps = [(row["atom_map"][i], row["atom_map"][j]) for i, j in zip(a, b, strict=True)]
        assert sorted(tuple(sorted(p)) for p in maps) == sorted(
            (e["atom_a"], e["atom_b"]) for e in row["edits"]
        )


def test_hugging_face_loads_configs(fixture_sources, tmp_path) -> None:
    datasets = pytest.importorskip("datasets")
    _build(tmp_path, ["uspto_15k"])
    result = _build(tmp_path, ["uspto_mit"], splits="validation,test", force=True)
    k15 = datasets.load_dataset(str(result.path), "uspto_15k")
    assert {s: len(k15[s]) for s in k15} == FIXTURE_COUNTS["uspto_15k"]
    mit = datasets.load_dataset(str(result.path), "uspto_mit")
    assert set(mit) == {"validation", "test"}
