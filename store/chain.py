"""A job's chain as people read it: what it waits for, which jobs wait for it, and which
would be cancelled with it (`show`, the TUI's detail and its cancel dialog). The reverse
index itself is `store/deps.py`'s; this only reads it."""

from __future__ import annotations

from .deps import dependents
from .errors import SpoolError
from .model import Job
from .spool import Spool
from .states import WAITING
from .waiting import Blocker


def describe(spool: Spool, job_id: str) -> Blocker:
    """One job of a chain as it is now (no expected end): for `show` and the TUI's detail."""
    try:
        ref = spool.find(job_id)
        return Blocker(job_id, spool.read(ref).name, ref.queue, ref.state)
    except SpoolError:
        return Blocker(job_id, "", "", None)


def chain(spool: Spool, job: Job) -> tuple[list[Blocker], list[Blocker]]:
    """The jobs this one waits for (after, then after_finished) and those waiting for it."""
    before = [describe(spool, i) for i in dict.fromkeys([*job.after, *job.after_finished])]
    after = []
    for r in dependents(spool, job.id):
        try:
            after.append(Blocker(r.id, spool.read(r).name, r.queue, r.state))
        except SpoolError:
            after.append(describe(spool, r.id))  # it moved since the index was read
    return before, after



def cancelled_with(spool: Spool, ids: list[str]) -> list[Blocker]:
    """The waiting jobs that cancelling `ids` would cancel too: those waiting `--after` one
    of them, transitively (an `--after-finished` dependent is released, not cancelled)."""
    seen = set(ids)
    out: list[Blocker] = []
    todo = list(ids)
    while todo:
        cause = todo.pop()
        for r in dependents(spool, cause):
            if r.id in seen or r.state not in WAITING:
                continue
            try:
                job = spool.read(r)
            except SpoolError:
                continue
            if cause in job.after:
                seen.add(r.id)
                out.append(Blocker(r.id, job.name, r.queue, r.state))
                todo.append(r.id)
    return out
