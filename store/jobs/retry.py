"""retry: a finished job queued again as its next attempt (and, if asked, the jobs that
were cancelled because it failed, back at their old places, waiting on it again)."""

from __future__ import annotations

import msgspec

from .. import deps, depindex
from ..errors import JobNotFound, JobStateError
from .commit import commit_rewritten
from ..layout import PendingName, pending_name
from ..model import Job, encode_job
from ..ordering import index_of, insert_rank
from ..spool import Spool
from ..states import FINAL, State


def retry(spool: Spool, ref: str, with_dependents: bool = False) -> int:
    """Queue a finished job again as its next attempt (its earlier results kept). Returns
    its position. `with_dependents`: also put back, transitively, the jobs cancelled
    because it failed (reason "dependency"), at their old places, waiting on it again."""
    r = spool.find(ref)
    if r.state not in FINAL:
        raise JobStateError(f"job {r.id} is {r.state}; only a finished job can be retried")
    job = _requeue(spool, r.id, None)
    placed = [job] if job is not None else []
    if with_dependents:
        work = [r.id]
        while work:
            dep = work.pop()
            for queue, did, old in depindex.cancelled_dependents(spool, dep):
                try:
                    if (back := _requeue(spool, did, old, because=dep)) is not None:
                        placed.append(back)
                        work.append(did)
                except JobNotFound:
                    pass  # pruned since: nothing to put back
                depindex.forget_cancelled(spool, dep, queue, did, old)
    # A job that ended while we put the others back did not see them: look ourselves, as a submit does.
    deps.recheck(spool, [j for j in placed if deps.is_blocking(j)])
    return (index_of(spool.pending(r.queue), r.id) or 0) + 1


def _requeue(spool: Spool, job_id: str, old: PendingName | None, because: str = "") -> Job | None:
    """One finished job back to pending/ as its next attempt: behind its priority (old is
    None) or at its old place. A blocked job's index is written before it is placed.
    With `because`, only a job still cancelled for a dependency is put back (else None)."""
    r = spool.find(job_id)
    if r.state not in FINAL:
        if because:
            return None
        raise JobStateError(f"job {r.id} is {r.state}; only a finished job can be retried")
    lay = spool.layout
    with spool.lock(r.queue):
        job, original = spool.load(r.path, r.id, r.queue, r.state)
        if because and (r.state != State.CANCELLED or job.result is None or job.result.reason != "dependency"):
            return None
        history = [*job.history, job.result] if job.result else list(job.history)
        job = msgspec.structs.replace(job, attempt=job.attempt + 1, result=None, claim=None, history=history,
                                      max_attempts=max(job.max_attempts, job.attempt + 1), lost=0)
        kind = None
        if not because and deps.is_blocking(job) and (doom := deps.verdict(spool, job))[0] == deps.DOOMED:
            raise JobStateError(f"cannot retry job {r.id}: it could never start ({doom[1]}); "
                                "retry that dependency with --with-dependents instead")
        if deps.is_blocking(job) and (because or deps.verdict(spool, job)[0] != deps.READY):
            deps.register(spool, [job])
            kind = "wait"
        order = spool.pending(r.queue)
        if old is not None and all(p.rank != old.rank for p in order):
            rank, prio = old.rank, old.priority
        else:
            rank, prio = insert_rank(spool, r.queue, order, job.priority), job.priority
        dest = lay.pending(r.queue) / pending_name(rank, prio, job.id, kind=kind)
        commit_rewritten(spool, r, "retry", r.path, dest, encode_job(job, original),
                         sync=(lay.pending(r.queue), lay.done(r.queue)))
        spool.record(r.id, "retry", f"attempt {job.attempt}" + (f", waits for {because} again" if because else ""))
    return job

