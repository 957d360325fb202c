"""move: a waiting job up, down, to the top or bottom, next to another, or to another queue."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from .. import deps
from ..errors import JobStateError
from .commit import commit_rewritten, gone, pending_ref, waiting_now
from ..layout import parse_pending, pending_name
from ..listing import containing, list_names
from ..locks import locked_all
from ..model import encode_job
from ..names import ID_RE, rank_between
from ..ordering import first_pending, index_of, insert_rank, locate, respace
from ..refs import JobRef
from ..spool import Spool


@dataclass(frozen=True, slots=True)
class Where:
    """A move target: top, bottom, up/down N places, before/after a job, or another queue."""

    kind: str  # top | bottom | up | down | before | after | queue
    count: int = 1
    other: str = ""


def move(spool: Spool, ref: str, where: Where) -> int:
    """Move a pending or held job; returns its new 1-based position."""
    if where.kind == "top" and ID_RE.fullmatch(ref):
        pos = _move_to_top(spool, ref)
        if pos is not None:
            return pos
    r = pending_ref(spool, ref, "move")
    if where.kind == "queue":
        return _move_to_queue(spool, r, where.other)
    other = spool.find(where.other) if where.kind in ("before", "after") else None
    if other is not None:
        if other.queue != r.queue:
            raise JobStateError(f"job {other.id} is in queue {other.queue}, not {r.queue}: move to that queue first")
        if other.pending is None:
            raise JobStateError(f"job {other.id} is {other.state}, not waiting: cannot place a job relative to it")
    d = spool.layout.pending(r.queue)
    with spool.lock(r.queue):
        order, me = waiting_now(spool, r, "move")
        p = order[me]
        rest = order[:me] + order[me + 1:]
        if where.kind == "top":
            idx = 0
        elif where.kind == "bottom":
            idx = len(rest)
        elif where.kind == "up":
            idx = max(0, me - where.count)
        elif where.kind == "down":
            idx = min(len(rest), me + where.count)
        else:
            assert other is not None
            if other.id == r.id:
                raise JobStateError(f"cannot move job {r.id} {where.kind} itself")
            o = locate(rest, other)
            if o is None:
                raise JobStateError(f"job {other.id} is no longer waiting in queue {r.queue}")
            idx = o if where.kind == "before" else o + 1
        if idx == me:
            return me + 1
        rank = rank_between(rest[idx - 1].rank if idx else None, rest[idx].rank if idx < len(rest) else None)
        if rank is None:
            # Respace around the target, this job included if it is near: a respace of the
            # others alone could carry them past it, and a crash half-way leave them there.
            order = respace(spool, r.queue, order, idx if idx < me else idx + 1)
            me = index_of(order, r.id)
            if me is None:
                raise gone(spool, r, "move")
            p = order[me]
            rest = order[:me] + order[me + 1:]
            rank = rank_between(rest[idx - 1].rank if idx else None, rest[idx].rank if idx < len(rest) else None)
            assert rank is not None
        commit_rewritten(spool, r, "move", d / p.name, d / pending_name(rank, p.priority, p.id, kind=p.kind), None,
                         sync=(d,))
        spool.record(r.id, "move", f"{where.kind}{' ' + str(where.count) if where.kind in ('up', 'down') else ''}"
                     f"{' ' + where.other if where.other else ''}: position {me + 1} -> {idx + 1}")
    return idx + 1


def _move_to_top(spool: Spool, job_id: str) -> int | None:
    """`move --top` of a full id in one listing under the lock, without sorting or parsing
    the queue: the common triage step stays cheap in a 100,000-job queue. None when the
    job is not waiting or the top has no room (the general path then answers)."""
    for q in spool.queue_names():
        d = spool.layout.pending(q)
        with spool.lock(q):
            names = list_names(d)
            mine = next((n for n in containing(names, job_id)
                         if (p := parse_pending(n)) is not None and p.id == job_id), None)
            if mine is None:
                continue
            p = parse_pending(mine)
            assert p is not None
            first = first_pending(names)
            if first is None or first.name == mine:
                return 1
            rank = rank_between(None, first.rank)
            if rank is None:
                return None
            # Only words the audit note: names outside the grammar that are not dot
            # files (.nfsXXXX, .fuse_hidden...) are rare, so they are not checked here.
            was = 1 + sum(map(mine.__gt__, names)) - sum(1 for n in names if n[:1] == ".")
            r = spool.pending_ref(q, p)
            commit_rewritten(spool, r, "move", d / mine, d / pending_name(rank, p.priority, p.id, kind=p.kind), None,
                             sync=(d,))
            spool.record(job_id, "move", f"top: position {was} -> 1")
            return 1
    return None


def _move_to_queue(spool: Spool, r: JobRef, target: str) -> int:
    spool.check_queue(target)
    if target == r.queue:
        raise JobStateError(f"job {r.id} is already in queue {target}")
    lay = spool.layout
    paths = [(lay.queue_lock(q), f"queue {q}") for q in (r.queue, target)]
    with locked_all(paths, spool.lock_timeout):
        order, me = waiting_now(spool, r, "move")
        p = order[me]
        src = lay.pending(r.queue) / p.name
        job, original = spool.load(src, p.id, r.queue, p.state)
        # The file names its queue: a runner finishes the job in the queue it names.
        data = encode_job(msgspec.structs.replace(job, queue=target), original)
        if p.kind != "job" and deps.is_blocking(job):  # its index entries under the new queue, start time too
            deps.register(spool, [msgspec.structs.replace(job, queue=target)])
        rank = insert_rank(spool, target, spool.pending(target), p.priority)
        dest = lay.pending(target) / pending_name(rank, p.priority, p.id, kind=p.kind)
        commit_rewritten(spool, r, "move", src, dest, data, sync=(lay.pending(target), lay.pending(r.queue)))
        spool.record(r.id, "move", f"queue {r.queue} -> {target}")
    pos = index_of(spool.pending(target), r.id)
    return (pos or 0) + 1
