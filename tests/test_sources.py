"""Raw source resolution: precedence, pins, archive reading and downloads from a local server."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from molbench import sources
from molbench.errors import (
    ChecksumError,
    DownloadError,
    SourceFormatError,
    SourceNotFoundError,
)
from molbench.sources import ResolvedSource, SourceFile

TEXT = "CID\tSMILES\n1\tC/C=C\\\\C\r\n2\tCCO \u00e9\rx\n3\tlast line, no newline"
LINES = [
    (1, "CID\tSMILES"),
    (2, "1\tC/C=C\\\\C"),
    (3, "2\tCCO \u00e9\rx"),
    (4, "3\tlast line, no newline"),
]
DATA = TEXT.encode()
ARCHIVE_SIZE = 4096


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pinned(data: bytes, filename: str = "valid.txt.gz", **kw) -> SourceFile:
    """A SourceFile for ``data`` as published, pinned by sha256 unless told otherwise."""
    kw.setdefault("sha256", sha256(data))
    return SourceFile("demo", filename, kw.pop("url", "https://example.org/x"), **kw)


def write_tar_gz(path: Path, members: dict[str, bytes]) -> bytes:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path.read_bytes()


def write_zip(path: Path, members: dict[str, bytes]) -> bytes:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path.read_bytes()


def files_under(directory: Path) -> list[str]:
    """Every file, hidden ones included: what a download left behind."""
    if not directory.exists():
        return []
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def place(root: Path, name: str, data: bytes, source: str = "demo") -> Path:
    path = root / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture(autouse=True)
def _no_raw_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sources.RAW_DIR_ENV, raising=False)
    monkeypatch.delenv(sources.OFFLINE_ENV, raising=False)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("this test must not download")

    monkeypatch.setattr(sources.urllib.request, "urlopen", refuse)


# --- pins ---------------------------------------------------------------------------------


def test_git_blob_sha1_is_what_git_hash_object_prints(tmp_path: Path) -> None:
    (tmp_path / "hello").write_bytes(b"hello\n")
    (tmp_path / "empty").write_bytes(b"")
    assert sources.git_blob_sha1(tmp_path / "hello") == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert sources.git_blob_sha1(tmp_path / "empty") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sha256": None},
        {"sha256": "ABC"},
        {"sha256": "A" * 64},
        {"git_blob": "0" * 39},
        {"content_sha256": "xyz"},
        {"filename": "data.zip", "member": None},
    ],
)
def test_source_file_rejects_missing_or_malformed_pins(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        pinned(DATA, **kwargs)


# --- where a file is found -------------------------------------------------------------------


def test_raw_root_prefers_the_argument_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert sources.raw_root(None) is None
    monkeypatch.setenv(sources.RAW_DIR_ENV, "")
    assert sources.raw_root(None) is None
    monkeypatch.setenv(sources.RAW_DIR_ENV, str(b))
    assert sources.raw_root(None) == b
    assert sources.raw_root(a) == a
    with pytest.raises(SourceNotFoundError, match=r"--source .*missing is not a directory"):
        sources.raw_root(tmp_path / "missing")
    monkeypatch.setenv(sources.RAW_DIR_ENV, str(tmp_path / "gone"))
    with pytest.raises(SourceNotFoundError, match=r"MOLBENCH_RAW_DIR=.*gone is not a directory"):
        sources.raw_root(None)


def test_source_dir_beats_env_beats_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    file = pinned(DATA)
    given, env = tmp_path / "given", tmp_path / "env"
    for root in (given, env):
        place(root, file.filename, DATA)
    place(sources.cache_dir(), file.filename, DATA)
    monkeypatch.setenv(sources.RAW_DIR_ENV, str(env))

    first = sources.resolve(file, given)
    assert (first.origin, first.path.parent.parent) == ("source-dir", given)
    second = sources.resolve(file)
    assert (second.origin, second.path.parent.parent) == ("env", env)
    (env / "demo" / file.filename).unlink()  # not in the raw root: the cache comes next
    third = sources.resolve(file)
    assert third.origin == "cache"
    assert third.path == sources.cache_dir() / "demo" / file.filename
    assert all(r.verified and r.sha256 == sha256(DATA) for r in (first, second, third))


def test_cache_dir_follows_molbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOLBENCH_HOME", str(tmp_path / "home"))
    assert sources.cache_dir() == tmp_path / "home" / "downloads"


def test_local_checksum_mismatch_is_an_error_unless_allowed(tmp_path: Path) -> None:
    file = pinned(DATA)
    path = place(tmp_path, file.filename, b"tampered")
    with pytest.raises(ChecksumError) as error:
        sources.resolve(file, tmp_path, download=False)
    message = str(error.value)
    assert "\n" not in message
    assert all(s in message for s in (str(path), file.sha256, sha256(b"tampered")))
    assert "pass --allow-unverified to use it anyway" in message

    used = sources.resolve(file, tmp_path, download=False, allow_unverified=True)
    assert not used.verified
    assert used.sha256 == sha256(b"tampered")
    assert "--allow-unverified" in used.note


def test_git_blob_pin_alone_is_checked(tmp_path: Path) -> None:
    place(tmp_path, "hello.txt", b"hello\n")
    good = SourceFile("demo", "hello.txt", "u", git_blob="ce013625030ba8dba906f756967f9e9ca394464a")
    resolved = sources.resolve(good, tmp_path, download=False)
    assert resolved.verified
    assert "git blob matches the pin" in resolved.note
    bad = replace(good, git_blob="0" * 40)
    with pytest.raises(ChecksumError, match=r"git blob ce0136.*expected 0000"):
        sources.resolve(bad, tmp_path, download=False)


def test_both_pins_must_match(tmp_path: Path) -> None:
    place(tmp_path, "hello.txt", b"hello\n")
    file = SourceFile("demo", "hello.txt", "u", sha256=sha256(b"hello\n"), git_blob="1" * 40)
    with pytest.raises(ChecksumError, match="git blob"):
        sources.resolve(file, tmp_path, download=False)


def test_extracted_member_is_checked_by_its_content_pin(tmp_path: Path) -> None:
    archive = write_tar_gz(tmp_path / "valid.txt.tar.gz", {"valid.txt": DATA})
    file = pinned(
        archive,
        "valid.txt.tar.gz",
        member="valid.txt",
        content_sha256=sha256(DATA),
        local_names=("valid.txt", "valid.txt.gz"),
    )
    place(tmp_path, "valid.txt", DATA)
    resolved = sources.resolve(file, tmp_path, download=False)
    assert resolved.verified
    assert resolved.note == "found as valid.txt (a form of valid.txt.tar.gz); " + (
        "content sha256 matches the pin"
    )
    assert list(sources.read_lines(resolved)) == LINES

    place(tmp_path, "valid.txt", DATA + b"\nextra")
    with pytest.raises(ChecksumError, match="content sha256"):
        sources.resolve(file, tmp_path, download=False)

    place(tmp_path, "valid.txt", DATA)
    unpinned = replace(file, content_sha256=None)
    with pytest.raises(ChecksumError, match="no pin covers this form"):
        sources.resolve(unpinned, tmp_path, download=False)
    used = sources.resolve(unpinned, tmp_path, download=False, allow_unverified=True)
    assert not used.verified


def test_compressed_copy_of_a_plain_file_is_checked_by_its_git_blob(tmp_path: Path) -> None:
    import gzip
    import hashlib

    blob = hashlib.sha1(b"blob %d\0" % len(DATA) + DATA).hexdigest()
    file = sources.SourceFile("demo", "train.txt", "", git_blob=blob, local_names=("train.txt.gz",))
    place(tmp_path, "train.txt.gz", gzip.compress(DATA))
    resolved = sources.resolve(file, tmp_path, download=False)
    assert resolved.verified and "git blob" in resolved.note
    place(tmp_path, "train.txt.gz", gzip.compress(DATA + b"x"))
    with pytest.raises(ChecksumError, match="git blob"):
        sources.resolve(file, tmp_path, download=False)


def test_gz_of_a_plain_published_file_is_checked_by_its_sha256(tmp_path: Path) -> None:
    """ChEBI-20: the text file is published, a gzip of it is what a raw root holds."""
    file = pinned(DATA, "validation.txt", local_names=("validation.txt.gz",))
    place(tmp_path, "validation.txt.gz", gzip.compress(DATA))
    resolved = sources.resolve(file, tmp_path, download=False)
    assert resolved.verified
    assert resolved.sha256 == sha256((tmp_path / "demo" / "validation.txt.gz").read_bytes())
    assert list(sources.read_lines(resolved)) == LINES


def test_published_name_is_preferred_over_local_names(tmp_path: Path) -> None:
    file = pinned(DATA, "validation.txt", local_names=("validation.txt.gz",))
    place(tmp_path, "validation.txt.gz", b"not gzip at all")  # would fail if it were chosen
    place(tmp_path, "validation.txt", DATA)
    assert sources.resolve(file, tmp_path, download=False).path.name == "validation.txt"


def test_offline_names_the_url_and_folders_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    file = pinned(DATA, url="https://example.org/valid.txt.gz", description="demo valid split")
    (tmp_path / "demo").mkdir()
    monkeypatch.setenv(sources.OFFLINE_ENV, "1")
    with pytest.raises(SourceNotFoundError) as error:
        sources.resolve(file, tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("demo/valid.txt.gz (demo valid split) not found in ")
    for part in (str(tmp_path / "demo"), str(sources.cache_dir() / "demo"), file.url):
        assert part in message
    assert "MOLBENCH_OFFLINE=1" in message


def test_download_false_without_raw_root_says_how_to_provide_it(no_network: None) -> None:
    file = pinned(DATA, url="https://example.org/valid.txt.gz")
    with pytest.raises(SourceNotFoundError, match="into DIR/demo/ and pass --source DIR"):
        sources.resolve(file, download=False)


def test_is_available_only_looks(tmp_path: Path, no_network: None) -> None:
    file = pinned(DATA, local_names=("valid.txt",))
    (tmp_path / "demo").mkdir()
    assert not sources.is_available(file, tmp_path)
    place(tmp_path, "valid.txt", DATA)
    assert sources.is_available(file, tmp_path)
    assert not sources.is_available(file)
    place(sources.cache_dir(), file.filename, DATA)
    assert sources.is_available(file)


# --- reading ------------------------------------------------------------------------------


def resolved_at(path: Path, member: str | None = None) -> ResolvedSource:
    file = SourceFile("demo", path.name, "u", sha256="0" * 64, member=member)
    return ResolvedSource(file, path, "source-dir", "0" * 64, True, "")


@pytest.mark.parametrize("kind", ["plain", "gz", "tar.gz", "tar.gz ./member", "zip"])
def test_read_lines_reads_every_form(tmp_path: Path, kind: str) -> None:
    if kind == "plain":
        (tmp_path / "valid.txt").write_bytes(DATA)
        resolved = resolved_at(tmp_path / "valid.txt")
    elif kind == "gz":
        (tmp_path / "valid.txt.gz").write_bytes(gzip.compress(DATA))
        resolved = resolved_at(tmp_path / "valid.txt.gz")
    elif kind.startswith("tar.gz"):
        name = "./valid.txt" if "./" in kind else "valid.txt"
        write_tar_gz(tmp_path / "v.tar.gz", {"other.txt": b"x\n", name: DATA})
        resolved = resolved_at(tmp_path / "v.tar.gz", "valid.txt")
    else:
        write_zip(tmp_path / "data.zip", {"data/valid.txt": b"x\n", "data/train.txt": DATA})
        resolved = resolved_at(tmp_path / "data.zip", "data/train.txt")
    assert list(sources.read_lines(resolved)) == LINES


@pytest.mark.parametrize("suffix", ["v.tar.gz", "data.zip"])
def test_missing_member_names_the_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / suffix
    (write_tar_gz if suffix.endswith("tar.gz") else write_zip)(path, {"a.txt": DATA})
    with pytest.raises(
        SourceFormatError, match=re.escape(f"{path} has no member 'b.txt'; it holds: a.txt")
    ):
        list(sources.read_lines(resolved_at(path, "b.txt")))


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("valid.txt.gz", lambda data: b"definitely not gzip"),
        ("valid.txt.gz", lambda data: data[: len(data) // 2]),
        ("v.tar.gz", lambda data: data[: len(data) // 2]),
        ("v.tar.gz", lambda data: b"\x1f\x8b" + bytes(200)),
        ("data.zip", lambda data: data[:40]),
    ],
)
def test_corrupt_files_raise_source_format_error(tmp_path: Path, name: str, damage) -> None:
    path = tmp_path / name
    payload = DATA * 200  # long enough that half of it is still mid-stream
    if name.endswith(".tar.gz"):
        data = write_tar_gz(path, {"valid.txt": payload})
    elif name.endswith(".zip"):
        data = write_zip(path, {"valid.txt": payload})
    else:
        data = gzip.compress(payload)
    path.write_bytes(damage(data))
    with pytest.raises(SourceFormatError, match=re.escape(str(path))):
        list(sources.read_lines(resolved_at(path, "valid.txt")))


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_bytes(b"ok\nbad \xff byte\n")
    with pytest.raises(SourceFormatError, match="at line 2"):
        list(sources.read_lines(resolved_at(tmp_path / "x.txt")))


def test_record_keeps_no_machine_paths(tmp_path: Path) -> None:
    file = pinned(DATA)
    place(tmp_path, file.filename, DATA)
    entry = sources.record(sources.resolve(file, tmp_path, download=False))
    assert entry["read"] == file.filename
    assert (entry["origin"], entry["verified"], entry["sha256"]) == (
        "source-dir",
        True,
        sha256(DATA),
    )
    assert str(tmp_path) not in json.dumps(entry)


# --- downloads from a local server -------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = self.server
        server.hits.append(self.path)
        if self.path == "/slow":
            server.release.wait(5)
            return
        body = server.files.get(self.path.removeprefix("/truncated"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        extra = ARCHIVE_SIZE if self.path.startswith("/truncated") else 0
        self.send_header("Content-Length", str(len(body) + extra))
        self.end_headers()
        self.wfile.write(body)  # then the connection closes, short when ``extra``

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files = {"/valid.txt.gz": gzip.compress(DATA)}
    httpd.hits = []
    httpd.release = threading.Event()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


def served(server: ThreadingHTTPServer, path: str = "/valid.txt.gz", **kw) -> SourceFile:
    return pinned(server.files["/valid.txt.gz"], url=server.base + path, **kw)


def cache() -> Path:
    return sources.cache_dir()


def test_download_lands_verified_in_the_cache_and_is_reused(server: ThreadingHTTPServer) -> None:
    file = served(server)
    first = sources.resolve(file, progress=True)
    assert (first.origin, first.verified) == ("download", True)
    assert first.path == cache() / "demo" / "valid.txt.gz"
    assert files_under(cache()) == ["demo/valid.txt.gz"]
    assert list(sources.read_lines(first)) == LINES

    second = sources.resolve(file)
    assert (second.origin, second.verified, second.sha256) == ("cache", True, first.sha256)
    assert server.hits == ["/valid.txt.gz"]


def test_download_with_a_wrong_pin_is_discarded(server: ThreadingHTTPServer) -> None:
    file = served(server, sha256="f" * 64)
    with pytest.raises(ChecksumError) as error:
        sources.resolve(file)
    assert "\n" not in str(error.value)
    assert file.url in str(error.value)
    assert "discarded" in str(error.value)
    assert files_under(cache()) == []


def test_unverified_download_is_kept_with_a_sidecar_and_remembered(
    server: ThreadingHTTPServer,
) -> None:
    file = served(server, sha256="f" * 64)
    kept = sources.resolve(file, allow_unverified=True)
    assert (kept.origin, kept.verified) == ("download", False)
    assert files_under(cache()) == ["demo/valid.txt.gz", "demo/valid.txt.gz.unverified.json"]
    sidecar = json.loads((cache() / "demo" / "valid.txt.gz.unverified.json").read_text())
    assert sidecar["sha256"] == kept.sha256 == sha256(server.files["/valid.txt.gz"])

    with pytest.raises(ChecksumError, match="kept with --allow-unverified"):
        sources.resolve(file)
    again = sources.resolve(file, allow_unverified=True)
    assert (again.origin, again.verified) == ("cache", False)
    assert len(server.hits) == 1


def test_truncated_transfer_leaves_nothing(server: ThreadingHTTPServer) -> None:
    file = served(server, "/truncated/valid.txt.gz")
    with pytest.raises(DownloadError, match="cut short") as error:
        sources.resolve(file)
    assert file.url in str(error.value)
    assert files_under(cache()) == []


def test_http_error_names_the_status(server: ThreadingHTTPServer) -> None:
    file = served(server, "/nothing-here")
    with pytest.raises(DownloadError, match="HTTP 404"):
        sources.resolve(file)
    assert files_under(cache()) == []


def test_server_down_is_one_line_naming_url_and_fix() -> None:
    with socket.socket() as s:  # a port that nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    file = pinned(DATA, url=f"http://127.0.0.1:{port}/valid.txt.gz")
    with pytest.raises(DownloadError) as error:
        sources.resolve(file)
    message = str(error.value)
    assert "\n" not in message
    assert f"cannot download {file.url}: " in message and "not found in" in message
    assert "--source DIR" in message
    assert files_under(cache()) == []


def test_timeout_is_a_download_error(server: ThreadingHTTPServer) -> None:
    file = served(server, "/slow")
    with pytest.raises(DownloadError, match="timed out"):
        sources.fetch(file, cache() / "demo", timeout=0.2)
    assert files_under(cache()) == []


def test_interrupted_download_removes_its_temporary_file(
    server: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []

    class Interrupting:
        def __init__(self, **kwargs) -> None:
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

        def update(self, n: int) -> None:
            seen.extend(files_under(cache()))
            raise KeyboardInterrupt

    monkeypatch.setattr(sources, "tqdm", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        sources.resolve(served(server), progress=True)
    assert seen and seen[0].startswith("demo/.valid.txt.gz.part-")  # it was mid-write
    assert files_under(cache()) == []


def test_corrupt_cache_file_is_deleted_and_downloaded_again(server: ThreadingHTTPServer) -> None:
    file = served(server)
    path = sources.resolve(file).path
    path.write_bytes(b"bit rot")
    with pytest.raises(SourceNotFoundError):
        sources.resolve(file, download=False)
    assert files_under(cache()) == []
    again = sources.resolve(file)
    assert (again.origin, again.verified) == ("download", True)
    assert len(server.hits) == 2


def test_leftover_of_a_dead_download_is_removed(server: ThreadingHTTPServer) -> None:
    stale = cache() / "demo" / ".valid.txt.gz.part-999999999"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    sources.resolve(served(server))
    assert files_under(cache()) == ["demo/valid.txt.gz"]
