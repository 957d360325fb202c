"""A trigger's state file and its firing: exactly once per slot, across hosts and crashes."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from .. import atomic, safeio
from ..errors import CorruptJob, JobNotFound, UnsafeFile
from ..jobs.submit import build_job, place
from ..jobs.supersede import supersede
from ..limits import check_job_bytes
from ..locks import locked
from ..model import Job, Trigger, actor, decode, encode, encode_job
from ..spool import Spool
from .definition import MAX_COUNT, MAX_DETAIL, MAX_KEYS, MAX_STATE_BYTES, TriggerDef, TriggerState
from .kinds import KINDS
from .schedules import fmt_time, schedule_due
from .templates import fill, flat_values, job_spec, split_sets


def read_state(spool: Spool, name: str) -> TriggerState:
    path = spool.layout.trigger_state_file(name)
    try:
        data = safeio.read_file(path, MAX_STATE_BYTES, f"the state of trigger {name}")
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


def trigger_lock(spool: Spool, name: str) -> Any:
    """Held while a trigger fires: one firing at a time, across hosts."""
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
    job_ids: tuple[str, ...] = ()  # every job it placed (a pipeline's, in step order)


def arm_or_fire_schedule(spool: Spool, d: TriggerDef, now: float | None = None) -> Fired | None:
    """Fire a schedule trigger if a slot is due (see `schedule_due`); None if nothing was due."""
    now = time.time() if now is None else now
    if not d.by_clock or not d.enabled:
        return None
    if schedule_due(d, read_state(spool, d.name), now) is None:
        return None  # the common case, without the lock
    with trigger_lock(spool, d.name):
        state = recover_locked(spool, d.name, read_state(spool, d.name))
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
        return fire_locked(spool, d, state, values, {}, trig, now, last_slot=due.account)[0]


def fire_by_hand(spool: Spool, d: TriggerDef, sets: Sequence[str] = (), now: float | None = None,
                 who: str | None = None) -> Fired:
    """`coreflow triggers fire NAME [--set K=V]...`: any trigger, now."""
    now = time.time() if now is None else now
    params, overrides = split_sets(d, sets)
    who = who or actor()
    detail = f"by {who}" + (f", set {' '.join(sets)}" if sets else "")
    values: dict[str, Any] = {"trigger": d.name, "fired_at": fmt_time(now, d.tz),
                              **{k: "" for k in KINDS[d.kind].values}, **d.spec.params, **params}
    if d.by_files:
        values.setdefault("changed", [])
        values.setdefault("changes", [])
    trig = Trigger(name=d.name, kind="manual", detail=clip(detail), fired_at=now)
    with trigger_lock(spool, d.name):
        state = recover_locked(spool, d.name, read_state(spool, d.name))
        return fire_locked(spool, d, state, values, overrides, trig, now)[0]


def fire_locked(spool: Spool, d: TriggerDef, state: TriggerState, values: Mapping[str, Any],
                overrides: Mapping[str, str], trig: Trigger, now: float, **state_changes: Any
                ) -> tuple[Fired, TriggerState]:
    """Place the trigger's job(s) for one firing (caller holds the trigger's lock): note
    them in the state, place them (superseding the waiting job(s) of the same coalescing
    key, whose inputs they carry), clear the note. Returns the firing and the new state."""
    key = fill(d.coalesce_key, flat_values(values)) if d.coalesce else None
    prev = _waiting_for(state, key)
    values = _carried(spool, d, prev, values)
    if prev and trig.kind == d.kind and (covers := KINDS[d.kind].covers) is not None:  # the superseded inputs too
        trig = msgspec.structs.replace(trig, detail=clip(covers(values)))
    params = flat_values(values, "\n")
    jobs: list[Job] = []
    for t in d.templates:
        spec = job_spec(d, values, overrides, t)
        spec.trigger = trig
        job = build_job(spool, spec, now=time.time(), earlier=jobs)
        job = msgspec.structs.replace(job, params=params, coalesce=key or "")
        check_job_bytes(len(encode_job(job)))
        jobs.append(job)
    ids = [j.id for j in jobs]
    waiting = state.waiting
    if key is not None:  # the newest key last, so the oldest are forgotten first
        waiting = {k: v for k, v in waiting.items() if k != key}
        waiting = dict(list(waiting.items())[-(MAX_KEYS - 1):]) | {key: ids}
    state = msgspec.structs.replace(state, last_fired_at=now, last_job=ids[-1], last_detail=trig.detail,
                                    fired=state.fired + 1, placing=jobs if len(jobs) > 1 else jobs[0],
                                    replaces=prev or None, waiting=waiting, **state_changes)
    write_state(spool, d.name, state)
    why = f"a newer firing of trigger {d.name}" + (f" for {key}" if key else "")
    replaced = _place(spool, jobs, prev, why)
    state = msgspec.structs.replace(state, placing=None, replaces=None)
    write_state(spool, d.name, state)
    return Fired(d.name, ids[0], trig.detail, replaced, job_ids=tuple(ids)), state


def _waiting_for(state: TriggerState, key: str | None) -> list[str]:
    """The jobs the last firing with this coalescing key placed (None: not coalescing)."""
    if key is None:
        return []
    if key in state.waiting:
        return list(state.waiting[key])
    return [state.last_job] if key == "" and state.last_job and not state.waiting else []


def _carried(spool: Spool, d: TriggerDef, prev: list[str], values: Mapping[str, Any]) -> Mapping[str, Any]:
    """`values` with the inputs of the waiting job(s) about to be superseded carried in
    (a pipeline's jobs share theirs: its first job's are all of them). Should the old job
    start before it is superseded, the new one still carries them: a superset, never less."""
    for job_id in prev[:1]:
        try:
            view = spool.show(job_id)
        except JobNotFound:
            continue
        if view.state in ("pending", "held"):
            values = KINDS[d.kind].carry(view.job.params, values)
    return values


def _place(spool: Spool, jobs: list[Job], prev: list[str], why: str = "") -> str | None:
    """Queue a firing's job(s), superseding `prev` (its key's waiting job(s)) if they still wait."""
    if prev:
        return prev[0] if supersede(spool, prev, jobs, why) else None
    place(spool, jobs)
    return None


def recover(spool: Spool, name: str) -> bool:
    """Finish a firing of trigger `name` that a crash interrupted; True if there was one."""
    if read_state(spool, name).placing is None:
        return False
    with trigger_lock(spool, name):
        state = read_state(spool, name)
        recover_locked(spool, name, state)
        return state.placing is not None


def recover_locked(spool: Spool, name: str, state: TriggerState) -> TriggerState:
    """Finish a firing that a crash interrupted (caller holds the trigger's lock)."""
    if state.placing is None:
        return state
    jobs = state.placing if isinstance(state.placing, list) else [state.placing]
    prev = state.replaces if isinstance(state.replaces, list) else [state.replaces] if state.replaces else []
    try:
        spool.find(jobs[0].id)
    except JobNotFound:
        _place(spool, jobs, prev)
    state = msgspec.structs.replace(state, placing=None, replaces=None)
    write_state(spool, name, state)
    return state


def clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"
