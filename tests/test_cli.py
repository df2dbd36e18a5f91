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
