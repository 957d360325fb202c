"""Helpers for runner tests: a runner as a real process, waiting for spool states."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from store import Spool

ROOT = Path(__file__).resolve().parents[2]


class RunnerProc:
    def __init__(self, root: Path, args: list[str], env: dict[str, str], log: Path, prefix: list[str]) -> None:
        self.log_path = log
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "coreflow_tui", "--spool", str(root), "runner", *args],
            stdout=subprocess.DEVNULL, stderr=open(log, "wb"), env={**os.environ, **env}, cwd=ROOT)

    @property
    def stderr(self) -> str:
        return self.log_path.read_text()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


@pytest.fixture
def start_runner(tmp_path: Path) -> Iterator[Callable[..., RunnerProc]]:
    """start_runner(spool_or_root, *args, env={}, prefix=[]) -> a running `coreflow runner`."""
    started: list[RunnerProc] = []

    def start(spool: Spool | Path, *args: str, env: dict[str, str] | None = None,
              prefix: list[str] | None = None) -> RunnerProc:
        root = spool.root if isinstance(spool, Spool) else spool
        r = RunnerProc(root, list(args), {"COREFLOW_STOP_GRACE": "0.5", **(env or {})},
                       tmp_path / f"runner{len(started)}.stderr", prefix or [])
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def wait_for(what: str, check: Callable[[], object], timeout: float = 20.0, every: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


def state_of(spool: Spool, job_id: str) -> str:
    return spool.find(job_id).state


def job_of(spool: Spool, job_id: str):  # type: ignore[no-untyped-def]
    return spool.read(spool.find(job_id))


def pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
