"""supersede: a trigger's new job takes the place of its waiting predecessor."""

from __future__ import annotations

import os
import time

import msgspec

from .. import atomic, deps
from ..errors import JobNotFound, StorageError
from .commit import commit
from .submit import place
from ..layout import done_name, parse_pending, pending_name
from ..model import Job, Result, actor, encode_job
from ..ordering import index_of, insert_rank
from ..spool import Spool
from ..states import State


def supersede(spool: Spool, old_id: str, job: Job) -> bool:
    """Place `job` where the waiting job `old_id` is, and finish that one as cancelled,
    superseded by `job`. True if it replaced; False if `old_id` no longer waited (it
    started, finished or vanished), in which case `job` is queued as a new job.

    The new job takes the old one's rank (and its held flag: a person held it) under
    the queue's lock, so no runner can claim either in between; the new file goes in
    first, so a crash leaves two waiting jobs rather than none.
    """
    try:
        r = spool.find(old_id)
    except JobNotFound:
        r = None
    if r is None or r.pending is None:
        place(spool, [job])
        return False
    if r.queue != job.queue:
        place(spool, [job])
        return _retire(spool, r.queue, old_id, job.id)
    lay = spool.layout
    blocked = deps.prepare(spool, [job])  # waits on other jobs: placed .wait (store/deps.py)
    staged = atomic.stage(lay.tmp, encode_job(job), "submit")
    try:
        with spool.lock(job.queue):
            order = spool.pending(job.queue)
            me = index_of(order, old_id)
            if me is None:
                rank, held = insert_rank(spool, job.queue, order, job.priority), False
            else:
                rank, held = order[me].rank, order[me].held
            dest = lay.pending(job.queue) / pending_name(rank, job.priority, job.id, held,
                                                          "wait" if blocked and not held else None)
            try:
                os.rename(staged, dest)
            except OSError as exc:
                raise StorageError.wrap(exc, f"cannot queue job {job.id} in {job.queue}") from exc
            atomic.fsync_dir(lay.pending(job.queue))
            replaced = me is not None and _retire_locked(spool, job.queue, order[me].name, old_id, job.id)
            if replaced:
                spool.record(job.id, "supersede", f"took the place of {old_id}")
    finally:
        atomic.unlink_quietly(staged)
    if blocked:
        deps.recheck(spool, [job])
    if replaced:
        deps.on_final(spool, old_id, State.CANCELLED)
    return replaced


def _retire(spool: Spool, queue: str, old_id: str, new_id: str) -> bool:
    with spool.lock(queue):
        me = index_of(spool.pending(queue), old_id)
        if me is None:
            return False
        replaced = _retire_locked(spool, queue, spool.pending(queue)[me].name, old_id, new_id)
    if replaced:
        deps.on_final(spool, old_id, State.CANCELLED)
    return replaced


def _retire_locked(spool: Spool, queue: str, name: str, old_id: str, new_id: str) -> bool:
    """Finish a waiting job as cancelled, superseded by `new_id` (caller holds the lock)."""
    lay = spool.layout
    src = lay.pending(queue) / name
    p = parse_pending(name)
    assert p is not None
    try:
        old, original = spool.load(src, old_id, queue, p.state)
    except JobNotFound:
        return False
    t = time.time()
    dest = lay.done(queue) / done_name(old_id, State.CANCELLED, t)
    old = msgspec.structs.replace(old, superseded_by=new_id, result=Result(
        state=State.CANCELLED, reason="superseded", finished_at=t, by=actor(), attempt=old.attempt,
        message=f"superseded by {new_id}"))
    # Staged before the commit, as every transition: a full disk stops it before it starts.
    if not commit(lay.tmp, src, dest, encode_job(old, original), "supersede", old_id,
                  sync=(lay.done(queue), lay.pending(queue))):
        return False
    spool.record(old_id, "superseded", f"by {new_id}")
    return True
