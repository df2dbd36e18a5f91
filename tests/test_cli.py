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
