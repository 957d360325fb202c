"""A process killed (SIGKILL) between a job's final rename and releasing its dependents:
the next runner's sweep releases them (issue 11 item 8)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from store import Spool
from store.jobs.submit import JobSpec, submit
from store.states import State
from tests.runner.conftest import RunnerProc, wait_for

# Claims and finishes the first job of the queue, and is killed as soon as the job is
# in done/, before on_final can look at its dependents.
FINISH_THEN_DIE = """
import os, signal, sys, time
from store import Spool, deps
from store.jobs.claims import Claimant, Claims
from store.model import Result
spool = Spool.open(sys.argv[1])
c = Claims(spool, Claimant("dying", "h", os.getpid()))
job = c.claim_next("default").job
deps.on_final = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
c.finish(job, Result(state=sys.argv[2], reason="exit", exit_code=0, finished_at=time.time()))
"""


def finish_and_die(spool: Spool, state: str) -> None:
    proc = subprocess.run([sys.executable, "-c", FINISH_THEN_DIE, str(spool.root), state], timeout=30)
    assert proc.returncode == -9


def test_the_sweep_releases_dependents_after_a_kill_between_finish_and_release(spool: Spool, tmp_path: Path) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    (c,) = submit(spool, [JobSpec(command=["true"], after=[b])])
    finish_and_die(spool, State.SUCCEEDED)
    assert spool.find(a).state == State.SUCCEEDED and spool.find(b).pending.blocked
    r = RunnerProc(spool.root, [], {"COREFLOW_STOP_GRACE": "0.5"}, tmp_path / "runner.err", [])
    try:
        wait_for("the chain to finish", lambda: spool.find(c).state == State.SUCCEEDED, timeout=20)
    finally:
        r.stop()
    assert spool.show(c).job.result.started_at >= spool.show(b).job.result.finished_at


def test_the_sweep_cancels_dependents_of_a_failure_after_a_kill(spool: Spool, tmp_path: Path) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    finish_and_die(spool, State.FAILED)
    r = RunnerProc(spool.root, [], {"COREFLOW_STOP_GRACE": "0.5"}, tmp_path / "runner.err", [])
    try:
        wait_for("the dependent to be cancelled", lambda: spool.find(b).state == State.CANCELLED, timeout=20)
    finally:
        r.stop()
    assert spool.show(b).job.result.message == f"dependency {a} failed"


def test_a_runner_settles_the_dependents_of_a_job_it_finds_corrupt(spool: Spool, tmp_path: Path) -> None:
    """The runner quarantines the undecodable head of the queue; a job waiting on it is
    cancelled at the runner's next heartbeat, not after the hourly stale-index sweep."""
    from tests.store.test_deps import plant_corrupt

    r = RunnerProc(spool.root, ["--lease", "2"], {}, tmp_path / "runner.err", [])
    try:
        time.sleep(0.5)  # past its first sweep: only a new file in corrupt/ makes it sweep again
        spool.update_queue("default", "pause", paused=True)
        x = plant_corrupt(spool)
        (b,) = submit(spool, [JobSpec(command=["true"], after=[x])])
        spool.update_queue("default", "resume", paused=False)
        wait_for("the dependent to be cancelled", lambda: spool.find(b).state == State.CANCELLED, timeout=10)
    finally:
        r.stop()
    assert spool.show(b).job.result.message == f"dependency {x} failed (it is gone)"
