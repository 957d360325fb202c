"""Coalescing: a firing replaces the trigger's previous job while it waits, in its place."""

from __future__ import annotations

import store
from store import JobSpec, Spool
from store import build_job
from store.jobs.supersede import supersede
from store.triggers import read_state
from coreflow_tui.triggers.daemon import TriggerDaemon

from .helpers import T0, FakeClock, daemon, schedule, trigger_jobs


def _submit(spool: Spool, name: str) -> str:
    return store.submit(spool, [JobSpec(command=["true"], name=name)])[0]


def _ticking(spool: Spool, coalesce: bool = True) -> tuple[FakeClock, TriggerDaemon]:
    """A 10 s schedule, its daemon, and the clock, after the daemon's first look."""
    schedule(spool, every="10s", coalesce=coalesce)
    clock = FakeClock(T0 + 1)
    d = daemon(spool, clock)
    d.tick()
    return clock, d


def _order(spool: Spool) -> list[str]:
    views, _ = spool.jobs("default", {"pending", "held"})
    return [v.job.name for v in views]


def test_keeps_one_waiting_job_in_its_place(spool: Spool) -> None:
    clock, d = _ticking(spool)
    _submit(spool, "before")
    clock.advance(10)
    (first,) = d.tick()
    _submit(spool, "after")
    assert _order(spool) == ["before", "tick at 2023-11-14T22:00:10Z", "after"]
    clock.advance(10)
    (second,) = d.tick()
    assert second.replaced == first.job_id
    assert _order(spool) == ["before", "tick at 2023-11-14T22:00:20Z", "after"]  # same place, new job
    old = spool.show(first.job_id)
    assert old.state == "cancelled"
    assert old.job.superseded_by == second.job_id
    assert old.job.result is not None and old.job.result.reason == "superseded"
    assert old.job.result.message == f"superseded by {second.job_id} (a newer firing of trigger tick)"
    assert [a.action for a in spool.audit(first.job_id)] == ["superseded"]
    assert len(trigger_jobs(spool, "tick", {"pending"})) == 1
    assert read_state(spool, "tick").last_job == second.job_id


def test_a_held_job_is_replaced_by_a_held_one(spool: Spool) -> None:
    clock, d = _ticking(spool)
    clock.advance(10)
    (first,) = d.tick()
    store.hold(spool, first.job_id)
    clock.advance(10)
    (second,) = d.tick()
    assert spool.show(second.job_id).state == "held"  # a person held it: the hold stays


def test_a_job_that_started_is_not_replaced(spool: Spool) -> None:
    clock, d = _ticking(spool)
    clock.advance(10)
    (first,) = d.tick()
    store.cancel(spool, first.job_id)  # no longer waiting (as good as started, for coalescing)
    _submit(spool, "other")
    clock.advance(10)
    (second,) = d.tick()
    assert second.replaced is None
    assert _order(spool) == ["other", "tick at 2023-11-14T22:00:20Z"]


def test_without_coalesce_jobs_stack(spool: Spool) -> None:
    clock, d = _ticking(spool, coalesce=False)
    for _ in range(3):
        clock.advance(10)
        d.tick()
    assert len(trigger_jobs(spool, "tick", {"pending"})) == 3


def test_supersede_into_another_queue(spool: Spool) -> None:
    """A template that moved to another queue: the new job queues there, the old one is retired."""
    spool.add_queue("build")
    old = _submit(spool, "old")
    new = build_job(spool, JobSpec(command=["true"], name="new", queue="build"))
    assert supersede(spool, [old], [new]) is True
    assert spool.show(old).state == "cancelled"
    assert spool.show(new.id).queue == "build"
