"""hold and release: a held job keeps its place in the queue and is skipped."""

from __future__ import annotations

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
        commit_rewritten(spool, r, what, d / p.name, d / pending_name(p.rank, p.priority, p.id, held), None,
                         sync=(d,))
        spool.record(r.id, what)
    return True
