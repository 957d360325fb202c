"""retry: a finished job queued again as its next attempt."""

from __future__ import annotations

import msgspec

from ..errors import JobStateError
from .commit import commit_rewritten
from ..layout import pending_name
from ..model import encode_job
from ..ordering import index_of, insert_rank
from ..spool import Spool
from ..states import FINAL


def retry(spool: Spool, ref: str) -> int:
    """Queue a finished job again as its next attempt (its earlier results kept). Returns position."""
    r = spool.find(ref)
    if r.state not in FINAL:
        raise JobStateError(f"job {r.id} is {r.state}; only a finished job can be retried")
    lay = spool.layout
    with spool.lock(r.queue):
        job, original = spool.load(r.path, r.id, r.queue, r.state)
        order = spool.pending(r.queue)
        rank = insert_rank(spool, r.queue, order, job.priority)
        dest = lay.pending(r.queue) / pending_name(rank, job.priority, job.id)
        history = [*job.history, job.result] if job.result else list(job.history)
        job = msgspec.structs.replace(job, attempt=job.attempt + 1, result=None, claim=None, history=history,
                                      max_attempts=max(job.max_attempts, job.attempt + 1), lost=0)
        commit_rewritten(spool, r, "retry", r.path, dest, encode_job(job, original),
                         sync=(lay.pending(r.queue), lay.done(r.queue)))
        spool.record(r.id, "retry", f"attempt {job.attempt}")
    return (index_of(spool.pending(r.queue), r.id) or 0) + 1
