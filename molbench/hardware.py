"""One-line descriptions of the machine and git state, recorded with every run and result."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import subprocess
from pathlib import Path

from molbench.errors import MolbenchError
from molbench.parallel import default_workers

log = logging.getLogger(__name__)


def describe(device: str = "cpu") -> str:
    """``"CPU: <model> (<n> cores)"`` or ``"GPU: <name> (<memory> GiB)"`` for ``device``."""
    if device.startswith("cuda"):
        try:
            import torch

            props = torch.cuda.get_device_properties(torch.device(device))
            return f"GPU: {props.name} ({props.total_memory / 2**30:.0f} GiB)"
        except (ImportError, RuntimeError, AssertionError):
            return "GPU: unknown"
    return f"CPU: {_cpu_model()} ({default_workers()} cores)"


def available_memory() -> int | None:
    """Bytes of memory a new job can use without swapping (Linux MemAvailable), if known."""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def free_disk(path: Path) -> int:
    """Free bytes on the filesystem that holds ``path`` (or its nearest existing parent)."""
    existing = path.expanduser().absolute()
    while not existing.exists():
        existing = existing.parent
    return shutil.disk_usage(existing).free


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


RESULTS_PATHSPEC = ":(exclude)leaderboards/results"


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the working tree a run came from (``+dirty`` if it had changes).

    ``$MOLBENCH_GIT_COMMIT``, when set, wins: a copy of the tree sent to another machine (a
    lent GPU) may carry no ``.git`` or a stale one, and only the sender knows its commit.
    """
    if os.environ.get("MOLBENCH_GIT_COMMIT"):
        log.info("commit from MOLBENCH_GIT_COMMIT: %s", os.environ["MOLBENCH_GIT_COMMIT"])
        return os.environ["MOLBENCH_GIT_COMMIT"]
    cwd = path or Path.cwd()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        # a run's own recorded results are not code: they do not make the tree dirty
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", RESULTS_PATHSPEC],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def check_device(device: str) -> None:
    """A one-line error now for a device that cannot run a model (no torch, no CUDA)."""
    if device == "cpu":
        return
    try:
        import torch
    except ImportError:
        raise MolbenchError(
            "running models needs the torch extra: pip install 'molbench[torch]'"
        ) from None
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise MolbenchError(f"--device {device!r} is not a device (use cpu or cuda)") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise MolbenchError(f"--device {device}: CUDA is not available on this machine")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise MolbenchError(f"--device {device}: only {torch.cuda.device_count()} GPU(s)")
