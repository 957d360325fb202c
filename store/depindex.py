"""The dependency index on disk (see store/deps.py and layout.py): deps/DEPID/ entries
(who waits on a job, who was cancelled because it failed) and due/QUEUE/ start times."""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Iterable
from pathlib import Path

from . import atomic
from .errors import StorageError
from .layout import DEP_CANCELLED_RE, DEP_RE, PendingName, pending_name
from .listing import list_names
from .model import Job
from .spool import Spool


def cancelled_dependents(spool: Spool, job_id: str) -> list[tuple[str, str, PendingName]]:
    """(queue, id, old pending name) of the jobs cancelled because `job_id` failed."""
    out = []
    for name in list_names(spool.layout.deps(job_id)):
        if m := DEP_CANCELLED_RE.fullmatch(name):
            old = PendingName(pending_name(int(m["rank"], 16), int(m["prio"]), m["id"], kind="wait"))
            out.append((m["queue"], m["id"], old))
    return out


def forget_cancelled(spool: Spool, job_id: str, queue: str, dep_id: str, old: PendingName) -> None:
    """Drop the note that `dep_id` was cancelled because `job_id` failed (it was put back)."""
    d = spool.layout.deps(job_id)
    atomic.unlink_quietly(d / f"{queue}.{old.rank:016x}.{old.priority:+d}.{dep_id}.cancelled")
    drop_dir(d)


def register(spool: Spool, jobs: Iterable[Job]) -> None:
    """Write the index entries of jobs about to be placed (or placed back) blocked:
    deps/DEP/QUEUE.ID.dep for each dependency, due/QUEUE/MS.ID for a start time. Durable
    before the jobs are visible, so whoever ends a dependency finds them."""
    lay = spool.layout
    dirs: set[Path] = set()
    for job in jobs:
        for dep in dict.fromkeys([*job.after, *job.after_finished]):
            dirs.add(create_entry(lay.deps(dep), f"{job.queue}.{job.id}.dep", sync=False))
        if job.not_before is not None:
            dirs.add(create_entry(lay.due(job.queue), f"{math.ceil(job.not_before * 1000):013d}.{job.id}", sync=False))
    for d in {*dirs, *(d.parent for d in dirs)}:
        atomic.fsync_dir(d)


def create_entry(d: Path, name: str, sync: bool = True) -> Path:
    """An empty index file d/name (its existence is all it says); returns d."""
    try:
        try:
            d.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            pass
        os.close(os.open(d / name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644))
        if sync:
            atomic.fsync_dir(d)
            atomic.fsync_dir(d.parent)
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot write the index entry {d.name}/{name}") from exc
    return d


def entries(spool: Spool, job_id: str) -> list[tuple[str, str]]:
    """(queue, dependent id) of deps/ID/*.dep."""
    return [(m["queue"], m["id"]) for n in list_names(spool.layout.deps(job_id)) if (m := DEP_RE.fullmatch(n))]


def nobody_waits(spool: Spool) -> bool:
    """Is deps/ certainly empty? One stat: filesystems that count a directory's
    subdirectories in its link count (ext4, xfs, tmpfs) say 2; others (btrfs: 1) tell
    nothing. Only for a local spool: NFS may show an older count from its cache."""
    try:
        return os.stat(spool.layout.deps_root).st_nlink == 2
    except OSError:
        return False


def drop_dir(d: Path) -> None:
    try:
        os.rmdir(d)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise StorageError.wrap(exc, f"cannot remove {d}") from exc


def forget_notes(spool: Spool, job_id: str) -> None:
    """Drop the .cancelled notes of a job being pruned (live .dep entries stay: see deps.sweep)."""
    d = spool.layout.deps(job_id)
    for name in list_names(d):
        if DEP_CANCELLED_RE.fullmatch(name):
            atomic.unlink_quietly(d / name)
    drop_dir(d)
