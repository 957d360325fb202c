"""When a draining runner (--drain) is done.

Its queues may still hold blocked jobs (pending/*.wait): waiting on other jobs, perhaps
in queues other runners serve, or on a start time. A drain stays for those that will
become runnable without anyone acting: every dependency running, or queued where a live
runner can take it, or itself blocked on such; a start time ahead. It leaves those that
wait for a person (a dependency held, in a paused queue, in a queue nobody serves),
naming one. A blocked job whose dependencies have all ended (its release or cancel not
done yet) is settled on the spot.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from store import Spool
from store.deps import DOOMED, WAIT, blockers, on_final, settle, verdict
from store.errors import JobNotFound, SpoolError
from store.model import Job
from store.refs import JobRef
from store.runners import RunnerState, runners
from store.states import State

RECHECK = 2.0  # seconds a "something is coming" verdict is trusted, at least (see Drain.waits)
MAX_DEPTH = 20  # a chain of blocked jobs is followed this deep, no deeper
UNUSABLE = ("error", "gone", "paused")  # a runner with this status for a queue will not run its jobs


@dataclass(slots=True)
class Drain:
    """A draining runner's view of its blocked jobs."""

    spool: Spool
    me: str  # this runner's id
    labels: frozenset[str]
    stuck: str = ""  # after waits() said no: the first blocked job that waits for a person, and why
    _coming: bool = False
    _next: float = 0.0

    def waits(self, queues: list[str], status: Mapping[str, str]) -> bool:
        """Should the draining runner stay for blocked jobs of `queues`? Worked out again
        after RECHECK, or ten times as long as the last look took (a big queue)."""
        now = time.monotonic()
        if now >= self._next:
            look = _Look(self.spool, self.me, self.labels, queues, status)
            self._coming, self.stuck = look.run([q for q in queues if status.get(q) == "ineligible"])
            self._next = time.monotonic() + max(RECHECK, 10 * (time.monotonic() - now))
        return self._coming


@dataclass(slots=True)
class _Look:
    """One look over the spool: every job's state listed once, each dependency judged once."""

    spool: Spool
    me: str
    labels: frozenset[str]
    queues: list[str]
    status: Mapping[str, str]
    refs: dict[str, JobRef] = field(default_factory=dict)
    known: dict[str, State | None] = field(default_factory=dict)
    judged: dict[str, tuple[bool, str]] = field(default_factory=dict)
    live: list[RunnerState] = field(default_factory=list)

    def run(self, ineligible: list[str]) -> tuple[bool, str]:
        """(a blocked job of these queues will become runnable on its own, else why not)."""
        try:
            self.live = [r for r in runners(self.spool) if not r.lost and not r.beat.stopping and r.beat.id != self.me]
            self.refs = self.spool.every_ref()
            self.known = {i: State(r.state) for i, r in self.refs.items()}
        except SpoolError as exc:
            return False, f"cannot tell what its blocked jobs wait for: {exc}"
        stuck = ""
        for q in ineligible:
            for r in [r for r in self.refs.values() if r.queue == q and r.pending is not None and r.pending.blocked]:
                try:
                    ok, why = self._job(self.spool.read(r, cache=False), 0)
                except JobNotFound:
                    ok, why = True, "it just changed"  # released, cancelled or moved: look again
                except SpoolError as exc:
                    ok, why = False, f"cannot be read: {exc}"
                if ok:
                    return True, ""
                stuck = stuck or f"{r.id[-8:]} {why}"
        return False, stuck

    def _job(self, job: Job, depth: int) -> tuple[bool, str]:
        """Will this blocked job become runnable on its own? And why (not)."""
        what, _ = verdict(self.spool, job, None, self.known)
        if what != WAIT:  # every dependency ended: release or cancel it now, not at the next sweep
            if depth == 0:
                for cancelled in settle(self.spool, job.queue, [job.id]):
                    on_final(self.spool, cancelled, State.CANCELLED)
            return what != DOOMED or depth == 0, ""  # settled here: the next look sees the outcome
        for dep, st in blockers(self.spool, job, self.known):
            ok, why = self._dep(dep, st, depth)
            if not ok:
                return False, why
        return True, ""

    def _dep(self, dep: str, st: State | None, depth: int) -> tuple[bool, str]:
        if dep not in self.judged:
            self.judged[dep] = (False, f"waits for {dep[-8:]} (a chain too deep to follow)")
            self.judged[dep] = self._judge(dep, st, depth)
        return self.judged[dep]

    def _judge(self, dep: str, st: State | None, depth: int) -> tuple[bool, str]:
        short = dep[-8:]
        if st == State.RUNNING:
            return True, ""
        r = self.refs.get(dep)
        if st != State.PENDING or r is None:
            return False, f"waits for {short} ({st or 'gone'})"
        if self.spool.queue_config(r.queue).paused:
            return False, f"waits for {short} (pending in {r.queue}, which is paused)"
        job = self.spool.read(r, cache=False)
        if r.pending is not None and r.pending.blocked:
            if depth >= MAX_DEPTH:
                return False, f"waits for {short} (a chain too deep to follow)"
            ok, why = self._job(job, depth + 1)
            return ok, "" if ok else f"waits for {short}, which {why}"
        if self._served(r.queue, set(job.requires)):
            return True, ""
        return False, f"waits for {short} (pending in {r.queue}), which no runner will take as things stand"

    def _served(self, queue: str, needs: set[str]) -> bool:
        if queue in self.queues and self.status.get(queue) not in UNUSABLE and needs <= self.labels:
            return True
        return any(r.serves(queue) and needs <= set(r.beat.labels) for r in self.live)
