"""When a job that waits on others should start (store/waiting.py): its dependencies'
expected ends (running: typical minus elapsed; waiting: their own start plus typical, in
any queue) and its not_before, on top of its queue's turn."""

from __future__ import annotations

import threading

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


def test_a_chain_within_one_queue(spool: Spool) -> None:
    """Dependencies behind each other in one queue: each one's end is its queue turn plus its
    typical run (the model is walked for one job while it is asked about another)."""
    build = submit(spool, "default", "build")
    tests = submit(spool, "default", "tests", after=[build])
    deploy = submit(spool, "default", "deploy", after=[tests])
    other = submit(spool, "default", "other")
    history = stats(spool, {"build": 60, "tests": 30, "deploy": 10, "other": 5})
    v = {j: spool.show(j) for j in (build, tests, deploy, other)}
    ctx = QueueContext.load(spool, "default", live(), history, now=NOW)
    # asked last job first: the model is walked from inside a dependency's question
    assert ctx.why(v[deploy].job, False).eta == pytest.approx(90)
    assert ctx.why(v[other].job, False).eta == pytest.approx(0)  # waiting jobs take no slot: it passes them
    assert ctx.why(v[tests].job, False).eta == pytest.approx(60)
    assert ctx.why(v[build].job, False).eta == pytest.approx(0)


def test_a_dependency_behind_its_dependent(spool: Spool) -> None:
    """An urgent job placed ahead of the job it waits for, one slot busy for 50 s more:
    its dependency starts in 50 s and ends in 110 s, and so it starts then (the model is
    walked no further than the job asked about while its dependency is looked up)."""
    busy = submit(spool, "default", "busy")
    start(spool, busy, ago=10)
    build = submit(spool, "default", "build")
    tests = store.submit(spool, [JobSpec(command=["t"], name="tests", priority="urgent", after=[build])])[0]
    assert [p.id for p in spool.pending("default")] == [tests, build]
    history = stats(spool, {"busy": 60, "build": 60, "tests": 30})
    hb = Heartbeat(id="h-1-ab12", host="h", pid=1, queues=["default"], slots=1, started_at=NOW)
    other = submit(spool, "default", "other")
    history.by_kind[kind_of(spool.show(other).job)] = TypeStats(1, 1, 5)
    ctx = QueueContext.load(spool, "default", [RunnerState(hb, age=1.0)], history, now=NOW)
    # asked about the last job first: tests's dependency is first met in the middle of that walk
    assert ctx.why(spool.show(other).job, False).eta == pytest.approx(110)
    assert ctx.why(spool.show(tests).job, False).eta == pytest.approx(110)
    assert ctx.why(spool.show(build).job, False).eta == pytest.approx(50)


def test_two_threads_asking_at_once_both_see_the_dependency(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TUI's detail worker and its UI thread ask one context at once. The second must
    not take the first's half-read dependency for a pruned one (the detail said "starting"
    while the list said "waits for ... (running)")."""
    a = submit(spool, "default", "build")
    b = submit(spool, "test", "test", after=[a])
    ctx = QueueContext.load(spool, "test", live(), History(), now=NOW)
    job = spool.show(b).job
    inside, asked = threading.Event(), threading.Event()
    real = Spool.queue_names

    def slow(self: Spool):  # type: ignore[no-untyped-def]
        if threading.current_thread() is not threading.main_thread() and not inside.is_set():
            inside.set()  # the worker is reading its dependency: the UI thread asks now
            asked.wait(1.0)
        return real(self)

    monkeypatch.setattr(Spool, "queue_names", slow)
    worker = threading.Thread(target=ctx.why, args=(job, False))
    worker.start()
    assert inside.wait(5)
    w = ctx.why(job, False)
    asked.set()
    worker.join()
    assert w.deps is not None and [x.id for x in w.deps.waits_for] == [a]
