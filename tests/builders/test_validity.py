"""The validity dataset's promises, checked on a small build with RDKit directly."""

from collections import Counter

import pyarrow as pa
import pytest
from rdkit import Chem, RDLogger

import molbench
from molbench.builders.base import BuildContext
from molbench.builders.validity import ValidityBuilder, ValidityParams
from molbench.chem.generate import OVER_VALENCE_ERRORS, UNDER_VALENCE_ERRORS
from molbench.chem.notation import parse_condensed
from molbench.errors import ParameterError

RDLogger.DisableLog("rdApp.*")


@pytest.fixture(scope="module")
def rows(small_build: molbench.BuildResult) -> list[dict]:
    built = molbench.open_dataset(small_build.path)
    return pa.concat_tables(built.table("random", s) for s in built.splits("random")).to_pylist()


def test_every_valid_row_sanitises_closed_shell(rows: list[dict]) -> None:
    for row in (r for r in rows if r["label"] == 1):
        mol = Chem.MolFromSmiles(row["smiles"])
        assert mol is not None, row["smiles"]
        assert all(a.GetNumRadicalElectrons() == 0 for a in mol.GetAtoms())
        assert Chem.MolToSmiles(mol) == row["canonical_smiles"]
        assert row["error"] is None and row["parent_id"] == row["id"]


def test_every_invalid_row_fails_for_its_stated_reason(rows: list[dict]) -> None:
    for row in (r for r in rows if r["label"] == 0):
        mol = Chem.MolFromSmiles(row["smiles"])
        if row["error"] in OVER_VALENCE_ERRORS:
            assert mol is None, row
            raw = Chem.MolFromSmiles(row["smiles"], sanitize=False)
            problems = Chem.DetectChemistryProblems(raw)
            assert [p.GetType() for p in problems][:1] == ["AtomValenceException"]
        else:
            assert row["error"] in UNDER_VALENCE_ERRORS
            assert mol is not None
            assert sum(a.GetNumRadicalElectrons() for a in mol.GetAtoms()) > 0, row


def test_invalid_rows_are_near_misses_of_their_parent(rows: list[dict]) -> None:
    by_id = {r["id"]: r for r in rows}
    for row in (r for r in rows if r["label"] == 0):
        parent = by_id[row["parent_id"]]
        assert parent["label"] == 1
        assert parent["n_carbons"] == row["n_carbons"]
        h_change = sum(row["atom_h_counts"]) - sum(parent["atom_h_counts"])
        assert h_change in (
            {"carbon_valence_over_4": {1}, "carbon_valence_under_4": {-1}}.get(row["error"], {0})
        )


def test_classes_are_balanced_per_carbon_count(rows: list[dict]) -> None:
    valid = Counter(r["n_carbons"] for r in rows if r["label"] == 1)
    invalid = Counter(r["n_carbons"] for r in rows if r["label"] == 0)
    assert valid == invalid
    assert sum(valid.values()) == len(rows) // 2


def test_all_error_types_occur(rows: list[dict]) -> None:
    errors = Counter(r["error"] for r in rows if r["error"])
    assert set(errors) == set(OVER_VALENCE_ERRORS + UNDER_VALENCE_ERRORS)


def test_columns_describe_the_same_molecule(rows: list[dict]) -> None:
    for row in rows:
        mol = parse_condensed(row["condensed"])
        assert list(mol.h_counts) == row["atom_h_counts"]
        src, dst = row["edge_index"]
        assert len(src) == len(dst) == len(row["bond_orders"]) == 2 * len(mol.bonds)
        half = len(mol.bonds)
        assert sorted(zip(src[:half], dst[:half], row["bond_orders"][:half], strict=True)) == list(
            mol.bonds
        )
        assert (src[half:], dst[half:]) == (dst[:half], src[:half])
        assert row["n_double_bonds"] == mol.n_double_bonds
        assert row["n_carbons"] == mol.n_carbons


def test_structures_are_unique(rows: list[dict]) -> None:
    keys = [parse_condensed(r["condensed"]).canonical_key for r in rows]
    assert len(set(keys)) == len(rows)
    assert len({r["canonical_smiles"] for r in rows}) == len(rows)


def test_size_ood_test_has_only_larger_molecules(small_build: molbench.BuildResult) -> None:
    built = molbench.open_dataset(small_build.path)
    limit = small_build.manifest["groups"]["default"]["parameters"]["size_ood_max_train_carbons"]
    assert min(built.table("size_ood", "test")["n_carbons"].to_pylist()) > limit
    for split in ("train", "validation"):
        assert max(built.table("size_ood", split)["n_carbons"].to_pylist()) <= limit


def test_manifest_records_audits(small_build: molbench.BuildResult) -> None:
    audits = small_build.manifest["groups"]["default"]["audits"]
    for config in ("random", "size_ood"):
        assert set(audits["leakage"]["shared_between_splits"][config].values()) == {0}
        shortcuts = audits["shortcut_test_accuracy"][config]
        assert set(shortcuts) == {
            "majority_class",
            "length_only",
            "bag_of_characters_logreg",
            "unsaturation_rule",
        }
    counts = small_build.manifest["groups"]["default"]["counts"]
    assert counts["valid"] == counts["invalid"] == 300
    assert counts["rdkit_checked"] == 600


def test_rows_are_the_batches_one_dict_each() -> None:
    """The dict form of the rows (the builder protocol) holds what the batches hold."""
    params = ValidityParams(n_molecules=40, max_carbons=6, size_ood_max_train_carbons=3)
    builder = ValidityBuilder()
    rows = list(builder.rows(params, BuildContext()))
    batches = pa.Table.from_batches(list(builder.batches(params, BuildContext())))
    assert rows == batches.to_pylist()
    assert sorted(r["id"] for r in rows) == list(range(len(rows)))
    by_id = {r["id"]: r for r in rows}
    for row in rows:
        assert by_id[row["parent_id"]]["label"] == 1
        assert (row["parent_id"] == row["id"]) == (row["label"] == 1)


@pytest.mark.parametrize(
    "bad",
    [
        {"n_molecules": 5},
        {"max_carbons": 1},
        {"size_ood_max_train_carbons": 20},
        {"seed": -1},
    ],
)
def test_parameters_out_of_range_are_rejected(bad: dict) -> None:
    with pytest.raises(ParameterError):
        ValidityParams(**bad)
