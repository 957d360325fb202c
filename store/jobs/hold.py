"""hold and release: a held job keeps its place in the queue and is skipped.

A blocked job (pending/X.wait, see store/deps.py) can be held too; released, it waits
again (.wait) or may run (.job), as its dependencies and start time say then."""

from __future__ import annotations

from .. import deps
from .commit import commit_rewritten, pending_ref, waiting_now
from ..layout import pending_name
from ..spool import Spool


def hold(spool: Spool, ref: str) -> bool:
    """Hold a pending job (it keeps its place and is skipped). False if it already was held."""
    return _set_held(spool, ref, True)


def release(spool: Spool, ref: str) -> bool:
    """Release a held job. False if it was not held."""
    return _set_held(spool, ref, False)


def _set_held(spool: Spool, ref: str, held: bool) -> bool:
    what = "hold" if held else "release"
    r = pending_ref(spool, ref, what)
    d = spool.layout.pending(r.queue)
    with spool.lock(r.queue):
        order, me = waiting_now(spool, r, what)
        p = order[me]
        if p.held == held:
            return False
        kind = None
        if not held:
            job = spool.load(d / p.name, p.id, r.queue, p.state)[0]
            if deps.is_blocking(job) and deps.verdict(spool, job)[0] != deps.READY:
                kind = "wait"
        commit_rewritten(spool, r, what, d / p.name, d / pending_name(p.rank, p.priority, p.id, held, kind), None,
                         sync=(d,))
        spool.record(r.id, what)
    if kind:  # doomed meanwhile, or released at the moment its dependency ended: settle it now
        deps.recheck(spool, [job])
    return True
