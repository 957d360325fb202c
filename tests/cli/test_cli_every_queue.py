"""Issue 10 item 8: a runner and `serve` without --queues serve every queue, including
queues added while they run; --queues narrows it. Real processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from store import Spool, submit
from store.jobs.submit import JobSpec
from store.runners import runners


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(spool: Spool, *args: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"proc{len(procs)}.log", "wb")
        p = subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), *args],
                             stdout=log, stderr=log, start_new_session=True)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _until(what: str, check: Callable[[], object], timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.05)


def _state(spool: Spool, job: str) -> str:
    return spool.find(job).state


def test_a_runner_without_queues_serves_every_queue_even_one_added_later(spool: Spool, started) -> None:
    spool.add_queue("early")
    (a,) = submit(spool, [JobSpec(command=["true"], queue="early")])
    started(spool, "runner", "--slots", "2")
    _until("the job of an existing queue ran", lambda: _state(spool, a) == "succeeded")
    spool.add_queue("build")  # while the runner runs
    (b,) = submit(spool, [JobSpec(command=["true"], queue="build")])
    _until("the job of the new queue ran", lambda: _state(spool, b) == "succeeded")
    _until("the heartbeat names the new queue", lambda: any(r.serves("build") for r in runners(spool)))


def test_queues_narrows_it(spool: Spool, started) -> None:
    spool.add_queue("build")
    other, mine = submit(spool, [JobSpec(command=["true"], queue="build"), JobSpec(command=["true"])])
    started(spool, "runner", "--queues", "default")
    _until("the default job ran", lambda: _state(spool, mine) == "succeeded")
    time.sleep(0.5)
    assert _state(spool, other) == "pending"


def test_serve_without_queues_runs_a_new_queues_jobs(spool: Spool, started) -> None:
    started(spool, "serve", "--slots", "1")
    _until("serve's runner beats", lambda: any(not r.lost for r in runners(spool)))
    spool.add_queue("build")
    (job,) = submit(spool, [JobSpec(command=["true"], queue="build")])
    _until("the build job ran", lambda: _state(spool, job) == "succeeded")
