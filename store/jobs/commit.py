"""What every transition of a waiting or finished job shares: finding it, saying why it
moved under us, and the one commit (stage the new content, rename, rewrite, sync)."""

from __future__ import annotations

import os
from pathlib import Path

from .. import atomic
from ..errors import JobAlreadyStarted, JobNotFound, JobStateError, SpoolError, StorageError
from ..layout import PendingName
from ..ordering import locate
from ..refs import JobRef
from ..spool import Spool
from ..states import State


def pending_ref(spool: Spool, ref: str, what: str) -> JobRef:
    r = spool.find(ref)
    if r.pending is None:
        raise not_waiting(spool, r, what)
    return r


def not_waiting(spool: Spool, r: JobRef, what: str) -> SpoolError:
    if r.state == State.RUNNING:
        where = ""
        try:
            claim = spool.read(r).claim
            if claim:
                where = f" on {claim.host} (runner {claim.runner})"
        except SpoolError:
            pass
        return JobAlreadyStarted(f"cannot {what} job {r.id}: it already started{where}")
    return JobStateError(f"cannot {what} job {r.id}: it already finished ({r.state})")


def gone(spool: Spool, r: JobRef, what: str) -> SpoolError:
    """The job changed between our look and our rename: say what it is now."""
    try:
        now = spool.find(r.id)
    except JobNotFound:
        return JobNotFound(f"cannot {what} job {r.id}: it vanished (pruned or its queue removed)")
    if now.pending is not None:
        return JobStateError(f"cannot {what} job {r.id}: it changed at the same moment; try again")
    return not_waiting(spool, now, what)


def commit(tmp: Path, src: Path, dest: Path, data: bytes | None, what: str, job_id: str,
           sync: tuple[Path, ...] = ()) -> bool:
    """The one commit of a transition: stage the new content in tmp/ (written, fsynced),
    rename src to dest (the commit point), rename the staged content over dest, then
    fsync the directories in `sync`. Staging first means a full disk stops the change
    before it happens, not half-way. False if src was gone (someone else's rename won)."""
    staged = atomic.stage(tmp, data, what) if data is not None else None
    try:
        if not atomic.commit_rename(src, dest):
            return False
        if staged is not None:
            try:
                os.rename(staged, dest)
            except OSError as exc:
                raise StorageError.wrap(exc, f"{what} of job {job_id} done, but its file not rewritten") from exc
    finally:
        if staged is not None:
            atomic.unlink_quietly(staged)
    for d in sync:
        atomic.fsync_dir(d)
    return True


def commit_rewritten(spool: Spool, r: JobRef, what: str, src: Path, dest: Path, data: bytes | None,
                     sync: tuple[Path, ...] = ()) -> None:
    """commit() of a job found earlier; if it changed under us, say what it is now (gone)."""
    if not commit(spool.layout.tmp, src, dest, data, what, r.id, sync):
        raise gone(spool, r, what)


def waiting_now(spool: Spool, r: JobRef, what: str) -> tuple[list[PendingName], int]:
    """Under the queue's lock: its run order and where the waiting job `r` is in it now
    (if it no longer waits there, gone() says what it is)."""
    order = spool.pending(r.queue)
    me = locate(order, r)
    if me is None:
        raise gone(spool, r, what)
    return order, me
