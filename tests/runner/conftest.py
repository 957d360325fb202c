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
    """The job as it is now (show follows a file that a runner moves meanwhile)."""
    return spool.show(job_id).job


def pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.fixture
def two_hosts_nolock(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Two NFS-like views whose locks do not exclude each other (`two-hosts up --nolock`)."""
    from tests.conftest import two_host_views

    with two_host_views(tmp_path, "--nolock") as views:
        yield views


def runs_of(rec: Path) -> dict[str, list[tuple[int, int, str]]]:
    """Job runs recorded by RECORD below: job id -> [(start ns, end ns, file name)], by start."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    for f in rec.iterdir():
        t = [int(x) for x in f.read_text().split()]
        out.setdefault(f.name.split(".")[0], []).append((t[0], t[-1], f.name))
    for runs in out.values():
        runs.sort()
    return out


def peak(runs: dict[str, list[tuple[int, int, str]]]) -> int:
    """The most runs at once."""
    events = sorted([(s, 1) for rs in runs.values() for s, _, _ in rs] + [(e, -1) for rs in runs.values()
                                                                         for _, e, _ in rs])
    cur = top = 0
    for _, d in events:
        cur += d
        top = max(top, cur)
    return top


# A job that records its run: REC/ID.ATTEMPT.HOST.PID gets a stamp (ns) at start and
# every TICK seconds, N times, then at the end.
RECORD = ('f="$REC/$COREFLOW_JOB_ID.$COREFLOW_ATTEMPT.$(hostname).$$"; i=0; date +%s%N >> "$f"; '
          'while [ $i -lt "${N:-0}" ]; do sleep "${TICK:-0.05}"; date +%s%N >> "$f"; i=$((i+1)); done; '
          'date +%s%N >> "$f"')
