"""Randomised-SMILES augmentation of reactions, its file and its command."""

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from rdkit import Chem

import molbench
from molbench.chem.augment import augment_reactions, randomized_smiles, read_augmented
from molbench.chem.tokens import load_vocabulary
from molbench.cli import main
from molbench.errors import ParameterError
from tests.conftest import FIXTURE_COUNTS, RAW, pinned_reaction_sources

ROWS = {  # id: (reactants, reagents, products), canonical as the builder writes them
    "r1": ("CC(=O)Cl.OCC", "CCN(CC)CC", "CCOC(C)=O"),
    "r2": ("Brc1ccccc1.OB(O)c1ccncc1", "O.[Na+].[Na+].O=C([O-])[O-]", "c1ccc(-c2ccncc2)cc1"),
    "r3": ("C[C@H](N)C(=O)O.O=C(Cl)c1ccccc1", "", "C[C@H](NC(=O)c1ccccc1)C(=O)O"),
}


def rows_table() -> pa.Table:
    encode = load_vocabulary().encode
    return pa.table(
        {
            "id": list(ROWS),
            "reactants": [r for r, _, _ in ROWS.values()],
            "reagents": [g for _, g, _ in ROWS.values()],
            "tgt_tokens": pa.array([encode(p) for *_, p in ROWS.values()], pa.list_(pa.int16())),
        }
    )


def molecules(smiles: str) -> Counter:
    """The multiset of canonical molecules of a '.'-joined SMILES."""
    return Counter(Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in smiles.split(".") if s)


def test_random_writings_are_the_same_molecule_and_seeded() -> None:
    smiles = "C[C@H](NC(=O)c1ccccc1)C(=O)O"
    writings = randomized_smiles(smiles, 8, seed=3)
    assert len(writings) == 8 and len(set(writings)) > 1 and smiles not in set(writings[:1])
    assert {Chem.MolToSmiles(Chem.MolFromSmiles(w)) for w in writings} == {smiles}
    assert randomized_smiles(smiles, 8, seed=3) == writings
    assert randomized_smiles(smiles, 8, seed=4) != writings
    assert randomized_smiles("C[CH2+](C)(C)C", 2, seed=0) is None  # RDKit rejects it


def test_copies_keep_the_reaction_and_its_separation() -> None:
    decode = load_vocabulary().decode
    table, counts = augment_reactions(rows_table(), copies=4, seed=0)
    assert (
        table.num_rows == 12 and table["copy"].to_pylist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    )
    assert counts["molecules"] == 11 and counts["out_of_vocabulary_kept_canonical"] == 0
    seen = set()
    for row in table.to_pylist():
        reactants, reagents, product = ROWS[row["id"]]
        separated = decode(row["src_tokens_separated"])
        left, _, right = separated.partition(">")
        assert molecules(left) == molecules(reactants)
        assert molecules(right) == molecules(reagents)
        assert molecules(decode(row["src_tokens_mixed"])) == molecules(f"{reactants}.{reagents}")
        assert decode(row["tgt_tokens"]) == product  # the target stays canonical
        seen.add(separated)
    assert len(seen) > 6  # writings differ between copies, and from the canonical input
    assert not seen & {f"{a}>{g}" if g else a for a, g, _ in ROWS.values()}


def test_same_seed_same_copies_whatever_the_other_rows() -> None:
    full, _ = augment_reactions(rows_table(), copies=3, seed=5)
    assert augment_reactions(rows_table(), copies=3, seed=5)[0].equals(full)
    assert not augment_reactions(rows_table(), copies=3, seed=6)[0].equals(full)
    alone, _ = augment_reactions(rows_table().slice(1, 1), copies=3, seed=5)
    r2 = full.filter(pc.equal(full["id"], "r2"))
    assert alone.equals(r2)
    with pytest.raises(ParameterError, match="copies must be at least 1"):
        augment_reactions(rows_table(), copies=0, seed=0)


@pytest.fixture(scope="module")
def reactions_build(tmp_path_factory: pytest.TempPathFactory) -> molbench.BuildResult:
    """A tiny uspto_15k build from the committed fixtures; tests must not modify it."""
    from molbench.builders import reactions

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reactions, "SOURCES", pinned_reaction_sources(RAW))
        patch.setattr(reactions, "PUBLISHED_COUNTS", {"uspto_15k": FIXTURE_COUNTS["uspto_15k"]})
        return molbench.build(
            "reactions",
            {},
            configs=["uspto_15k"],
            out=tmp_path_factory.mktemp("rx"),
            workers=1,
            source=RAW,
        )


def test_cli_writes_byte_identical_files_for_one_seed(reactions_build, tmp_path: Path) -> None:
    def augment(name: str, seed: int) -> Path:
        out = tmp_path / name
        done = CliRunner().invoke(
            main,
            [
                "augment",
                "reactions",
                "--dataset",
                str(reactions_build.path),
                "--copies",
                "3",
                "--seed",
                str(seed),
                "--out",
                str(out),
            ],
        )
        assert done.exit_code == 0, done.output
        assert "90 rows (30 uspto_15k/train reactions x 3)" in done.output
        return out

    one, two, other = augment("a.parquet", 1), augment("b.parquet", 1), augment("c.parquet", 2)
    assert one.read_bytes() == two.read_bytes()
    assert one.read_bytes() != other.read_bytes()
    table, made_from = read_augmented(one)
    assert table.num_rows == 90
    assert (
        made_from["content_hash"]
        == reactions_build.manifest["configs"]["uspto_15k"]["content_hash"]
    )
    assert (made_from["config"], made_from["split"], made_from["seed"]) == ("uspto_15k", "train", 1)


def test_cli_help_and_one_line_errors(reactions_build, tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(main, ["augment", "reactions", "--help"])
    assert shown.exit_code == 0 and "--copies" in shown.output and "--seed" in shown.output
    for args, message in (
        (["--config", "nope"], "has no config 'nope'; it has uspto_15k"),
        (["--split", "dev"], "config 'uspto_15k' has no split 'dev'"),
        (["--copies", "0"], "Invalid value for '--copies'"),
    ):
        done = runner.invoke(
            main,
            [
                "augment",
                "reactions",
                "--dataset",
                str(reactions_build.path),
                "--out",
                str(tmp_path / "x.parquet"),
                *args,
            ],
        )
        assert done.exit_code == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "x.parquet").exists()
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"id": ["a"]}), plain)
    with pytest.raises(ParameterError, match="not a file written by"):
        read_augmented(plain)
