"""Audit trails (audit/ID.jsonl, a queue's audit.jsonl): appended only by the store,
read back only when nobody else could have written them.

A trail is trusted when it is a regular file owned by the spool's owner (or root) and
writable by nobody else; its lines are then decoded one by one (a torn last line from a
crash is skipped). An untrusted trail is not shown line by line: one entry says why,
so a line planted by another user never reads as something a person did.
"""

from __future__ import annotations

import math
import os
import stat
import time
from pathlib import Path

import msgspec

from . import atomic, safeio
from .errors import NotRegularFile, StorageError, UnsafeFile
from .limits import MAX_AUDIT_BYTES
from .model import Audit, actor, encode


def append(path: Path, action: str, detail: str = "", who: str | None = None) -> None:
    """Add one entry to a trail, by `who` (default: this process's user)."""
    atomic.append_line(path, encode(Audit(at=time.time(), actor=who or actor(), action=action, detail=detail)))


def record_job(path: Path, job_id: str, action: str, detail: str = "", who: str | None = None) -> None:
    """append() for a job's trail, called after the change was committed."""
    try:
        append(path, action, detail, who)
    except (StorageError, UnsafeFile) as exc:
        # Say the change happened, so nobody repeats it.
        raise StorageError(f"{action} of job {job_id} done, but not recorded in its audit trail: {exc}") from None


def read(path: Path, owner: int) -> list[Audit]:
    """The entries of a trail, oldest first (the last MAX_AUDIT_BYTES of it)."""
    try:
        fd, st = safeio.open_regular(path)
    except FileNotFoundError:
        return []
    except NotRegularFile as exc:
        return [_notice(time.time(), str(exc))]
    try:
        why = untrusted(st, owner)
        if why:
            return [_notice(st.st_mtime, f"{path.name} {why}, so its entries are not shown: "
                                         f"check and remove it")]
        offset = max(0, st.st_size - MAX_AUDIT_BYTES)
        os.lseek(fd, offset, os.SEEK_SET)
        data = safeio.read_fd(fd, MAX_AUDIT_BYTES, str(path))
    finally:
        os.close(fd)
    lines = data.splitlines()
    if offset:
        lines = lines[1:]  # the first line was cut by the window
    out = []
    bad = []
    for i, line in enumerate(lines):
        try:
            entry = msgspec.json.decode(line, type=Audit)
        except (msgspec.DecodeError, msgspec.ValidationError):
            bad.append(i)
            continue
        if not math.isfinite(entry.at):
            bad.append(i)
            continue
        out.append(entry)
    if bad and bad != [len(lines) - 1]:  # one torn last line is a crash; more is damage worth saying
        out.append(_notice(st.st_mtime, f"{len(bad)} line(s) of {path.name} could not be read and are not shown"))
    return out


def untrusted(st: os.stat_result, owner: int) -> str:
    """Why a trail with this stat could hold lines another user wrote ("" if it cannot)."""
    if st.st_uid not in (owner, 0):
        return f"is owned by uid {st.st_uid}, not by the spool's owner (uid {owner})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by others (mode {stat.S_IMODE(st.st_mode):o})"
    return ""


def _notice(at: float, text: str) -> Audit:
    return Audit(at=at, actor="coreflow", action="unverified", detail=text)
