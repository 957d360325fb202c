"""Schedules under an injected clock: on time, catch-up after a gap, exactly once."""

from __future__ import annotations

import msgspec
import pytest

from store import JobSpec, Spool, build_job
from store.triggers import TriggerState, load_trigger, read_state, save_trigger, schedule_due, write_state

from .helpers import T0, FakeClock, daemon, schedule, trigger_jobs


def test_fires_on_each_slot_and_records_what_fired_it(spool: Spool) -> None:
    schedule(spool, every="30s")
    clock = FakeClock(T0 + 5)
    d = daemon(spool, clock)
    assert d.tick() == []  # the first look arms the trigger; it never fires for a slot already past
    clock.advance(24)  # T0+29: not yet
    assert d.tick() == []
    clock.advance(1.2)  # T0+30.2: the slot
    fired = d.tick()
    assert [f.trigger for f in fired] == ["tick"]
    assert d.tick() == []  # the same slot never fires twice
    clock.advance(30)
    assert len(d.tick()) == 1
    jobs = trigger_jobs(spool, "tick")
    assert len(jobs) == 2
    first = min(jobs, key=lambda v: v.job.trigger.fired_at)
    assert first.job.trigger.kind == "schedule"
    assert first.job.trigger.fired_at == T0 + 30
    assert first.job.trigger.detail == "slot 2023-11-14T22:00:30Z"
    assert first.job.name == "tick at 2023-11-14T22:00:30Z"
    assert first.job.command == ["make", "-C", "src"]


def test_cron_in_a_time_zone(spool: Spool) -> None:
    save_trigger(spool, "nine", 'kind = "schedule"\ncron = "0 9 * * *"\ntimezone = "Europe/Berlin"\n'
                                '[job]\ncommand = ["true"]\nname = "{fired_at}"\n')
    # 2024-07-01 06:59:59 UTC is 08:59:59 in Berlin (summer time).
    clock = FakeClock(1719817199.0)
    d = daemon(spool, clock)
    d.tick()
    clock.advance(1.5)
    assert len(d.tick()) == 1
    (job,) = trigger_jobs(spool, "nine")
    assert job.job.name == "2024-07-01T09:00:00+02:00"


@pytest.mark.parametrize("policy", ["once", "skip"])
def test_catch_up_after_a_gap(spool: Spool, policy: str) -> None:
    schedule(spool, every="10s", catch_up=policy)
    clock = FakeClock(T0 + 1)
    d = daemon(spool, clock)
    d.tick()
    clock.advance(10)
    assert len(d.tick()) == 1  # T0+10 on time
    clock.advance(3600)  # nothing ran for an hour: 360 slots passed
    fired = d.tick()
    jobs = trigger_jobs(spool, "tick")
    if policy == "once":
        assert len(fired) == 1 and fired[0].job_id is not None
        assert len(jobs) == 2  # one for the gap, never one per missed slot
        assert "359 earlier slot(s) missed" in fired[0].detail
    else:
        assert len(fired) == 1 and fired[0].job_id is None and fired[0].skipped == 360
        assert len(jobs) == 1
        assert read_state(spool, "tick").skipped == 360
    assert d.tick() == []
    clock.advance(10)  # and then on time again
    assert len(d.tick()) == 1 and fired[0].trigger == "tick"


def test_skip_fires_a_slot_that_is_only_a_little_late(spool: Spool) -> None:
    schedule(spool, every="60s", catch_up="skip")
    clock = FakeClock(T0 + 1)
    d = daemon(spool, clock)
    d.tick()
    clock.advance(59 + 20)  # the T0+60 slot, seen 20 s late: within half a period
    assert len(d.tick()) == 1
    clock.advance(60 + 35)  # the next one seen 35 s late: a gap, skipped
    assert [f.job_id for f in d.tick()] == [None]


def test_no_double_firing_across_a_restart(spool: Spool) -> None:
    schedule(spool, every="30s")
    clock = FakeClock(T0 + 1)
    d = daemon(spool, clock)
    d.tick()
    clock.advance(30)
    assert len(d.tick()) == 1
    d.close()
    restarted = daemon(spool, clock)  # same instant, fresh process: state comes from the spool
    assert restarted.tick() == []
    clock.advance(10)
    assert restarted.tick() == []
    clock.advance(20)
    assert len(restarted.tick()) == 1
    assert len(trigger_jobs(spool, "tick")) == 2


def test_no_miss_across_a_restart(spool: Spool) -> None:
    """A slot that passed while the daemon was down fires once it is back (catch_up once)."""
    schedule(spool, every="30s")
    clock = FakeClock(T0 + 1)
    daemon(spool, clock).tick()
    clock.advance(45)  # down over the T0+30 slot
    assert len(daemon(spool, clock).tick()) == 1


def test_two_daemons_fire_a_slot_once(spool: Spool) -> None:
    """Two hosts' daemons on one spool: the trigger's lock and state make one firing."""
    schedule(spool, every="30s")
    clock = FakeClock(T0 + 1)
    a, b = daemon(spool, clock), daemon(spool, clock)
    a.tick(), b.tick()
    clock.advance(30)
    assert len(a.tick()) + len(b.tick()) == 1
    clock.advance(30)
    assert len(b.tick()) + len(a.tick()) == 1
    assert len(trigger_jobs(spool, "tick")) == 2


def test_a_firing_interrupted_by_a_crash_is_placed_once(spool: Spool) -> None:
    """The job noted in the state before placing is placed by the next start, exactly once."""
    schedule(spool, every="30s")
    job = build_job(spool, JobSpec(command=["make"], name="interrupted"))
    write_state(spool, "tick", TriggerState(last_slot=T0, last_job=job.id, placing=job))
    clock = FakeClock(T0 + 5)
    daemon(spool, clock)  # recovery happens when a trigger is loaded
    daemon(spool, clock)
    assert [v.job.id for v in spool.jobs()[0]] == [job.id]
    assert read_state(spool, "tick").placing is None


def test_due_is_a_pure_function_of_state_and_time(spool: Spool) -> None:
    schedule(spool, every="30s")
    d = load_trigger(spool, "tick")
    armed = schedule_due(d, TriggerState(), T0 + 7)
    assert armed is not None and armed.slot is None and armed.account == T0
    state = msgspec.structs.replace(TriggerState(), last_slot=T0)
    assert schedule_due(d, state, T0 + 29.9) is None
    due = schedule_due(d, state, T0 + 30)
    assert due is not None and due.slot == T0 + 30 and due.missed == 0
