"""Which spool directories others may write, where that would let them choose commands
run as the spool's owner or hang its readers."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from .errors import StorageError

if TYPE_CHECKING:
    from .spool import Spool


def world_writable(spool: Spool, queues: list[str] | None = None) -> list[str]:
    """Directories others may write (`queues`: all when None), sticky or not, where
    that lets them choose commands run as the spool's owner (a new trigger or pending
    file is a new command) or hang or blind its readers (a FIFO as a heartbeat, log or
    audit file, a forged audit line, a file in tmp/ renamed into place). Only the
    spool's top directory and corrupt/ may be sticky and world-writable."""
    lay = spool.layout
    strict = [d for d in lay.top_dirs() if d != lay.corrupt] + [
        d for q in (spool.queue_names() if queues is None else queues) for d in (lay.queue(q), *lay.state_dirs(q))]
    loose = []
    for d, sticky_passes in [(d, False) for d in strict] + [(lay.root, True), (lay.corrupt, True)]:
        try:
            mode = os.lstat(d).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot check the permissions of {d}") from exc
        if mode & stat.S_IWOTH and not (sticky_passes and mode & stat.S_ISVTX):
            loose.append(str(d))
    return loose
