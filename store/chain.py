"""A job's chain as people read it: what it waits for, which jobs wait for it, and which
would be cancelled with it (`ls --json`, `show`, the TUI's detail and its cancel dialog).
The reverse index is `store/deps.py`'s (deps/ID/); this only reads it, listing each
queue's waiting jobs once however many entries name it (9,999 jobs waiting on one build
cost one listing, not 9,999)."""

from __future__ import annotations

import os

import msgspec

from .depindex import entries
from .errors import SpoolError
from .layout import DEP_RE, PendingName
from .model import Job
from .refs import JobRef
from .spool import Spool

SHOWN = 10  # dependents described by name and state; the rest are counted


class Blocker(msgspec.Struct):
    """A job of a chain (one waited for, or one waiting), as it is now (a Struct, not a
    dataclass: a cancel loads this, and dataclasses' import is a short command's cost)."""

    id: str
    name: str
    queue: str
    state: str | None  # None: no such job any more (pruned)
    job: Job | None = None


class Waiters:
    """Which jobs wait for a given job now: its index entries whose job still waits."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._waiting: dict[str, dict[str, PendingName]] = {}
        self._index = os.fspath(spool.layout.deps(""))  # deps/: ID/ under it, per layout.deps

    def ids(self, job_id: str) -> list[str]:
        """Their ids: one failed listing for a job nobody waits for (`ls --json` asks for every job)."""
        try:
            names = os.listdir(os.path.join(self._index, job_id))
        except OSError:
            return []
        found = [(m["queue"], m["id"]) for n in names if (m := DEP_RE.fullmatch(n))]
        return [dep for queue, dep in found if dep in self._queue(queue)]

    def of(self, job_id: str) -> list[JobRef]:
        out = []
        for queue, dep in entries(self.spool, job_id):
            p = self._queue(queue).get(dep)
            if p is not None:  # an entry whose job moved on (released, cancelled) is not a waiter
                out.append(self.spool.pending_ref(queue, p))
        return out

    def _queue(self, queue: str) -> dict[str, PendingName]:
        known = self._waiting.get(queue)
        if known is None:
            try:
                known = {p.id: p for p in self.spool.pending(queue)}
            except SpoolError:
                known = {}  # the queue was removed
            self._waiting[queue] = known
        return known


def describe(spool: Spool, job_id: str) -> Blocker:
    """One job of a chain as it is now (no expected end)."""
    try:
        ref = spool.find(job_id)
        return Blocker(job_id, spool.read(ref).name, ref.queue, ref.state)
    except SpoolError:
        return Blocker(job_id, "", "", None)


def chain(spool: Spool, job: Job) -> tuple[list[Blocker], list[Blocker], int]:
    """The jobs this one waits for (after, then after_finished), the first SHOWN of those
    waiting for it, and how many wait for it."""
    before = [describe(spool, i) for i in dict.fromkeys([*job.after, *job.after_finished])]
    waiters = Waiters(spool).of(job.id)
    after = []
    for r in waiters[:SHOWN]:
        try:
            after.append(Blocker(r.id, spool.read(r).name, r.queue, r.state))
        except SpoolError:
            after.append(describe(spool, r.id))  # it moved since the index was read
    return before, after, len(waiters)


def cancelled_with(spool: Spool, ids: list[str]) -> list[str]:
    """The waiting jobs that cancelling `ids` would cancel too: those waiting `--after` one
    of them, transitively (an `--after-finished` dependent is released, not cancelled)."""
    waiters = Waiters(spool)
    seen = set(ids)
    out: list[str] = []
    todo = list(ids)
    while todo:
        cause = todo.pop()
        for r in waiters.of(cause):
            if r.id in seen:
                continue
            try:
                job = spool.read(r, cache=False)
            except SpoolError:
                continue
            if cause in job.after:
                seen.add(r.id)
                out.append(r.id)
                todo.append(r.id)
    return out


def put_back_with(spool: Spool, ids: list[str]) -> int:
    """How many jobs a retry of `ids` with their dependents puts back: those cancelled
    because one of them failed, transitively."""
    from .depindex import cancelled_dependents

    seen = set(ids)
    todo = list(ids)
    while todo:
        for _queue, dep, _old in cancelled_dependents(spool, todo.pop()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return len(seen) - len(set(ids))
