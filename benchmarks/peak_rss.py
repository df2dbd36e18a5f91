"""Peak resident memory of a process tree (the build and its workers), sampled from /proc.

``resource.getrusage`` knows only the largest child; a build's memory is the main process
plus every worker alive at the same moment, so the tree is summed at each sample. Pages
shared after ``fork`` are counted once per process: the sum errs high, never low.
"""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree_rss(pid: int) -> int:
    """Bytes resident in ``pid`` and all its descendants right now."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
        todo += _children(current)
    return total


class PeakRSS:
    """``with PeakRSS() as peak: ...`` then ``peak.bytes``: the largest sampled tree sum."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.bytes = max(self.bytes, tree_rss(os.getpid()))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.bytes = max(self.bytes, tree_rss(os.getpid()))


def rusage_mib() -> tuple[float, float]:
    """Max RSS of this process and of its largest finished child, MiB (kernel counters)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child
