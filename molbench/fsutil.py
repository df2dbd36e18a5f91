"""Atomic filesystem helpers: writes that readers never see half done, and their fsyncs.

One public home for what the store (builds), the source cache (downloads) and the recipes
(results) all need, so none of them reaches into another's private helpers.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import logging
import os
import re
import shlex
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

log = logging.getLogger(__name__)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON to a temporary name, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write_text(tmp, dumps_json(data) + "\n")
    os.replace(tmp, path)


_SCALAR = r"(?:-?[0-9][0-9.eE+-]*|true|false|null|NaN|-?Infinity)"
_SCALAR_LIST = re.compile(rf"\[\n\s+({_SCALAR}(?:,\n\s+{_SCALAR})*)\n\s*\]")


def dumps_json(data: Mapping[str, Any]) -> str:
    """Indented JSON with lists of numbers on one line (per-row values: one line, not 40,000)."""
    text = json.dumps(data, indent=2)
    return _SCALAR_LIST.sub(lambda m: "[" + ", ".join(re.split(r",\n\s+", m[1])) + "]", text)


def write_text(path: Path, text: str) -> None:
    """Write and fsync ``text`` (callers rename it into place when readers may be looking)."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    with open(path, "rb") as f:
        return sha256_handle(f)


def sha256_handle(f: BinaryIO) -> str:
    """Hex sha256 of an open file from its position on (the handle a caller also fstat-ed)."""
    digest = hashlib.sha256()
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def exchange_directories(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux ``renameat2``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result != 0:
        errno = ctypes.get_errno()
        if errno in (38, 22, 95):  # ENOSYS, EINVAL (filesystem), EOPNOTSUPP: fall back
            return False
        raise OSError(errno, os.strerror(errno), str(b))
    return True


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (POSIX needs the directory synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a staging or lock owner that may still work)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def exclusive_lock(path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; while ``what`` holds it, say who and wait.

    The holder writes its pid and command into the lock file, so a waiter can name it
    (the kernel drops the lock of a dead process: a stale owner is never waited for).
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for %s to finish (%s)", what, _lock_owner(fd))
            fcntl.flock(fd, fcntl.LOCK_EX)
        owner = {"pid": os.getpid(), "command": shlex.join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _lock_owner(fd: int) -> str:
    """Who holds a lock, as its holder wrote it down."""
    try:
        owner = json.loads(os.pread(fd, 65536, 0).decode())
        return f"pid {int(owner['pid'])}: {owner['command']}"
    except (ValueError, KeyError, TypeError):
        return "its holder has not said who it is yet"
