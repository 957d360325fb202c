"""Shared pieces of the benchmarks: the result row, timing, a throwaway spool."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
COREFLOW = [PYTHON, "-m", "coreflow_tui"]


@dataclass
class Row:
    area: str
    what: str
    value: str  # the measured figure, human units
    baseline: str  # the same-run baseline it is compared with
    ratio: float  # value / baseline (for rates: value rate / baseline rate)
    target: str  # e.g. "<= 1.5x" or ">= 0.5x"
    ok: bool | None  # None when there is no target


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """Minimum wall time of `fn` over `repeat` runs (the least disturbed run)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


@contextmanager
def temp_dir(prefix: str = "cfbench-") -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def coreflow(spool: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COREFLOW_SPOOL": str(spool)}
    return subprocess.run([*COREFLOW, *args], env=env, check=True, capture_output=True, **kw)  # type: ignore[call-overload]


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"
