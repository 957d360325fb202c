"""A trigger's state file and its firing: exactly once per slot, across hosts and crashes."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from .. import atomic, safeio
from ..errors import CorruptJob, JobNotFound, UnsafeFile
from ..jobs.submit import build_job, place
from ..jobs.supersede import supersede
from ..limits import MAX_META_BYTES
from ..locks import locked
from ..model import Job, Trigger, actor, decode, encode
from ..spool import Spool
from .definition import MAX_COUNT, MAX_DETAIL, TriggerDef, TriggerState
from .schedules import fmt_time, schedule_due
from .templates import job_spec, split_sets


def read_state(spool: Spool, name: str) -> TriggerState:
    path = spool.layout.trigger_state_file(name)
    try:
        data = safeio.read_file(path, MAX_META_BYTES, f"the state of trigger {name}")
        return decode(data, TriggerState, f"state of trigger {name}")
    except FileNotFoundError:
        return TriggerState()
    except (CorruptJob, UnsafeFile) as exc:
        # A torn or foreign state file must not stop the trigger: set it aside, start afresh.
        spool.quarantine(path, str(exc))
        return TriggerState()


def write_state(spool: Spool, name: str, state: TriggerState) -> None:
    lay = spool.layout
    lay.trigger_state.mkdir(exist_ok=True)
    atomic.publish(lay.tmp, lay.trigger_state_file(name), encode(state))


def _lock(spool: Spool, name: str) -> Any:
    return locked(spool.layout.trigger_lock(name), f"trigger {name}", spool.lock_timeout)


def forget_state(spool: Spool, name: str) -> None:
    """Remove a trigger's state (its file is gone)."""
    atomic.unlink_quietly(spool.layout.trigger_state_file(name))
    atomic.unlink_quietly(spool.layout.trigger_lock(name))


@dataclass(frozen=True)
class Fired:
    """One firing: the job it placed and the job that one replaced (if coalesced)."""

    trigger: str
    job_id: str | None  # None: nothing was placed (a skipped catch-up, or an arming)
    detail: str
    replaced: str | None = None
    skipped: int = 0


def arm_or_fire_schedule(spool: Spool, d: TriggerDef, now: float | None = None) -> Fired | None:
    """Fire a schedule trigger if a slot is due (see `schedule_due`); None if nothing was due."""
    now = time.time() if now is None else now
    if not d.by_clock or not d.enabled:
        return None
    if schedule_due(d, read_state(spool, d.name), now) is None:
        return None  # the common case, without the lock
    with _lock(spool, d.name):
        state = _recover(spool, d.name, read_state(spool, d.name))
        due = schedule_due(d, state, now)
        if due is None:
            return None
        if due.slot is None:
            state = msgspec.structs.replace(state, last_slot=due.account, skipped=state.skipped + due.missed)
            write_state(spool, d.name, state)
            detail = f"skipped {due.missed} missed slot(s) up to {fmt_time(due.account, d.tz)}" if due.missed else ""
            return Fired(d.name, None, detail, skipped=due.missed) if due.missed else None
        detail = f"slot {fmt_time(due.slot, d.tz)}"
        if due.missed:
            detail += f" (catching up: {due.missed}{'+' if due.missed >= MAX_COUNT else ''} earlier slot(s) missed)"
        values = {"trigger": d.name, "fired_at": fmt_time(due.slot, d.tz), **d.spec.params}
        trig = Trigger(name=d.name, kind="schedule", detail=detail, fired_at=due.slot)
        return _fire_locked(spool, d, state, values, {}, trig, now, last_slot=due.account)


def fire_watch(spool: Spool, d: TriggerDef, changed: Sequence[str], now: float | None = None) -> Fired | None:
    """Fire a watch trigger for a burst of changed paths (relative to its directory).

    Two daemons (two hosts) may see the same burst: the paths' newest mtime, by the
    filesystem's clock, is recorded, and a burst no newer than that was already fired.
    """
    now = time.time() if now is None else now
    assert d.watch_path is not None
    mark = 0
    for rel in changed:
        p = d.watch_path / rel
        # The file's mtime, and its directory's (which a create, delete or rename bumps).
        for cand in (p, p.parent):
            try:
                mark = max(mark, os.lstat(cand).st_mtime_ns)
            except OSError:
                continue
    with _lock(spool, d.name):
        state = _recover(spool, d.name, read_state(spool, d.name))
        if mark and mark <= state.watch_mark:
            return None
        shown = ", ".join(changed[:10]) + (f" (+{len(changed) - 10} more)" if len(changed) > 10 else "")
        detail = f"changed: {shown}"
        values = {"trigger": d.name, "fired_at": fmt_time(now, d.tz), "changed": list(changed), **d.spec.params}
        trig = Trigger(name=d.name, kind="watch", detail=_clip(detail), fired_at=now)
        return _fire_locked(spool, d, state, values, {}, trig, now, watch_mark=max(mark, state.watch_mark))


def fire_by_hand(spool: Spool, d: TriggerDef, sets: Sequence[str] = (), now: float | None = None,
                 who: str | None = None) -> Fired:
    """`coreflow triggers fire NAME [--set K=V]...`: any trigger, now."""
    now = time.time() if now is None else now
    params, overrides = split_sets(d, sets)
    who = who or actor()
    detail = f"by {who}" + (f", set {' '.join(sets)}" if sets else "")
    values: dict[str, Any] = {"trigger": d.name, "fired_at": fmt_time(now, d.tz), **d.spec.params, **params}
    if d.by_files:
        values["changed"] = []
    trig = Trigger(name=d.name, kind="manual", detail=_clip(detail), fired_at=now)
    with _lock(spool, d.name):
        state = _recover(spool, d.name, read_state(spool, d.name))
        return _fire_locked(spool, d, state, values, overrides, trig, now)


def _fire_locked(spool: Spool, d: TriggerDef, state: TriggerState, values: Mapping[str, Any],
                 overrides: Mapping[str, str], trig: Trigger, now: float, **state_changes: Any) -> Fired:
    spec = job_spec(d, values, overrides)
    spec.trigger = trig
    job = build_job(spool, spec, now=time.time())
    prev = state.last_job if d.coalesce else None
    state = msgspec.structs.replace(state, last_fired_at=now, last_job=job.id, last_detail=trig.detail,
                                    fired=state.fired + 1, placing=job, replaces=prev, **state_changes)
    write_state(spool, d.name, state)
    replaced = _place(spool, job, prev)
    write_state(spool, d.name, msgspec.structs.replace(state, placing=None, replaces=None))
    return Fired(d.name, job.id, trig.detail, replaced)


def _place(spool: Spool, job: Job, prev: str | None) -> str | None:
    if prev:
        return prev if supersede(spool, prev, job) else None
    place(spool, [job])
    return None


def recover(spool: Spool, name: str) -> bool:
    """Finish a firing of trigger `name` that a crash interrupted; True if there was one."""
    if read_state(spool, name).placing is None:
        return False
    with _lock(spool, name):
        state = read_state(spool, name)
        _recover(spool, name, state)
        return state.placing is not None


def _recover(spool: Spool, name: str, state: TriggerState) -> TriggerState:
    """Finish a firing that a crash interrupted (caller holds the trigger's lock)."""
    if state.placing is None:
        return state
    try:
        spool.find(state.placing.id)
    except JobNotFound:
        _place(spool, state.placing, state.replaces)
    state = msgspec.structs.replace(state, placing=None, replaces=None)
    write_state(spool, name, state)
    return state


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"
