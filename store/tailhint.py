"""Where new jobs go without listing the queue: the tail hint of a queue's pending/.

A submit places a job behind every waiting job of the same or higher priority; finding
that spot in a listing of 10,000 names costs more than the submit's two fsyncs. So each
placement leaves in queues/NAME/.tail the few names that decide any placement
(ordering.deciding: the first job, and each one of a higher priority than all behind it
with the job behind it), and stamps pending/ with a modification time nobody else
writes: a random moment a second or two in the past. Any later change of pending/ (a
submit by an older coreflow, a claim, a move, a hold, a person's `mv`) sets its mtime
to the real time, so the next placement trusts the hint only while pending/'s mtime is
still that stamp (and every name in it is there); else it lists, as before.

Only where this host sees every change at once: on NFS and other shared filesystems a
directory's attributes are cached, so there (and with COREFLOW_WATCH=poll) every
placement lists. A user who does not own pending/ cannot set its mtime: no hint either.
The hint is a cache, never a record: it is written in place without an fsync, and a
torn or stale one fails the checks above. Callers hold the queue's lock.
"""

from __future__ import annotations

import bisect
import os

from . import safeio
from .errors import SpoolError
from .layout import PendingName, parse_pending
from .mounts import choose_mode
from .names import rank_between
from .ordering import by_name, deciding, insert_index, rank_at
from .spool import Spool

MAX_HINT_BYTES = 1 << 16  # a few dozen names at most: one per priority in use, and neighbours
# No O_TRUNC: ext4 flushes a file truncated to zero when it is closed (a third of a millisecond).
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_trusted: dict[str, bool] = {}  # spool root -> does stat see every host's changes at once?


class Tail:
    """One queue's run order, as much of it as a placement needs: the hint's short list
    while it is valid, else the whole listing (`full`)."""

    def __init__(self, spool: Spool, queue: str, full: bool = False) -> None:
        self.spool, self.queue = spool, queue
        self.pending_dir = str(spool.layout.pending(queue))
        self.hint_path = str(spool.layout.tail_hint(queue))
        self.usable = trusted(spool)
        hinted = load(self.hint_path, self.pending_dir) if self.usable and not full else None
        self.full = hinted is None
        self.order = spool.pending(queue) if hinted is None else hinted

    def rank(self, priority: int) -> int:
        """A rank for a new job of `priority` (behind every job of the same or higher one)."""
        idx = insert_index(self.order, priority)
        if not self.full:
            before = self.order[idx - 1].rank if idx > 0 else None
            rank = rank_between(before, self.order[idx].rank if idx < len(self.order) else None)
            if rank is not None:
                return rank
            self.order, self.full = self.spool.pending(self.queue), True  # respacing needs real neighbours
            idx = insert_index(self.order, priority)
        return rank_at(self.spool, self.queue, self.order, idx)

    def add(self, name: str) -> None:
        """A job was just placed under `name`."""
        bisect.insort(self.order, PendingName(name), key=by_name)

    def save(self) -> None:
        """Stamp pending/ and write the hint for the next placement (after the renames)."""
        if self.usable:
            save(self.hint_path, self.pending_dir, deciding(self.order))


def trusted(spool: Spool) -> bool:
    """Whether a directory's mtime, read here, shows every host's latest change: the
    spool is watched with inotify (a local filesystem), not polled."""
    key = str(spool.root)
    if key not in _trusted:
        try:
            _trusted[key] = choose_mode(spool.root) == "inotify"
        except SpoolError:  # a bad $COREFLOW_WATCH: the watchers say so; here, just list
            return False
    return _trusted[key]


def load(hint_path: str, pending_dir: str) -> list[PendingName] | None:
    """The hint's names in run order, if it still describes `pending_dir`; else None."""
    try:
        lines = safeio.read_file(hint_path, MAX_HINT_BYTES).decode("ascii").split("\n")
        stamp, count = (int(x) for x in lines[-2].split(" "))
        names = [p for n in lines[:-2] if (p := parse_pending(n)) is not None]
        if lines[-1] or count != len(names) or count != len(lines) - 2:
            return None  # torn, or not ours
        if os.stat(pending_dir).st_mtime_ns != stamp:
            return None  # pending/ changed since
        if not all(os.path.lexists(f"{pending_dir}/{p.name}") for p in names):
            return None
    except (OSError, SpoolError, ValueError, IndexError):
        return None
    return names


def save(hint_path: str, pending_dir: str, names: list[PendingName]) -> None:
    """Set pending/'s mtime to a stamp of ours, then write the hint that names it. A
    failure leaves an old hint whose stamp is no longer pending/'s: never trusted."""
    try:
        st = os.stat(pending_dir)
        # In the past, so that no later change, which takes the real time, can repeat it.
        stamp = st.st_mtime_ns - 1_000_000_000 - int.from_bytes(os.urandom(4)) % 1_000_000_000
        os.utime(pending_dir, ns=(st.st_atime_ns, stamp))
        fd = os.open(hint_path, _FLAGS, 0o644)
    except OSError:  # not pending/'s owner (EPERM), or .tail is not a plain file
        return
    data = "".join(f"{p.name}\n" for p in names).encode() + b"%d %d\n" % (stamp, len(names))
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    except OSError:
        pass  # a short or failed write is a torn hint: refused when read
    finally:
        os.close(fd)
