"""Queue administration: adding a queue whole or not at all, changing its queue.json,
removing it with its jobs. `Spool`'s methods of the same names call these."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from . import atomic
from .errors import QueueExists, QueueNotEmpty, SpoolError, StorageError
from .layout import DEFAULT_QUEUE, DONE_RE, PENDING_RE, RUNNING_RE
from .limits import check_queue_config, check_slots
from .listing import list_names
from .model import QueueConfig, encode
from .names import check_name
from .states import DONE_DIR, PENDING_DIR, RUNNING_DIR, STATE_DIRS

if TYPE_CHECKING:
    from .spool import Spool


def add_queue(spool: Spool, name: str, slots: int = 4, description: str = "") -> None:
    """Create a queue whole or not at all: its directories and queue.json are made in
    tmp/ and renamed into queues/ in one step (a full disk leaves nothing behind)."""
    check_name(name, "queue name")
    check_slots(slots, f"cannot add queue {name}")
    lay = spool.layout
    path = lay.queue(name)
    if os.path.lexists(path):
        raise QueueExists(f"queue {name!r} already exists")
    cfg = QueueConfig(slots=slots, description=description, created_at=time.time())
    check_queue_config(encode(cfg), f"cannot add queue {name}")  # never write what a reader refuses
    staging = Path(atomic.tmp_name(lay.tmp, f"queue.{name}"))
    try:
        staging.mkdir(mode=0o755)
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot add queue {name}") from exc
    try:
        for d in STATE_DIRS:
            (staging / d).mkdir(mode=0o755)
        atomic.publish(lay.tmp, staging / "queue.json", encode(cfg), sync_dir=False)
        atomic.fsync_dir(staging)
        os.rename(staging, path)  # fails if a queue of that name appeared meanwhile
    except OSError as exc:
        remove_tree(staging)
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise QueueExists(f"queue {name!r} already exists") from None
        raise StorageError.wrap(exc, f"cannot add queue {name}") from exc
    except SpoolError:
        remove_tree(staging)
        raise
    atomic.fsync_dir(lay.queues)


def update_queue(spool: Spool, name: str, action: str, **changes: object) -> QueueConfig:
    """Change queue.json fields under the lock, and record who did it."""
    spool.check_queue(name)
    if "slots" in changes:
        check_slots(changes["slots"], f"cannot set slots of queue {name}")
    with spool.lock(name):
        cfg = msgspec.structs.replace(spool.queue_config(name), **changes)
        # A queue.json a reader refuses means defaults, so a paused queue would run: never write one.
        check_queue_config(encode(cfg), f"cannot change queue {name}")
        atomic.publish(spool.layout.tmp, spool.layout.queue_meta(name), encode(cfg))
        detail = " ".join(f"{k}={v}" for k, v in changes.items())
        spool.record_queue(name, action, detail)
    return cfg


def remove_queue(spool: Spool, name: str, force: bool = False) -> int:
    """Remove a queue and every job file in it; returns how many jobs went with it.

    Refuses a queue with pending, held or finished jobs unless forced, and always refuses
    one with running jobs (a runner is writing their results).
    """
    spool.check_queue(name)
    if name == DEFAULT_QUEUE:
        raise SpoolError("the default queue cannot be removed")
    lay = spool.layout
    removed = 0
    with spool.lock(name):
        # Checked under the lock: a job submitted meanwhile is never removed unasked.
        info = spool.queue_info(name)
        live = info.pending + info.held + info.running
        if info.running and force:
            raise QueueNotEmpty(
                f"queue {name} has {info.running} running job(s): cancel them and wait, then remove it"
            )
        if live and not force:
            raise QueueNotEmpty(
                f"queue {name} has {live} pending/held/running job(s): move or cancel them, or use --force"
            )
        finished = 0 if force else len(spool.done_refs(name))
        if finished:  # their results and logs are the queue's history: not lost unasked
            raise QueueNotEmpty(
                f"queue {name} has {finished} finished job(s): prune them, or use --force to remove them too"
            )
        # Rename the whole queue aside first: one atomic step, then delete at leisure.
        grave = lay.tmp / f"removed-queue.{name}.{os.getpid()}.{time.time_ns()}"
        try:
            os.rename(lay.queue(name), grave)
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot remove queue {name}") from exc
    # Every entry goes, dot files too (.lock, NFS's .nfsXXXX): else rmdir fails.
    waiting: list[str] = []  # jobs that never ended: jobs elsewhere may wait on them
    try:
        grammar = {PENDING_DIR: PENDING_RE, RUNNING_DIR: RUNNING_RE, DONE_DIR: DONE_RE}
        for sub in STATE_DIRS:
            d = grave / sub
            for entry in list_names(d):
                if m := grammar[sub].fullmatch(entry):
                    removed += 1
                    if sub == PENDING_DIR:
                        waiting.append(m["id"])
                os.unlink(d / entry)
            if d.exists():
                d.rmdir()
        for entry in list_names(grave):
            os.unlink(grave / entry)
        grave.rmdir()
    except OSError as exc:
        raise StorageError.wrap(exc, f"removed queue {name} but not all of its files (left in tmp/)") from exc
    atomic.fsync_dir(lay.queues)
    if waiting and list_names(lay.deps_root):
        from . import deps

        for job_id in waiting:  # gone for good: what waits on them is settled now, not by the hourly sweep
            deps.on_final(spool, job_id, None)
    return removed


def remove_tree(path: Path) -> None:
    """Remove a queue directory the store staged in tmp/, best effort: the caller is
    already reporting why it failed, and clean_tmp takes what is left."""
    try:
        for sub in (path / d for d in STATE_DIRS):
            if sub.exists():
                sub.rmdir()
        for name in list_names(path):
            atomic.unlink_quietly(path / name)
        path.rmdir()
    except (OSError, SpoolError):
        pass
