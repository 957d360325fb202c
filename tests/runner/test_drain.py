"""A draining runner (--drain) stays for blocked jobs that will become runnable on their
own (a dependency another runner runs, a start time ahead) and leaves, saying so, those
that wait for a person."""

from __future__ import annotations

import time

from tests.runner.conftest import wait_for

from store import Spool, hold, submit
from store.jobs.submit import JobSpec


def _queues(spool: Spool) -> None:
    spool.add_queue("build")
    spool.add_queue("test")


def test_a_drain_stays_for_a_job_waiting_on_a_dependency_another_runner_runs(spool: Spool, start_runner) -> None:
    _queues(spool)
    (build,) = submit(spool, [JobSpec(command=["sleep", "1"], queue="build")])
    (test,) = submit(spool, [JobSpec(command=["true"], queue="test", after=[build])])
    start_runner(spool, "--queues", "build")
    wait_for("the build to run", lambda: spool.find(build).state == "running")
    drain = start_runner(spool, "--queues", "test", "--drain")
    assert drain.wait(30) == 0, drain.stderr
    assert spool.find(test).state == "succeeded"  # it ran the job instead of leaving it
    assert "left waiting" not in drain.stderr


def test_a_drain_follows_a_chain_run_by_another_runner(spool: Spool, start_runner) -> None:
    """Its dependency is itself blocked, on a job another runner runs."""
    _queues(spool)
    a, b = submit(spool, [JobSpec(command=["sleep", "1"], queue="build", step="a"),
                          JobSpec(command=["true"], queue="build", step="b", after=["@a"])])
    (test,) = submit(spool, [JobSpec(command=["true"], queue="test", after=[b])])
    start_runner(spool, "--queues", "build", "--slots", "1")
    wait_for("the first step to run", lambda: spool.find(a).state == "running")
    drain = start_runner(spool, "--queues", "test", "--drain")
    assert drain.wait(30) == 0, drain.stderr
    assert spool.find(test).state == "succeeded"


def test_a_drain_stays_for_a_delayed_job(spool: Spool, start_runner) -> None:
    at = time.time() + 1.5
    (job,) = submit(spool, [JobSpec(command=["true"], not_before=at)])
    drain = start_runner(spool, "--drain")
    assert drain.wait(30) == 0, drain.stderr
    v = spool.show(job)
    assert v.state == "succeeded" and v.job.result.started_at >= at


def test_a_drain_leaves_jobs_that_wait_for_a_person_and_says_which(spool: Spool, start_runner) -> None:
    _queues(spool)
    held, unserved = submit(spool, [JobSpec(command=["true"], queue="build"), JobSpec(command=["true"])])
    hold(spool, held)
    (test,) = submit(spool, [JobSpec(command=["true"], queue="test", after=[held])])
    drain = start_runner(spool, "--queues", "test", "--drain")
    assert drain.wait(15) == 0, drain.stderr
    assert f"left waiting: {test[-8:]} waits for {held[-8:]} (held)" in drain.stderr
    assert spool.find(test).state == "pending"
    # A dependency queued where no runner serves: nothing will run it either.
    hold(spool, test)
    (other,) = submit(spool, [JobSpec(command=["true"], queue="test", after=[unserved])])
    drain = start_runner(spool, "--queues", "test", "--drain")
    assert drain.wait(15) == 0, drain.stderr
    assert f"left waiting: {other[-8:]} waits for {unserved[-8:]} (pending), which no runner" in drain.stderr
