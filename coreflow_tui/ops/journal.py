"""Log lines for a terminal or for journald.

Under systemd, stderr is a stream to journald, which stamps each line itself and reads
a `<N>` prefix (syslog priority) as the line's level; JOURNAL_STREAM names that stream
(`DEVICE:INODE`), so a process whose stderr was redirected elsewhere keeps its own
timestamps.
"""

from __future__ import annotations

import os
import sys
import time

from ..safetext import inert

ERROR, WARNING, INFO = 3, 4, 6


def under_journald(fd: int | None = None) -> bool:
    """True if stderr (or `fd`) is the journald stream systemd gave us."""
    want = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = want.partition(":")
    if not dev or not ino:
        return False
    try:
        st = os.fstat(sys.stderr.fileno() if fd is None else fd)
    except (OSError, ValueError, AttributeError):
        return False
    return f"{st.st_dev}:{st.st_ino}" == want


def log_line(who: str, msg: str, level: int = INFO, stamp: str = "%Y-%m-%d %H:%M:%S") -> str:
    """One line of `who`'s log: `<level>who: msg` for journald, else stamped with the time.

    `msg` is made inert: it may quote job names, trigger files or changed paths."""
    msg = inert(msg)
    if under_journald():
        return f"<{level}>{who}: {msg}"
    return f"{time.strftime(stamp)} {who}: {msg}"
