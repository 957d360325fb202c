"""When a job that waits on others should start (store/waiting.py): its dependencies'
expected ends (running: typical minus elapsed; waiting: their own start plus typical, in
any queue) and its not_before, on top of its queue's turn."""

from __future__ import annotations

import pytest

import store
from store import Heartbeat, JobSpec, Spool
from store.history import History, TypeStats, kind_of
from store.runners import RunnerState
from store.waiting import QueueContext
from tests.tui.sample import start

NOW = 1_780_000_000.0


@pytest.fixture
def spool(tmp_path) -> Spool:
    s = Spool.init(tmp_path / "spool")
    s.add_queue("test", slots=2)
    return s


def submit(spool: Spool, queue: str, jtype: str, **links: object) -> str:
    spec = JobSpec(command=["make", jtype], queue=queue, type=None, name=jtype, **links)  # type: ignore[arg-type]
    return store.submit(spool, [spec])[0]


def live() -> list[RunnerState]:
    hb = Heartbeat(id="h-1-ab12", host="h", pid=1, queues=["default", "test"], slots=4, started_at=NOW)
    return [RunnerState(hb, age=1.0)]


def stats(spool: Spool, typical: dict[str, float]) -> History:
    out = History()
    for q in ("default", "test"):
        for v in spool.jobs(q)[0]:
            if v.job.name in typical:
                out.by_kind[kind_of(v.job)] = TypeStats(1, 1, typical[v.job.name])
    return out


def why(spool: Spool, job_id: str, history: History):
    v = spool.show(job_id)
    return QueueContext.load(spool, v.queue, live(), history, now=NOW).why(v.job, False)


def test_expected_start_follows_the_dependencies_expected_ends(spool: Spool) -> None:
    build = submit(spool, "default", "build")
    start(spool, build, ago=20)  # running for 20 s of a typical 60 s
    tests = submit(spool, "test", "tests", after=[build])
    deploy = submit(spool, "default", "deploy", after=[tests])
    history = stats(spool, {"build": 60, "tests": 30, "deploy": 10})
    w = why(spool, tests, history)
    assert [b.id for b in w.deps.waits_for] == [build] and w.deps.waits_for[0].state == "running"
    assert w.eta == pytest.approx(40)
    # deploy (another queue) waits for tests: its start (40 s) plus its typical run (30 s)
    assert why(spool, deploy, history).eta == pytest.approx(70)


def test_not_before_and_dependencies_take_the_later(spool: Spool) -> None:
    build = submit(spool, "default", "build")
    start(spool, build, ago=20)
    late = submit(spool, "test", "late", after=[build], not_before=NOW + 100)
    early = submit(spool, "test", "early", after=[build], not_before=NOW + 10)
    alone = submit(spool, "test", "alone", not_before=NOW + 300)
    history = stats(spool, {"build": 60, "late": 1, "early": 1, "alone": 1})
    assert why(spool, late, history).eta == pytest.approx(100)
    assert why(spool, early, history).eta == pytest.approx(40)
    w = why(spool, alone, history)
    assert w.eta == pytest.approx(300) and w.deps.waits_for == [] and w.deps.not_before == NOW + 300


def test_no_history_of_a_dependency_means_unknown(spool: Spool) -> None:
    build = submit(spool, "default", "build")
    tests = submit(spool, "test", "tests", after=[build])
    w = why(spool, tests, History())
    assert w.eta is None and w.unknown == f"no expected end for {build[-8:]}"


def test_a_met_dependency_no_longer_counts(spool: Spool) -> None:
    build = submit(spool, "default", "build")
    lint = submit(spool, "default", "lint")
    tests = submit(spool, "test", "tests", after=[build], after_finished=[lint])
    store.cancel(spool, lint)  # ended: after_finished is met
    w = why(spool, tests, stats(spool, {"build": 60}))
    assert [b.id for b in w.deps.waits_for] == [build]
