"""prune: delete finished jobs (file, log, audit) by age and count, by the filesystem's clock."""

from __future__ import annotations

import os
from pathlib import Path

from .. import atomic, depindex
from ..runners import fs_now
from ..refs import JobRef
from ..spool import Spool


def prune(spool: Spool, older_than: float | None = None, keep: int | None = None,
          now: float | None = None) -> int:
    """Delete finished jobs (and their logs and audit) older than `older_than` seconds,
    keeping at least the `keep` newest of each queue, by the filesystem's clock (see
    prunable; `now`: fs_now by default). Returns how many were deleted."""
    now = fs_now(spool) if now is None else now
    lay = spool.layout
    removed = 0
    for q in spool.queue_names():
        with spool.lock(q):
            for r in prunable(spool, q, older_than, keep, now):
                for path in pruned_files(spool, r):
                    atomic.unlink_quietly(path)
                depindex.forget_notes(spool, r.id)
                removed += 1
        atomic.fsync_dir(lay.done(q))
    return removed


def prunable(spool: Spool, queue: str, older_than: float | None, keep: int | None, now: float) -> list[JobRef]:
    """The finished jobs of a queue that `prune` would delete (doctor asks without deleting).

    Aged and ordered by the filesystem's clock, as leases are: a done file's mtime is
    when it was written (every finish writes it), `now` the filesystem's now; neither a
    host's clock nor the STAMP in done/ names (each host's own) counts."""
    aged = []
    for r in spool.done_refs(queue):
        try:
            aged.append((os.lstat(r.file).st_mtime, r.file, r))
        except FileNotFoundError:
            continue
    aged.sort(key=lambda a: a[:2])
    candidates = aged[: max(0, len(aged) - keep)] if keep is not None else aged
    return [r for mtime, _, r in candidates if older_than is None or now - mtime >= older_than]


def pruned_files(spool: Spool, r: JobRef) -> tuple[Path, ...]:
    """What pruning a finished job deletes: its file, its log and its audit trail."""
    return (r.path, spool.layout.log(r.id), spool.layout.job_audit(r.id))
