"""A draining runner (--drain) stays for blocked jobs that will become runnable on their
own (a dependency another runner runs, a start time ahead) and leaves, saying so, those
that wait for a person."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from store import Spool, hold, submit
from store.jobs.submit import JobSpec
from store.layout import done_name
from tests.runner.conftest import RunnerProc, wait_for


def _gated(gate: Path) -> JobSpec:
    """A build that runs until the test opens its gate."""
    return JobSpec(command=f"while [ ! -e {gate} ]; do sleep 0.05; done", shell=True, queue="build")


def _still_draining(r: RunnerProc, seconds: float = 2.0) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        r.wait(seconds)


@pytest.fixture
def two(spool: Spool) -> Spool:
    spool.add_queue("build")
    spool.add_queue("test")
    return spool


def test_a_drain_stays_for_a_job_waiting_on_a_dependency_another_runner_runs(two: Spool, start_runner,
                                                                            tmp_path: Path) -> None:
    (build,) = submit(two, [_gated(tmp_path / "gate")])
    (test,) = submit(two, [JobSpec(command=["true"], queue="test", after=[build])])
    start_runner(two, "--queues", "build")
    wait_for("the build to run", lambda: two.find(build).state == "running")
    drain = start_runner(two, "--queues", "test", "--drain")
    _still_draining(drain)
    (tmp_path / "gate").touch()
    assert drain.wait(30) == 0, drain.stderr
    assert two.find(test).state == "succeeded"  # it ran the job instead of leaving it
    assert "left waiting" not in drain.stderr


def test_a_drain_follows_a_chain_to_a_job_another_runner_will_take(two: Spool, start_runner,
                                                                   tmp_path: Path) -> None:
    """Its dependency is itself blocked, on a job queued where another runner serves."""
    first, gate_job = submit(two, [_gated(tmp_path / "gate") for _ in range(2)])
    (second,) = submit(two, [JobSpec(command=["true"], queue="build", after=[gate_job])])
    (test,) = submit(two, [JobSpec(command=["true"], queue="test", after=[second])])
    start_runner(two, "--queues", "build", "--slots", "1")
    wait_for("the first build to run", lambda: two.find(first).state == "running")
    drain = start_runner(two, "--queues", "test", "--drain")  # test <- second <- gate_job (queued) <- a slot
    _still_draining(drain)
    (tmp_path / "gate").touch()
    assert drain.wait(30) == 0, drain.stderr
    assert two.find(test).state == "succeeded"


def test_a_drain_stays_for_a_delayed_job(spool: Spool, start_runner) -> None:
    at = time.time() + 3
    (job,) = submit(spool, [JobSpec(command=["true"], not_before=at)])
    drain = start_runner(spool, "--drain")
    assert drain.wait(30) == 0, drain.stderr
    v = spool.show(job)
    assert v.state == "succeeded" and v.job.result.started_at >= at


def test_a_drain_settles_a_job_whose_dependency_ended_before_anyone_released_it(two: Spool,
                                                                                start_runner) -> None:
    """A finisher that died between its done/ rename and the release of its dependents."""
    (build,) = submit(two, [JobSpec(command=["true"], queue="build")])
    (test,) = submit(two, [JobSpec(command=["true"], queue="test", after=[build])])
    r = two.find(build)
    os.rename(r.path, two.layout.done("build") / done_name(build, "succeeded", time.time()))
    drain = start_runner(two, "--queues", "test", "--drain")
    assert drain.wait(30) == 0, drain.stderr
    assert two.find(test).state == "succeeded", drain.stderr


def test_a_drain_leaves_jobs_that_wait_for_a_person_and_says_which(two: Spool, start_runner) -> None:
    held, unserved = submit(two, [JobSpec(command=["true"], queue="build"), JobSpec(command=["true"])])
    hold(two, held)
    (test,) = submit(two, [JobSpec(command=["true"], queue="test", after=[held])])
    drain = start_runner(two, "--queues", "test", "--drain")
    assert drain.wait(15) == 0, drain.stderr
    assert f"left waiting: {test[-8:]} waits for {held[-8:]} (held)" in drain.stderr
    assert two.find(test).state == "pending"
    # Queued where no runner serves, or in a paused queue: nothing will run it either.
    hold(two, test)
    (other,) = submit(two, [JobSpec(command=["true"], queue="test", after=[unserved])])
    start_runner(two, "--queues", "build")  # serves build, not default
    drain = start_runner(two, "--queues", "test", "--drain")
    assert drain.wait(15) == 0, drain.stderr
    assert f"left waiting: {other[-8:]} waits for {unserved[-8:]} (pending in default), which no runner" \
        in drain.stderr
    hold(two, other)
    (paused,) = submit(two, [JobSpec(command=["true"], queue="build")])
    two.update_queue("build", "pause", paused=True)
    submit(two, [JobSpec(command=["true"], queue="test", after=[paused])])
    drain = start_runner(two, "--queues", "test", "--drain")
    assert drain.wait(15) == 0, drain.stderr
    assert f"waits for {paused[-8:]} (pending in build, which is paused)" in drain.stderr
