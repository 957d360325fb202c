"""Dependencies and start times with real runners: across two hosts (a polled spool)
and on one host, at the right time (issue 11 items 2 and 8)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store import Spool
from store.jobs.submit import JobSpec, submit
from store.states import State
from tests.conftest import two_host_views
from tests.runner.conftest import RunnerProc, wait_for


@pytest.fixture
def runners(tmp_path: Path) -> Iterator[list[RunnerProc]]:
    started: list[RunnerProc] = []
    yield started
    for r in started:
        r.stop()


def start(runners: list[RunnerProc], root: Path, *args: str) -> RunnerProc:
    r = RunnerProc(root, list(args), {"COREFLOW_STOP_GRACE": "0.5"}, root.parent / f"runner{len(runners)}.err", [])
    runners.append(r)
    return r


def result(spool: Spool, job_id: str):  # type: ignore[no-untyped-def]
    v = spool.show(job_id)
    return v.job.result if v.state == State.SUCCEEDED else None


def test_a_dependency_finished_on_host_a_releases_its_dependent_for_host_b(
        tmp_path: Path, runners: list[RunnerProc]) -> None:
    with two_host_views(tmp_path) as (host_a, host_b):
        a = Spool.init(host_a / "spool")
        a.add_queue("build")
        a.add_queue("test")
        (build,) = submit(a, [JobSpec(command=["sleep", "0.3"], queue="build")])
        (test,) = submit(a, [JobSpec(command=["true"], queue="test", after=[build])])
        b = Spool.open(host_b / "spool")
        assert b.find(test).pending.blocked
        start(runners, host_b / "spool", "--queues", "test", "--lease", "4")  # polls: it is another host
        time.sleep(0.5)
        assert b.find(test).pending is not None  # not claimed while blocked
        start(runners, host_a / "spool", "--queues", "build", "--lease", "4")
        wait_for("the dependent to run on host B", lambda: result(a, test), timeout=30)
        rb, rt = result(a, build), result(a, test)
        assert rt.started_at >= rb.finished_at


def test_a_chain_runs_in_order_and_a_delayed_job_starts_at_its_time(
        spool: Spool, runners: list[RunnerProc]) -> None:
    at = time.time() + 1.5
    ids = submit(spool, [JobSpec(command=["sleep", "0.2"], step="build"),
                         JobSpec(command=["true"], step="test", after=["@build"]),
                         JobSpec(command=["true"], after=["@test"], not_before=at)])
    (later,) = submit(spool, [JobSpec(command=["true"], not_before=at)])
    start(runners, spool.root, "--slots", "4")
    wait_for("the chain to end", lambda: all(result(spool, i) for i in [*ids, later]), timeout=30)
    res = [result(spool, i) for i in ids]
    assert res[1].started_at >= res[0].finished_at
    assert res[2].started_at >= res[1].finished_at
    for r in (res[2], result(spool, later)):
        assert at <= r.started_at < at + 1.5  # woken at its time, not at the next periodic look
