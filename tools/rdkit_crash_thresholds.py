"""Find where RDKit crashes on hostile SMILES shapes, each probe in its own subprocess.

Why: molbench refuses untrusted SMILES above documented limits
(:mod:`molbench.chem.untrusted`) before RDKit sees them; this measures how far those limits
sit below the real crash points on this machine. Run:
``python tools/rdkit_crash_thresholds.py [--stack-kib 8192]``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

SHAPES = {
    "chain": lambda n: "C" * n,  # CCCC...: one long path
    "nested": lambda n: "C(" * n + "C" + ")" * n,  # C(C(C(...))): nested branches
    "ring": lambda n: "C1" + "C" * (n - 2) + "C1",  # one big ring
}
STEPS = {
    "parse": "m = Chem.MolFromSmiles(s)",
    "canonical": "m = Chem.MolFromSmiles(s); Chem.MolToSmiles(m)",
}
PROBE = """
import sys
from rdkit import Chem
from rdkit.rdBase import BlockLogs
s = sys.stdin.read()
with BlockLogs():
    {step}
"""


def probe(shape: str, step: str, n: int, stack_kib: int, timeout: float) -> tuple[str, float]:
    """``("ok"|"crash <signal>"|"timeout", seconds)`` of one string in a fresh interpreter."""

    def limit_stack() -> None:
        resource.setrlimit(resource.RLIMIT_STACK, (stack_kib * 1024, stack_kib * 1024))

    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE.format(step=STEPS[step])],
            input=SHAPES[shape](n).encode(),
            preexec_fn=limit_stack,
            timeout=timeout,
            capture_output=True,
        )
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - started
    seconds = time.perf_counter() - started
    if done.returncode < 0:
        return f"crash {-done.returncode}", seconds
    return ("ok" if done.returncode == 0 else f"exit {done.returncode}"), seconds


def threshold(shape: str, step: str, stack_kib: int, high: int, timeout: float) -> int | None:
    """Smallest size (to 1%) that crashes, or None if ``high`` does not."""
    if probe(shape, step, high, stack_kib, timeout)[0] == "ok":
        return None
    low = 100
    while high - low > max(1, low // 100):
        mid = (low + high) // 2
        if probe(shape, step, mid, stack_kib, timeout)[0] == "ok":
            low = mid
        else:
            high = mid
    return high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-kib", type=int, default=8192)
    parser.add_argument("--high", type=int, default=40000)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    for shape in SHAPES:
        for step in STEPS:
            n = threshold(shape, step, args.stack_kib, args.high, args.timeout)
            print(
                f"{shape:<7} {step:<10} stack {args.stack_kib} KiB: "
                + (f"fails from {n:,} atoms" if n else f"no crash up to {args.high:,}"),
                flush=True,
            )


if __name__ == "__main__":
    main()
