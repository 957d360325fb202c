"""supersede: a trigger's new job (or pipeline) takes the place of its waiting predecessor."""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec

from .. import deps
from ..errors import JobNotFound
from .commit import commit
from .submit import place
from ..layout import done_name, parse_pending
from ..model import Job, Result, actor, encode_job
from ..ordering import index_of
from ..spool import Spool
from ..states import State


def supersede(spool: Spool, old_ids: Sequence[str], jobs: Sequence[Job], why: str = "") -> bool:
    """Queue `jobs` (all or nothing) and retire the waiting jobs `old_ids` (a previous
    firing: one job, or a pipeline) as cancelled, superseded; only if none of them has
    started: under every queue's lock each must still wait, else none is retired (False),
    and the new jobs queue at the end, as a submit's. `why` (e.g. "a newer firing of
    trigger build for refs/heads/master") goes into each old job's result message.

    Each old job is superseded by the new job of its step (else the first). That job
    takes its place (its rank, and its hold: a person held it) when they share a queue,
    placed there under the same locks, so no runner can take it anywhere else first. The
    new ones go in before the old ones go, so a crash leaves both, never neither.
    """
    r = Replacing(spool, old_ids, jobs, why)
    place(spool, jobs, r if r.olds else None)
    for old_id, new_id in r.retired:
        spool.record(new_id, "supersede", f"took the place of {old_id}")
        deps.on_final(spool, old_id, State.CANCELLED)
    return bool(r.olds) and len(r.retired) == len(r.olds)


class Replacing:
    """What `place` does for a supersede under the queues' locks: where the new jobs go
    (`spots`), then the old ones retired (`retire`)."""

    def __init__(self, spool: Spool, old_ids: Sequence[str], jobs: Sequence[Job], why: str) -> None:
        self.spool, self.why = spool, why
        self.olds: list[tuple[str, str, str, Job]] = []  # (old id, its queue, its step, the new job for it)
        self.retired: list[tuple[str, str]] = []  # (old id, new id)
        self._names: dict[str, str] = {}
        by_step = {j.step: j for j in jobs}
        for old_id in old_ids:  # read before the locks; each is looked at again under them
            try:
                view = spool.show(old_id)
            except JobNotFound:
                view = None
            if view is None or view.state not in (State.PENDING, State.HELD):
                self.olds = []  # one of them started, ended or vanished: the whole previous firing stays
                return
            self.olds.append((old_id, view.queue, view.job.step, by_step.get(view.job.step, jobs[0])))

    @property
    def queues(self) -> set[str]:
        return {q for _o, q, _s, _n in self.olds}

    def spots(self) -> dict[str, tuple[int, bool]]:
        """Under the locks: new job id -> (rank, held) of the old job it replaces in its
        own queue; empty if an old job no longer waits (then nothing is retired)."""
        out: dict[str, tuple[int, bool]] = {}
        for old_id, queue, step, new in self.olds:
            order = self.spool.pending(queue)
            me = index_of(order, old_id)
            if me is None:
                self._names.clear()
                return {}
            self._names[old_id] = order[me].name
            if new.queue == queue and new.step == step and new.id not in out:
                out[new.id] = (order[me].rank, order[me].held)
        return out

    def retire(self) -> None:
        """Under the locks, after the new jobs are placed: finish the old ones as superseded."""
        for old_id, queue, _step, new in self.olds:
            if old_id in self._names and _retire_locked(self.spool, queue, self._names[old_id], old_id, new.id,
                                                        self.why):
                self.retired.append((old_id, new.id))


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
