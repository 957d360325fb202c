"""Run order inside pending/: ranks for a new job, where a job is, and making room.

A pending name starts with a 64-bit RANK; sorted names are run order. A new rank goes
between two neighbours; when there is no room, a window of jobs around the spot is
respaced (a few dozen renames), and only when no window fits, the whole queue.
Callers hold the queue's lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

from . import atomic
from .layout import PendingName, parse_pending, pending_name, sorted_pending
from .names import rank_between, respace_window, spread_ranks
from .refs import JobRef
from .spool import Spool


def insert_rank(spool: Spool, queue: str, order: list[PendingName], priority: int) -> int:
    """Rank for a new job: behind every pending job of the same or higher priority."""
    idx = len(order)
    while idx > 0 and order[idx - 1].priority < priority:
        idx -= 1
    return rank_at(spool, queue, order, idx)


def rank_at(spool: Spool, queue: str, order: list[PendingName], idx: int) -> int:
    """A rank that sorts between order[idx-1] and order[idx]; respaces if there is none."""
    before = order[idx - 1].rank if idx > 0 else None
    after = order[idx].rank if idx < len(order) else None
    rank = rank_between(before, after)
    if rank is None:
        order[:] = respace(spool, queue, order, idx)
        before = order[idx - 1].rank if idx > 0 else None
        after = order[idx].rank if idx < len(order) else None
        rank = rank_between(before, after)
        assert rank is not None
    return rank


def respace(spool: Spool, queue: str, order: list[PendingName], idx: int) -> list[PendingName]:
    """Make room before position `idx` by respacing a window of jobs around it (caller
    holds the lock): a few dozen renames, not the whole queue (names.respace_window).

    Run order holds after every rename, so a crash half-way leaves a queue in the right
    order: jobs that move up go first, from the far end inward, then those that move
    down, from the near end outward; none passes a neighbour's old or new rank.
    """
    window = respace_window(lambda i: order[i].rank, len(order), idx)
    if window is None:
        return rebalance(spool, queue, order)
    lo, ranks = window
    d = spool.layout.pending(queue)
    moves = [(order[lo + i], rank) for i, rank in enumerate(ranks) if rank != order[lo + i].rank]
    ups = [(p, rank) for p, rank in reversed(moves) if rank > p.rank]
    downs = [(p, rank) for p, rank in moves if rank < p.rank]
    placed = {p.name: p for p in order[lo:lo + len(ranks)]}
    for p, rank in ups + downs:
        name = pending_name(rank, p.priority, p.id, kind=p.kind)
        del placed[p.name]
        if atomic.commit_rename(d / p.name, d / name):
            placed[name] = PendingName(name)
    atomic.fsync_dir(d)
    return order[:lo] + sorted(placed.values(), key=by_name) + order[lo + len(ranks):]


def rebalance(spool: Spool, queue: str, order: list[PendingName]) -> list[PendingName]:
    """Respace every rank (caller holds the lock). Only when no window has room (never
    in practice: it takes ~2**44 jobs).

    The new ranks lie wholly above (or below) the old ones and the renames go from
    the far end inward, so run order stays right even if we are killed half-way.
    """
    d = spool.layout.pending(queue)
    new = spread_ranks(len(order))
    span = new[-1] - new[0]
    top_room = (1 << 64) - 1 - order[-1].rank
    if top_room > span + (1 << 33):
        base = order[-1].rank + (top_room - span) // 2
        items = list(zip(reversed(order), reversed([base + r - new[0] for r in new])))
    else:
        base = (order[0].rank - span) // 2
        items = list(zip(order, [base + r - new[0] for r in new]))
    out = {}
    for p, rank in items:
        name = pending_name(rank, p.priority, p.id, kind=p.kind)
        if atomic.commit_rename(d / p.name, d / name):
            out[p.id] = parse_pending(name)
    atomic.fsync_dir(d)
    return sorted((v for v in out.values() if v is not None), key=lambda p: p.name)


def locate(order: list[PendingName], r: JobRef) -> int | None:
    """Where a job found earlier is in `order` now: a binary search for the name it had,
    else (it was held, released or moved meanwhile) a scan for its id."""
    if r.pending is not None:
        i = bisect.bisect_left(order, r.pending.name, key=by_name)
        if i < len(order) and order[i].name == r.pending.name:
            return i
    return index_of(order, r.id)


def by_name(p: PendingName) -> str:
    return p.name


def index_of(order: Iterable[PendingName], job_id: str) -> int | None:
    for i, p in enumerate(order):
        if p.id == job_id:
            return i
    return None


def first_pending(names: list[str]) -> PendingName | None:
    """The first pending name in run order: one min() in the usual case, a sort if a dot
    file or a foreign name sorts first."""
    first = min(names, default=None)
    if first is None:
        return None
    p = parse_pending(first)
    if p is not None:
        return p
    order = sorted_pending(list(names))
    return order[0] if order else None
