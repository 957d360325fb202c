"""When a draining runner (--drain) is done.

Its queues may still hold blocked jobs (pending/*.wait): waiting on other jobs, perhaps
in queues other runners serve, or on a start time. A drain waits for those that will
become runnable without anyone acting (a dependency running, or queued where a live
runner can take it; a start time ahead) and leaves those that would wait for a person
(a dependency held, paused, or in a queue nobody serves), saying which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from store import Spool
from store.deps import blockers
from store.errors import SpoolError
from store.model import Job
from store.runners import RunnerState, runners
from store.states import FINAL, State

RECHECK = 2.0  # seconds a "something is coming" verdict is trusted before it is worked out again
MAX_DEPTH = 20  # a chain of waiting jobs is followed this deep, no deeper


@dataclass(slots=True)
class Drain:
    """A draining runner's view of its blocked jobs, worked out at most every RECHECK s."""

    spool: Spool
    coming: str = ""  # a blocked job that will become runnable on its own, and why
    stuck: str = ""  # else: the first blocked job that waits for a person, and why
    _at: float = field(default=-RECHECK)

    def waits(self, queues: list[str]) -> bool:
        """Should the draining runner stay for blocked jobs of `queues`?"""
        now = time.monotonic()
        if now - self._at >= RECHECK:
            self._at = now
            self.coming, self.stuck = _look(self.spool, queues)
        return bool(self.coming)


def _look(spool: Spool, queues: list[str]) -> tuple[str, str]:
    live = [r for r in runners(spool) if not r.lost and not r.beat.stopping]
    stuck = ""
    for q in queues:
        try:
            refs = [r for r in spool.refs(q, {State.PENDING}) if r.pending is not None and r.pending.blocked]
        except SpoolError:
            continue
        for r in refs:
            try:
                job = spool.read(r)
            except SpoolError:
                continue  # it moved on (released, cancelled) or turned corrupt: no wait for it
            why = _coming(spool, job, live, set(), 0)
            if why:
                return f"{job.id[-8:]} {why}", ""
            stuck = stuck or f"{job.id[-8:]} {_stuck(spool, job)}"
    return "", stuck


def _coming(spool: Spool, job: Job, live: list[RunnerState], seen: set[str], depth: int) -> str:
    """Why `job` will become runnable without anyone acting ("" if it will not)."""
    if job.not_before is not None and job.not_before > time.time():
        return "starts at its time"
    for dep, st in blockers(spool, job):
        if st == State.RUNNING:
            return f"waits for {dep[-8:]} (running)"
        if st is None or st in FINAL:  # ended: the job is released or cancelled in a moment
            return f"waits for {dep[-8:]} (ended, being settled)"
        if st != State.PENDING or dep in seen or depth >= MAX_DEPTH:
            continue  # held: a person must release it
        seen.add(dep)
        try:
            ref = spool.find(dep)
            dj = spool.read(ref)
        except SpoolError:
            return f"waits for {dep[-8:]} (it just changed)"
        if spool.queue_config(ref.queue).paused:
            continue
        if ref.pending is not None and ref.pending.blocked:
            if _coming(spool, dj, live, seen, depth + 1):
                return f"waits for {dep[-8:]} (waiting, its turn will come)"
        elif any(r.serves(ref.queue) and set(dj.requires) <= set(r.beat.labels) for r in live):
            return f"waits for {dep[-8:]} (queued in {ref.queue})"
    return ""


def _stuck(spool: Spool, job: Job) -> str:
    deps = blockers(spool, job)
    if not deps:
        return "waits (it just changed)"
    dep, st = deps[0]
    return f"waits for {dep[-8:]} ({st}), which no runner will take as things stand"
