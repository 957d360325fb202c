"""supersede: a trigger's new job takes the place of its waiting predecessor."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import msgspec

from .. import atomic, deps
from ..errors import JobNotFound, StorageError
from .commit import commit
from .submit import place
from ..layout import PendingName, done_name, parse_pending, pending_name
from ..locks import locked_all
from ..model import Job, Result, actor, encode_job
from ..ordering import index_of, insert_rank
from ..spool import Spool
from ..states import State


def supersede(spool: Spool, old_id: str, job: Job, why: str = "") -> bool:
    """Place `job` where the waiting job `old_id` is, and finish that one as cancelled,
    superseded by `job`. True if it replaced; False if `old_id` no longer waited (it
    started, finished or vanished), in which case `job` is queued as a new job. `why`
    (e.g. "a newer firing of trigger build for refs/heads/master") goes into the old
    job's result message, after "superseded by NEWID".

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
        return _retire(spool, r.queue, old_id, job.id, why)
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
            replaced = me is not None and _retire_locked(spool, job.queue, order[me].name, old_id, job.id, why)
            if replaced:
                spool.record(job.id, "supersede", f"took the place of {old_id}")
    finally:
        atomic.unlink_quietly(staged)
    if blocked:
        deps.recheck(spool, [job])
    if replaced:
        deps.on_final(spool, old_id, State.CANCELLED)
    return replaced


def supersede_all(spool: Spool, old_ids: Sequence[str], jobs: Sequence[Job], why: str = "") -> bool:
    """Queue a pipeline's `jobs` (all or nothing) and retire the previous pipeline
    `old_ids` as superseded, but only if none of its jobs has started: under every
    queue's lock each must still wait, else none is retired (False). Each old job is
    superseded by the new job of its step (else the first), which takes its place (its
    rank, and its hold: a person held it) when they share a queue; the others stay at
    the end, where a submit puts them. The new ones go in first, so a crash leaves both
    (or a new job still at the end), never neither.
    """
    place(spool, jobs)
    by_step = {j.step: j for j in jobs}
    olds = []  # (id, queue, the new job that supersedes it, whether that is its own step's)
    for old_id in old_ids:
        try:
            view = spool.show(old_id)
        except JobNotFound:
            return False
        if view.state not in (State.PENDING, State.HELD):
            return False
        olds.append((old_id, view.queue, by_step.get(view.job.step, jobs[0]), view.job.step in by_step))
    lay = spool.layout
    retired = []
    with locked_all([(lay.queue_lock(q), f"queue {q}") for q in sorted({o[1] for o in olds})],
                    spool.lock_timeout):
        names = {}
        for old_id, queue, _new, _same in olds:
            order = spool.pending(queue)
            me = index_of(order, old_id)
            if me is None:
                return False  # started (or finished) since: the whole previous pipeline stays
            names[old_id] = order[me].name
        for old_id, queue, new, same_step in olds:
            if _retire_locked(spool, queue, names[old_id], old_id, new.id, why):
                retired.append(old_id)
                if same_step and new.queue == queue:
                    _take_place(spool, queue, parse_pending(names[old_id]), new)
    for old_id in retired:
        deps.on_final(spool, old_id, State.CANCELLED)
    return len(retired) == len(olds)


def _take_place(spool: Spool, queue: str, old: PendingName | None, new: Job) -> None:
    """Move the new job (placed at the end) to the rank of the old one it superseded
    (caller holds the lock). A new job a runner took meanwhile stays as it is."""
    order = spool.pending(queue)
    me = index_of(order, new.id)
    if old is None or me is None:
        return
    pend = spool.layout.pending(queue)
    name = pending_name(old.rank, new.priority, new.id, kind="held" if old.held else order[me].kind)
    try:
        if atomic.commit_rename(pend / order[me].name, pend / name):
            atomic.fsync_dir(pend)
    except StorageError:
        pass  # it keeps its place at the end: the supersede itself is done


def _retire(spool: Spool, queue: str, old_id: str, new_id: str, why: str) -> bool:
    with spool.lock(queue):
        me = index_of(spool.pending(queue), old_id)
        if me is None:
            return False
        replaced = _retire_locked(spool, queue, spool.pending(queue)[me].name, old_id, new_id, why)
    if replaced:
        deps.on_final(spool, old_id, State.CANCELLED)
    return replaced


def _retire_locked(spool: Spool, queue: str, name: str, old_id: str, new_id: str, why: str) -> bool:
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
        message=f"superseded by {new_id}" + (f" ({why})" if why else "")))
    # Staged before the commit, as every transition: a full disk stops it before it starts.
    if not commit(lay.tmp, src, dest, encode_job(old, original), "supersede", old_id,
                  sync=(lay.done(queue), lay.pending(queue))):
        return False
    spool.record(old_id, "superseded", f"by {new_id}")
    return True
