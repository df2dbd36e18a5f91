"""Raw source files: find them locally or download them, check their pins, read their lines.

This is the only module that touches raw upstream data or the network. For one
:class:`SourceFile` the order is:

1. the raw-data root, ``--source DIR`` (``source_dir``) else ``$MOLBENCH_RAW_DIR``:
   ``<root>/<source>/<filename>``, then each of ``local_names`` there;
2. the download cache, ``<molbench home>/downloads/<source>/<filename>``;
3. a download of ``url`` into the cache, unless ``download=False`` or ``$MOLBENCH_OFFLINE=1``.

The file as published is checked against ``sha256`` and/or ``git_blob``. A local
alternative (the extracted member, a ``.gz`` of it) has other bytes, so it is checked
against ``content_sha256``: the sha256 of the text :func:`read_lines` reads from it. For a
published file that is plain text that is simply its ``sha256``. An alternative with no
content pin is used, unverified, and its note says so. Downloads are written under a hidden
temporary name and renamed into place only once complete and checked, so the cache never
holds half a file.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import logging
import os
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from molbench.errors import ChecksumError, DownloadError, SourceFormatError, SourceNotFoundError
from molbench.fsutil import fsync_dir, process_alive, write_json
from molbench.store import resolve_root

log = logging.getLogger(__name__)

RAW_DIR_ENV = "MOLBENCH_RAW_DIR"
OFFLINE_ENV = "MOLBENCH_OFFLINE"
CHUNK_BYTES = 1 << 20
_PART_MARK = ".part-"
_UNVERIFIED_SUFFIX = ".unverified.json"
_ALLOW_HINT = "pass --allow-unverified to use it anyway"
_FORMAT_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    gzip.BadGzipFile,
    EOFError,
    zlib.error,
    UnicodeDecodeError,
)


@dataclass(frozen=True)
class SourceFile:
    """One upstream file as published, with its pins; builders declare these.

    ``sha256`` and ``git_blob`` (what ``git hash-object`` prints) pin the published bytes;
    at least one is required. ``member`` is the text file to read inside a ``.tar.gz`` /
    ``.zip``. ``local_names`` are other forms accepted in a raw-data folder (a path
    relative to ``<root>/<source>/``); they are checked against ``content_sha256``. ``url``
    may be empty for a file with no public download.
    """

    source: str
    filename: str
    url: str
    sha256: str | None = None
    git_blob: str | None = None
    member: str | None = None
    content_sha256: str | None = None
    local_names: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        """Catch a builder's pin typos when it is imported, not halfway through a build."""
        if self.sha256 is None and self.git_blob is None:
            raise ValueError(f"{self.label}: declare sha256 or git_blob")
        for field, value, length in (
            ("sha256", self.sha256, 64),
            ("git_blob", self.git_blob, 40),
            ("content_sha256", self.content_sha256, 64),
        ):
            if value is not None and not _is_hex(value, length):
                raise ValueError(f"{self.label}: {field} must be {length} lowercase hex digits")
        if _kind(self.filename) in ("tar", "zip") and not self.member:
            raise ValueError(f"{self.label}: an archive needs the member to read")

    @property
    def label(self) -> str:
        """``uspto_mit/valid.txt.tar.gz (USPTO-MIT valid split)``, for messages."""
        described = f" ({self.description})" if self.description else ""
        return f"{self.source}/{self.filename}{described}"


@dataclass(frozen=True)
class ResolvedSource:
    """A raw file ready to read, where it came from and whether it matched its pin."""

    file: SourceFile
    path: Path
    origin: str  # "source-dir" | "env" | "cache" | "download"
    sha256: str  # of the file at ``path``
    verified: bool
    note: str  # for the manifest: no absolute paths


def raw_root(source_dir: str | os.PathLike[str] | None) -> Path | None:
    """The raw-data root: ``source_dir``, else ``$MOLBENCH_RAW_DIR``, else None.

    A root that is not a directory is an error rather than a silent fall-through to a
    download: it is almost always a typo.
    """
    if source_dir is not None:
        root, given = Path(source_dir).expanduser(), f"--source {source_dir}"
    elif env := os.environ.get(RAW_DIR_ENV):
        root, given = Path(env).expanduser(), f"{RAW_DIR_ENV}={env}"
    else:
        return None
    if not root.is_dir():
        raise SourceNotFoundError(f"{given} is not a directory")
    return root


def cache_dir() -> Path:
    """Where downloads are kept: ``<molbench home>/downloads`` (follows ``$MOLBENCH_HOME``)."""
    return resolve_root() / "downloads"


def resolve(
    file: SourceFile,
    source_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    allow_unverified: bool = False,
    progress: bool = False,
) -> ResolvedSource:
    """Find ``file`` (raw root, then cache, then download) and check it against its pins."""
    searched = []
    root = raw_root(source_dir)
    if root is not None:
        folder = root / file.source
        searched.append(folder)
        local = _find_local(file, folder)
        if local is not None:
            origin = "source-dir" if source_dir is not None else "env"
            return _check_local(file, *local, origin, allow_unverified)
        log.info("%s is not in %s", file.label, folder)
    cached = _from_cache(file, allow_unverified)
    if cached is not None:
        return cached
    searched.append(cache_dir() / file.source)
    if not download or _offline() or not file.url:
        raise SourceNotFoundError(_not_found_message(file, searched, root))
    try:
        return fetch(
            file, cache_dir() / file.source, allow_unverified=allow_unverified, progress=progress
        )
    except DownloadError as e:
        where = " or ".join(str(p) for p in searched)
        into = (
            f" into {root / file.source}"
            if root is not None
            else f" into DIR/{file.source}/ and pass --source DIR or set {RAW_DIR_ENV}=DIR"
        )
        raise DownloadError(f"{file.label} not found in {where}; {e}{into}") from None


def is_available(file: SourceFile, source_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether :func:`resolve` would find ``file`` without downloading (presence, not pins)."""
    root = raw_root(source_dir)
    if root is not None and _find_local(file, root / file.source) is not None:
        return True
    return (cache_dir() / file.source / file.filename).is_file()


def read_lines(resolved: ResolvedSource) -> Iterator[tuple[int, str]]:
    """Stream ``(line number, line)`` from any form of the file, without its line ending.

    ``.tar.gz`` / ``.zip`` are read at ``member``, ``.gz`` is decompressed, anything else
    is read as is; text is UTF-8. Lines split on ``\\n`` only, so a stray ``\\r`` inside a
    line is kept (only a trailing ``\\r\\n`` is stripped).
    """
    done = 0
    try:
        with _open_content(resolved.path, resolved.file.member) as stream:
            for raw in stream:
                line = _strip_newline(raw).decode("utf-8")
                done += 1
                yield done, line
    except _FORMAT_ERRORS as e:
        raise SourceFormatError(
            f"cannot read {_describe(resolved.path, resolved.file.member)} at line "
            f"{done + 1}: {_one_line(e)}; the file is corrupt or not what its source declares"
        ) from None


def git_blob_sha1(path: str | os.PathLike[str]) -> str:
    """What ``git hash-object`` prints: the only pin for files published only in a repo."""
    return _hash_file(Path(path), with_blob=True)[1]


def fetch(
    file: SourceFile,
    dest_dir: Path,
    *,
    allow_unverified: bool = False,
    progress: bool = False,
    timeout: float = 30.0,
) -> ResolvedSource:
    """Download ``file.url`` to ``dest_dir/<filename>``: whole and pin-checked, or nothing.

    A download that fails its pin is discarded (:class:`ChecksumError`) unless
    ``allow_unverified``; then it is kept with a ``<filename>.unverified.json`` sidecar so
    later runs know it was never verified.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(dest_dir, file.filename)
    final = dest_dir / file.filename
    part = dest_dir / f".{file.filename}{_PART_MARK}{os.getpid()}"
    sidecar = _sidecar(final)
    log.info("downloading %s from %s", file.label, file.url)
    try:
        with open(part, "wb") as out:
            _transfer(file, out, progress, timeout)
            out.flush()
            os.fsync(out.fileno())
        sha, problem = _check_pins(part, file)
        if problem is None:
            note = f"downloaded; {_pins_match(file)}"
            sidecar.unlink(missing_ok=True)
        elif allow_unverified:
            note = f"downloaded; does not match its pin ({problem}); kept with --allow-unverified"
            log.warning("%s: %s", file.label, note)
            write_json(sidecar, {"format": 1, "url": file.url, "sha256": sha, "problem": problem})
        else:
            raise ChecksumError(
                f"{file.label} downloaded from {file.url}: {problem}; the download was "
                f"discarded; {_ALLOW_HINT}"
            )
        os.replace(part, final)
        fsync_dir(dest_dir)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return ResolvedSource(file, final, "download", sha, problem is None, note)


def record(resolved: ResolvedSource) -> dict[str, Any]:
    """What a manifest keeps about a raw file: enough to fetch and check it again anywhere."""
    file = resolved.file
    return {
        "source": file.source,
        "filename": file.filename,
        "read": resolved.path.name,
        "member": file.member,
        "url": file.url,
        "origin": resolved.origin,
        "sha256": resolved.sha256,
        "verified": resolved.verified,
        "note": resolved.note,
    }


def _find_local(file: SourceFile, folder: Path) -> tuple[Path, bool] | None:
    """The first present candidate and whether it is the published file itself."""
    for name in (file.filename, *file.local_names):
        if (folder / name).is_file():
            return folder / name, name == file.filename
    return None


def _check_local(
    file: SourceFile, path: Path, published: bool, origin: str, allow_unverified: bool
) -> ResolvedSource:
    """Check a raw-root copy: the published file by its pins, another form by its content."""
    found = f"found as {path.name}" + ("" if published else f" (a form of {file.filename})")
    if published:
        sha, problem = _check_pins(path, file)
        pinned = _pins_match(file)
    else:
        sha = _hash_file(path, with_blob=False)[0]
        expected = _content_pin(file)
        if expected is not None:
            got = _content_sha256(path, file.member)
            problem = None if got == expected else f"content sha256 {got}, expected {expected}"
            pinned = "content sha256 matches the pin"
        elif file.git_blob and _kind(file.filename) == "plain":
            # a compressed copy of a plain file pinned by git blob: hash what it holds
            got = _content_git_blob(path)
            problem = None if got == file.git_blob else f"git blob {got}, expected {file.git_blob}"
            pinned = "git blob of its content matches the pin"
        else:
            problem = (
                f"no pin covers this form (the pin is of {file.filename} as published; keep "
                "that file instead)"
            )
            pinned = ""
    if problem is None:
        return ResolvedSource(file, path, origin, sha, True, f"{found}; {pinned}")
    if not allow_unverified:
        raise ChecksumError(f"{file.label} at {path}: {problem}; {_ALLOW_HINT}")
    note = f"{found}; does not match its pin ({problem}); used with --allow-unverified"
    log.warning("%s: %s", file.label, note)
    return ResolvedSource(file, path, origin, sha, False, note)


def _from_cache(file: SourceFile, allow_unverified: bool) -> ResolvedSource | None:
    """A cached download, re-checked; a corrupt one is deleted so it is downloaded again."""
    path = cache_dir() / file.source / file.filename
    if not path.is_file():
        return None
    sha, problem = _check_pins(path, file)
    if problem is None:
        pinned = _pins_match(file)
        return ResolvedSource(file, path, "cache", sha, True, f"downloaded earlier; {pinned}")
    sidecar = _sidecar(path)
    if _recorded_unverified(sidecar) == sha:
        if allow_unverified:
            note = f"downloaded earlier; does not match its pin ({problem}); used with "
            return ResolvedSource(file, path, "cache", sha, False, note + "--allow-unverified")
        raise ChecksumError(
            f"{file.label}: the cached {path} was kept with --allow-unverified: {problem}; "
            f"{_ALLOW_HINT}, or delete it to download again"
        )
    log.warning("deleting corrupt cached %s (%s)", path, problem)
    path.unlink()
    sidecar.unlink(missing_ok=True)
    return None


def _transfer(file: SourceFile, out: IO[bytes], progress: bool, timeout: float) -> None:
    """Stream the response body into ``out``; every failure is one-line DownloadError."""
    url = file.url
    hint = "download it by hand"
    request = urllib.request.Request(url, headers={"User-Agent": "molbench"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            header = response.headers.get("Content-Length")
            expected = int(header) if header and header.isdigit() else None
            received = 0
            with tqdm(
                total=expected, unit="B", unit_scale=True, desc=file.filename, disable=not progress
            ) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        raise DownloadError(f"cannot download {url}: HTTP {e.code} {e.reason}; {hint}") from None
    except urllib.error.URLError as e:
        raise DownloadError(f"cannot download {url}: {_one_line(e.reason)}; {hint}") from None
    except (OSError, http.client.HTTPException) as e:
        raise DownloadError(f"cannot download {url}: {_one_line(e)}; {hint}") from None
    if expected is not None and received != expected:
        raise DownloadError(
            f"download of {url} was cut short: {received} of {expected} bytes; try again, or {hint}"
        )


def _remove_stale_parts(dest_dir: Path, filename: str) -> None:
    """Delete temporary files left by killed downloads (their process is gone)."""
    for part in dest_dir.glob(f".{filename}{_PART_MARK}*"):
        pid = part.name.rsplit(_PART_MARK, 1)[1]
        if pid.isdigit() and not process_alive(int(pid)):
            log.info("removing leftover of an interrupted download: %s", part)
            part.unlink(missing_ok=True)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + _UNVERIFIED_SUFFIX)


def _recorded_unverified(sidecar: Path) -> str | None:
    """The sha256 a sidecar says was kept unverified on purpose, if it is readable."""
    try:
        return json.loads(sidecar.read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None


def _check_pins(path: Path, file: SourceFile) -> tuple[str, str | None]:
    """The file's sha256 and what differs from the pins (None when every pin matches)."""
    sha, blob = _hash_file(path, with_blob=file.git_blob is not None)
    if file.sha256 is not None and sha != file.sha256:
        return sha, f"sha256 {sha}, expected {file.sha256}"
    if file.git_blob is not None and blob != file.git_blob:
        return sha, f"git blob {blob}, expected {file.git_blob}"
    return sha, None


def _hash_file(path: Path, with_blob: bool) -> tuple[str, str]:
    """sha256 and, when asked (else ""), the git blob sha1, in one pass over the file."""
    sha = hashlib.sha256()
    blob = None
    if with_blob:
        blob = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK_BYTES), b""):
            sha.update(block)
            if blob is not None:
                blob.update(block)
    return sha.hexdigest(), "" if blob is None else blob.hexdigest()


def _content_pin(file: SourceFile) -> str | None:
    """The sha256 of the text to read; a plain published file's own sha256 is one."""
    if file.content_sha256 is not None:
        return file.content_sha256
    return file.sha256 if _kind(file.filename) == "plain" else None


def _content_git_blob(path: Path) -> str:
    """``git hash-object`` of the text a (compressed) copy holds."""
    try:
        with _open_content(path, None) as stream:
            data = stream.read()
    except _FORMAT_ERRORS as e:
        raise SourceFormatError(
            f"cannot read {path}: {_one_line(e)}; the file is corrupt"
        ) from None
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _content_sha256(path: Path, member: str | None) -> str:
    digest = hashlib.sha256()
    try:
        with _open_content(path, member) as stream:
            for block in iter(lambda: stream.read(CHUNK_BYTES), b""):
                digest.update(block)
    except _FORMAT_ERRORS as e:
        raise SourceFormatError(
            f"cannot read {_describe(path, member)}: {_one_line(e)}; the file is corrupt"
        ) from None
    return digest.hexdigest()


@contextmanager
def _open_content(path: Path, member: str | None) -> Iterator[IO[bytes]]:
    """A binary stream of the text inside ``path``, whatever its form."""
    kind = _kind(path.name)
    if kind == "gzip":
        with gzip.open(path, "rb") as f:
            yield f
    elif kind == "zip":
        with zipfile.ZipFile(path) as archive:
            if member not in archive.namelist():
                raise SourceFormatError(_missing_member(path, member, archive.namelist()))
            with archive.open(member) as f:
                yield f
    elif kind == "tar":
        with tarfile.open(path, mode="r|gz") as archive:
            seen = []
            for info in archive:
                name = info.name.removeprefix("./")
                if info.isfile() and name == member:
                    f = archive.extractfile(info)
                    if f is None:
                        break
                    with f:
                        yield f
                    return
                seen.append(name)
            raise SourceFormatError(_missing_member(path, member, seen))
    else:
        with open(path, "rb") as f:
            yield f


def _missing_member(path: Path, member: str | None, names: list[str]) -> str:
    shown = ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")
    return f"{path} has no member {member!r}; it holds: {shown or 'nothing'}"


def _not_found_message(file: SourceFile, searched: list[Path], root: Path | None) -> str:
    where = " or ".join(str(p) for p in searched)
    also = f" (also accepted: {', '.join(file.local_names)})" if file.local_names else ""
    if not file.url:
        why = "it has no public download URL"
    elif _offline():
        why = f"downloads are off ({OFFLINE_ENV}=1)"
    else:
        why = "downloads are off"
    get = f"download it from {file.url}" if file.url else "get it"
    if root is not None:
        how = f"{get} into {root / file.source}, or pass --source DIR / set {RAW_DIR_ENV}"
    else:
        how = f"{get} into DIR/{file.source}/ and pass --source DIR or set {RAW_DIR_ENV}=DIR"
    return f"{file.label} not found in {where}{also}; {why}; {how}"


def _kind(name: str) -> str:
    if name.endswith((".tar.gz", ".tgz")):
        return "tar"
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(".gz"):
        return "gzip"
    return "plain"


def _describe(path: Path, member: str | None) -> str:
    in_archive = member and _kind(path.name) in ("tar", "zip")
    return f"{path} (member {member})" if in_archive else str(path)


def _pins_match(file: SourceFile) -> str:
    """``sha256 matches the pin`` / ``sha256 and git blob match the pins``, for notes."""
    names = [name for name, pin in (("sha256", file.sha256), ("git blob", file.git_blob)) if pin]
    return " and ".join(names) + (" match the pins" if len(names) > 1 else " matches the pin")


def _strip_newline(raw: bytes) -> bytes:
    if raw.endswith(b"\r\n"):
        return raw[:-2]
    return raw[:-1] if raw.endswith(b"\n") else raw


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and all(c in "0123456789abcdef" for c in value)


def _one_line(e: object) -> str:
    text = str(e) or type(e).__name__
    return " ".join(text.split())


def resolve_split(
    file: SourceFile,
    split: str,
    source_dir: str | os.PathLike[str] | None,
    *,
    allow_unverified: bool = False,
    progress: bool = False,
) -> ResolvedSource:
    """Resolve one split's raw file; a missing train file suggests the evaluation-only build."""
    try:
        return resolve(file, source_dir, allow_unverified=allow_unverified, progress=progress)
    except (SourceNotFoundError, DownloadError) as e:
        if split != "train":
            raise
        raise type(e)(
            f"{e}; or build an evaluation-only dataset without it: --splits validation,test"
        ) from None
