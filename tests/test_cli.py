"""The command line: output users read, and one-line errors with exit status 2."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from molbench.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code: int, stderr: str, *fragments: str) -> None:
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_build_list_info_verify(tmp_path: Path) -> None:
    code, out, _ = run("build", "validity", "--n-molecules", "80", "--out", str(tmp_path), "-q")
    assert code == 0
    path = tmp_path / "validity" / "1.0.0"
    assert str(path) in out and "load_dataset" in out and "content hash" in out
    code, out, _ = run("build", "validity", "--n-molecules", "80", "--out", str(tmp_path), "-q")
    assert code == 0 and "already built" in out
    code, out, _ = run("list", "--root", str(tmp_path))
    assert code == 0 and "validity" in out and "1.0.0" in out
    code, out, _ = run("info", str(path))
    assert code == 0 and "config random" in out and "audit leakage" in out
    code, out, _ = run("verify", str(path), "--deep")
    assert code == 0 and out.startswith("ok:")


def test_verify_of_a_tampered_build_is_one_line(small_build, tmp_path: Path) -> None:
    path = tmp_path / "copy"
    shutil.copytree(small_build.path, path)
    target = sorted(path.glob("random/*.parquet"))[0]
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    code, _, err = run("verify", str(path))
    assert_one_line_error(code, err, "failed verification", target.name)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["build", "validity", "--n-molecules", "5"], ["--n-molecules must be at least 20"]),
        (["build", "validity", "--n-molecules", "many"], ["not a valid integer", "--help"]),
        (["build", "validity", "--n-molecule", "50"], ["No such option"]),
        (["build", "validity", "--workers", "0"], ["--workers"]),
        (["build", "proteins"], ["No such command"]),
        (["verify", "/no/such/build"], ["neither a build directory"]),
        (["info", "/no/such/build"], ["neither a build directory"]),
    ],
)
def test_bad_input_is_a_one_line_error(args: list[str], fragments: list[str]) -> None:
    code, _, err = run(*args)
    assert_one_line_error(code, err, *fragments)


def test_conflicting_rebuild_is_a_one_line_error(tmp_path: Path) -> None:
    run("build", "validity", "--n-molecules", "60", "--out", str(tmp_path), "-q")
    code, _, err = run("build", "validity", "--n-molecules", "70", "--out", str(tmp_path), "-q")
    assert_one_line_error(code, err, "--force")


def test_help_is_everywhere() -> None:
    for args in ([], ["build"], ["build", "validity"], ["verify"], ["list"], ["info"]):
        code, out, _ = run(*args, "--help")
        assert code == 0 and "Usage:" in out


def test_eval_of_a_broken_predictions_file_is_one_line(small_build, tmp_path: Path) -> None:
    import molbench

    test = molbench.open_dataset(small_build.path).table("random", "test")
    ids = test["id"].to_pylist()
    lines = ["id,score", f"{ids[0]},0.9", f"{ids[0]},0.9", f"{ids[2]},nan"]
    lines += [f"{i},0.5" for i in ids[3:]]  # ids[1] is missing
    path = tmp_path / "preds.csv"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run(
        "eval",
        "--predictions",
        str(path),
        "--dataset",
        str(small_build.path),
        "--config",
        "random",
        "--split",
        "test",
    )
    assert_one_line_error(code, err, "1 duplicated id", "1 missing id", "1 NaN/empty score")


def test_eval_prints_a_table_and_writes_json(small_build, tmp_path: Path) -> None:
    import molbench

    test = molbench.open_dataset(small_build.path).table("random", "test")
    path = tmp_path / "preds.csv"
    rows = [
        f"{i},{label}"
        for i, label in zip(test["id"].to_pylist(), test["label"].to_pylist(), strict=True)
    ]
    path.write_text("id,label\n" + "\n".join(rows) + "\n")
    out = tmp_path / "result.json"
    code, stdout, _ = run(
        "eval", "--predictions", str(path), "--dataset", str(small_build.path), "--out", str(out)
    )
    assert code == 0
    assert "accuracy             1.0000" in stdout and "recall_by_error" in stdout
    assert out.is_file()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["eval"], ["exactly one of --model"]),
        (["eval", "--model", "/no/model"], ["does not exist"]),
        (["eval", "--predictions", "/no/file.csv"], ["does not exist"]),
        (["leaderboard", "--dir", "/no/leaderboards"], ["no results"]),
    ],
)
def test_eval_and_leaderboard_errors_are_one_line(args: list[str], fragments: list[str]) -> None:
    code, _, err = run(*args)
    assert_one_line_error(code, err, *fragments)


def test_reactions_build_and_eval_through_the_cli(raw_fixtures, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    code, out, err = run(
        "build", "reactions", "--config", "uspto_15k", "--source", str(raw_fixtures),
        "--out", str(tmp_path), "-q",
    )  # fmt: skip
    assert code == 0, err
    path = tmp_path / "reactions" / "1.0.0"
    assert "config uspto_15k: train 30, validation 10, test 10" in out
    test = pq.read_table(path / "uspto_15k" / "test-00000-of-00001.parquet")
    products = test["products"].to_pylist()
    ranked = [[p] if i % 2 == 0 else ["C", p] for i, p in enumerate(products)]
    ranked[1] = ["not-a-smiles(", "C"]
    pq.write_table(
        pa.table({"id": test["id"], "predictions": ranked}), tmp_path / "predictions.parquet"
    )
    code, out, err = run(
        "eval", "--dataset", str(path), "--config", "uspto_15k",
        "--predictions", str(tmp_path / "predictions.parquet"), "--out", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert code == 0, err
    import json

    result = json.loads((tmp_path / "r.json").read_text())
    assert result["metrics"]["top1"] == 0.5
    assert result["metrics"]["top2"] == 0.9  # row 1's right answer is not among its guesses
    assert result["metrics"]["invalid_top1"] == 0.1
    assert result["dataset"]["content_hash"].startswith("sha256:")
    assert result["protocol"]["rule"] == "exact" and result["per_row"]["n"] == 10

    # the same guesses as Molecular Transformer writes them: tokenised, n_best 2 per row
    lines = [" ".join(guess) for row in ranked for guess in [*row, ""][:2]]
    (tmp_path / "pred.txt").write_text("\n".join(lines) + "\n")
    code, out, err = run(
        "import", "opennmt", str(tmp_path / "pred.txt"), "--dataset", str(path),
        "--config", "uspto_15k", "--out", str(tmp_path / "imported.parquet"),
    )  # fmt: skip
    assert code == 0, err and "wrote" in out
    assert pq.read_table(tmp_path / "imported.parquet")["predictions"].to_pylist()[1] == ranked[1]
    code, out, err = run(
        "eval", "--dataset", str(path), "--config", "uspto_15k", "--rule", "subset",
        "--predictions", str(tmp_path / "pred.txt"), "--format", "opennmt", "--n-best", "2",
        "--out", str(tmp_path / "r2.json"),
    )  # fmt: skip
    assert code == 0, err
    again = json.loads((tmp_path / "r2.json").read_text())
    assert again["metrics"]["top2"] == 0.9 and again["protocol"]["rule"] == "subset"
    assert again["source"]["format"] == {"name": "opennmt", "options": {"n_best": 2}}
    assert "protocol:" in out and '"rule": "subset"' in out
    code, _, err = run(
        "eval", "--dataset", str(path), "--config", "uspto_15k", "--keep", "mixture",
        "--predictions", str(tmp_path / "pred.txt"),
    )  # fmt: skip
    assert code == 2 and "--n-best, --keep and --replay need --format" in err


def test_reactions_train_missing_is_one_line(raw_fixtures, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(raw_fixtures, raw)
    (raw / "uspto_mit" / "train.txt.tar.gz").unlink()
    code, _, err = run(
        "build", "reactions", "--config", "uspto_mit", "--source", str(raw),
        "--out", str(tmp_path / "out"), "-q",
    )  # fmt: skip
    assert_one_line_error(code, err, "train.txt.tar.gz", "https://github.com/connorcoley")


def test_text_retrieval_eval_with_whole_corpus(raw_fixtures, tmp_path: Path) -> None:
    import json

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    code, _, err = run(
        "build", "text", "--config", "chebi20,chebi20_molecules", "--splits", "validation,test",
        "--source", str(raw_fixtures), "--out", str(tmp_path), "-q",
    )  # fmt: skip
    assert code == 0, err
    path = tmp_path / "text" / "1.0.0"
    corpus = pq.read_table(path / "chebi20_molecules" / "corpus-00000-of-00001.parquet")
    ids = corpus["id"].to_pylist()
    basis = {v: np.eye(len(ids), dtype=np.float32)[i].tolist() for i, v in enumerate(ids)}
    pq.write_table(
        pa.table({"id": ids, "mol_embedding": [basis[v] for v in ids]}), tmp_path / "c.parquet"
    )
    test_ids = pq.read_table(path / "chebi20" / "test-00000-of-00001.parquet")["id"].to_pylist()
    embeddings = [basis[v] for v in test_ids]
    pq.write_table(
        pa.table({"id": test_ids, "text_embedding": embeddings, "mol_embedding": embeddings}),
        tmp_path / "p.parquet",
    )
    code, _, err = run(
        "eval", "--dataset", str(path), "--predictions", str(tmp_path / "p.parquet"),
        "--candidates", str(tmp_path / "c.parquet"), "--out", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert code == 0, err
    metrics = json.loads((tmp_path / "r.json").read_text())["metrics"]
    assert metrics["t2m_mrr"] == 1.0 and metrics["t2m_corpus_mrr"] == 1.0
    assert metrics["corpus_size"] == len(ids)


def test_text_eval_rejects_malformed_embeddings(raw_fixtures, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    code, _, err = run(
        "build", "text", "--config", "chebi20", "--splits", "validation,test",
        "--source", str(raw_fixtures), "--out", str(tmp_path), "-q",
    )  # fmt: skip
    assert code == 0, err
    path = tmp_path / "text" / "1.0.0"
    ids = pq.read_table(path / "chebi20" / "test-00000-of-00001.parquet")["id"].to_pylist()
    vectors = [[1.0, 0.0]] * (len(ids) - 1) + [[1.0]]
    pq.write_table(
        pa.table({"id": ids, "text_embedding": vectors, "mol_embedding": vectors}),
        tmp_path / "p.parquet",
    )
    code, _, err = run("eval", "--dataset", str(path), "--predictions", str(tmp_path / "p.parquet"))
    assert_one_line_error(code, err, "lengths")


def test_eval_record_refuses_a_rule_other_than_exact(tmp_path: Path) -> None:
    """Leaderboard rows are scored under one rule: a subset-rule result is not filed."""
    result = CliRunner().invoke(
        main,
        ["eval", "--model", str(tmp_path), "--record", str(tmp_path), "--rule", "subset"],
    )
    assert result.exit_code == 2
    assert "exact rule" in result.output
