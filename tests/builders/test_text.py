"""The text builder: offline hydrocarbon names and ChEBI-20 on committed fixtures."""

from __future__ import annotations

import gzip
import shutil

import pytest
from rdkit import Chem

import molbench
from molbench import store
from molbench.builders import text
from molbench.chem.opsin import opsin_available
from molbench.errors import BuildError, SourceNotFoundError
from tests.conftest import FIXTURE_COUNTS as FIXTURE
from tests.conftest import RAW, pinned_chebi_sources

FIXTURE_COUNTS = FIXTURE["chebi20"]
SMALL_NAMES = {"n_molecules": 300, "max_carbons": 12, "size_ood_max_train_carbons": 9}


@pytest.fixture
def fixture_sources(raw_fixtures):
    return raw_fixtures


@pytest.fixture(scope="module")
def names_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("names")
    return molbench.build("text", SMALL_NAMES, out=out, workers=1)


def test_default_build_is_offline_hydrocarbon_names(names_build) -> None:
    m = names_build.manifest
    assert list(m["configs"]) == ["hydrocarbon_names", "hydrocarbon_names_size_ood"]
    group = m["groups"]["hydrocarbon_names"]
    assert group["rows"] == SMALL_NAMES["n_molecules"]
    assert group["sources"] == []
    built = molbench.open_dataset(names_build.path)
    test = built.table("hydrocarbon_names_size_ood", "test")
    assert min(test["n_carbons"].to_pylist()) > SMALL_NAMES["size_ood_max_train_carbons"]
    rows = built.table("hydrocarbon_names", "train").to_pylist()
    by_smiles = {r["smiles"]: r["name"] for r in rows}
    if "CC(C)C=C" in by_smiles:
        assert by_smiles["CC(C)C=C"] == "3-methylbut-1-ene"
    assert all(r["name"] and r["inchikey"] for r in rows)


def test_names_are_checked_by_opsin_or_the_skip_is_recorded(names_build) -> None:
    audit = names_build.manifest["groups"]["hydrocarbon_names"]["audits"]["opsin_round_trip"]
    reason = opsin_available()
    if reason is None:
        assert audit["checked"] == SMALL_NAMES["n_molecules"]
        assert audit["rate"] == 1.0, audit["disagreements"]
    else:
        assert audit == {"skipped": reason}


def test_names_build_is_reproducible_across_workers(names_build, tmp_path) -> None:
    again = molbench.build("text", SMALL_NAMES, out=tmp_path, workers=2)
    assert again.manifest["content_hash"] == names_build.manifest["content_hash"]
    assert again.manifest["files"] == names_build.manifest["files"]


def test_evaluation_only_chebi20(fixture_sources, tmp_path) -> None:
    result = molbench.build(
        "text", {"splits": "validation,test"}, configs=["chebi20"], out=tmp_path, source=RAW
    )
    m = result.manifest
    assert list(m["configs"]) == ["chebi20"]
    splits = {s: v["rows"] for s, v in m["configs"]["chebi20"]["splits"].items()}
    assert splits == {"validation": 12, "test": 12}
    assert "train.txt" in m["configs"]["chebi20"]["absent_splits"]["train"]
    rows = molbench.open_dataset(result.path).table("chebi20", "test").to_pylist()
    escaped = [r for r in rows if "\\" in r["smiles_as_published"]]
    assert escaped and all("\\\\" not in r["smiles_as_published"] for r in escaped)
    for r in rows:
        mol = Chem.MolFromSmiles(r["smiles"])
        assert Chem.MolToInchiKey(mol) == r["inchikey"]
        assert r["id"] == f"chebi20_{r['cid']}"


def test_full_chebi20_builds_scaffold_and_corpus(fixture_sources, tmp_path) -> None:
    result = molbench.build(
        "text",
        configs=["chebi20", "chebi20_molecules"],
        out=tmp_path,
        source=RAW,
        workers=2,
    )
    m = result.manifest
    assert list(m["configs"]) == ["chebi20", "chebi20_scaffold", "chebi20_molecules"]
    sizes = {s: v["rows"] for s, v in m["configs"]["chebi20_scaffold"]["splits"].items()}
    assert sizes == FIXTURE_COUNTS
    corpus = m["configs"]["chebi20_molecules"]["splits"]["corpus"]["rows"]
    assert corpus == sum(FIXTURE_COUNTS.values())
    assert "chebi20_identical_structures_across_published_splits" in m["cross_audits"]
    audits = m["groups"]["chebi20"]["audits"]
    assert "identical_descriptions_across_splits" in audits
    store.verify(result.path, deep=True)


def test_corpus_falls_back_to_the_structures_file(fixture_sources, tmp_path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    (raw / "chebi20" / "train.txt.gz").unlink()
    result = molbench.build("text", configs=["chebi20_molecules"], out=tmp_path / "out", source=raw)
    read = [s["filename"] for s in result.manifest["groups"]["chebi20_molecules"]["sources"]]
    assert text.TRAIN_STRUCTURES.filename in read


def test_train_without_descriptions_is_one_line_naming_the_url(fixture_sources, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    (raw / "chebi20" / "train.txt.gz").unlink()
    with pytest.raises(SourceNotFoundError) as e:
        molbench.build("text", configs=["chebi20"], out=tmp_path / "out", source=raw)
    assert "\n" not in str(e.value) and text.MOLT5_URL + "train.txt" in str(e.value)


def test_unparsable_smiles_is_quarantined_and_counted(fixture_sources, tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    path = raw / "chebi20" / "test.txt.gz"
    content = gzip.decompress(path.read_bytes()).decode() + "1\tC1CC(\tbroken ring\n"
    path.write_bytes(gzip.compress(content.encode(), mtime=0))
    files, _ = pinned_chebi_sources(raw)
    monkeypatch.setattr(text, "SOURCES", files)
    monkeypatch.setattr(text, "PUBLISHED_COUNTS", {**FIXTURE_COUNTS, "test": 13})
    result = molbench.build(
        "text", {"splits": "validation,test"}, configs=["chebi20"], out=tmp_path / "o", source=raw
    )
    group = result.manifest["groups"]["chebi20"]
    assert group["quarantine"]["rows"] == 1
    assert group["counts"]["quarantined"]["test"] == 1
    assert "RDKit cannot parse" in (result.path / group["quarantine"]["file"]).read_text()


def test_count_mismatch_fails(fixture_sources, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(text, "PUBLISHED_COUNTS", {**FIXTURE_COUNTS, "validation": 3301})
    with pytest.raises(BuildError, match="published validation split has 3,301"):
        molbench.build(
            "text", {"splits": "validation,test"}, configs=["chebi20"], out=tmp_path, source=RAW
        )


def test_unescape_smiles() -> None:
    assert text.unescape_smiles("C/C=C\\\\C") == "C/C=C\\C"
    assert text.unescape_smiles("CCO") == "CCO"


def test_hugging_face_loads_text_configs(fixture_sources, names_build, tmp_path) -> None:
    datasets = pytest.importorskip("datasets")
    result = molbench.build(
        "text", {"splits": "validation,test"}, configs=["chebi20"], out=tmp_path, source=RAW
    )
    names = datasets.load_dataset(str(names_build.path), "hydrocarbon_names")
    assert sum(len(names[s]) for s in names) == SMALL_NAMES["n_molecules"]
    chebi = datasets.load_dataset(str(result.path), "chebi20")
    assert set(chebi) == {"validation", "test"}
