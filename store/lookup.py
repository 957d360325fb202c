"""Finding a job by (part of) its id, from file names alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .errors import AmbiguousJob, JobNotFound
from .layout import DONE_RE, RUNNING_RE, parse_pending
from .listing import containing, list_names
from .refs import JobRef
from .states import State

if TYPE_CHECKING:
    from .spool import Spool


def find(spool: Spool, ref: str) -> JobRef:
    """Find a job by id, or by a unique prefix or suffix of at least 4 characters."""
    ref = ref.strip().lower()
    if len(ref) < 4 or not ref.isalnum():
        raise JobNotFound(f"no job {ref!r}: give a job id (or at least 4 of its characters)")
    hits: dict[str, JobRef] = {}
    for _ in range(2):  # a job claimed or retried between our listings of two directories: look again
        for r in refs_containing(spool, ref):
            if r.id == ref:
                return r
            if r.id.startswith(ref) or r.id.endswith(ref):
                hits[r.id] = r
        if hits:
            break
    if len(hits) == 1:
        return next(iter(hits.values()))
    if not hits:
        raise JobNotFound(f"no job {ref} in {spool.root}")
    some = ", ".join(sorted(hits)[:3])
    raise AmbiguousJob(f"{ref} matches {len(hits)} jobs ({some}, ...): give more of the id")


def refs_containing(spool: Spool, text: str) -> Iterator[JobRef]:
    """Jobs whose file names contain `text`, running first, found by names alone: a
    100,000-job queue costs one listing, not 100,000 refs."""
    lay = spool.layout
    for q in spool.queue_names():
        for name in containing(list_names(lay.running(q)), text):
            if m := RUNNING_RE.fullmatch(name):
                yield JobRef(m["id"], q, State.RUNNING, f"{lay.running(q)}/{name}")
        for name in containing(list_names(lay.pending(q)), text):
            if (p := parse_pending(name)) is not None:
                yield spool.pending_ref(q, p)
        for name in containing(list_names(lay.done(q)), text):
            if m := DONE_RE.fullmatch(name):
                yield JobRef(m["id"], q, m["st"], f"{lay.done(q)}/{name}")
