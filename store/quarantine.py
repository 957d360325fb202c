"""corrupt/: files that cannot be ours, moved aside with a note saying why."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import atomic
from .errors import SpoolError, StorageError
from .listing import scan_dir
from .model import actor
from .layout import DONE_RE, PENDING_RE

if TYPE_CHECKING:
    from .spool import Spool


def quarantine(spool: Spool, path: Path, reason: str) -> Path | None:
    """Move an undecodable file to corrupt/ with a note beside it; None if it vanished."""
    lay = spool.layout
    rel = path.relative_to(spool.root) if path.is_relative_to(spool.root) else Path(path.name)
    stem = ".".join(rel.parts).lstrip(".")[:150]
    dest = lay.corrupt / f"{stem}.{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.{os.urandom(3).hex()}"
    try:
        lay.corrupt.mkdir(exist_ok=True)
        os.rename(path, dest)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return None  # a read-only spool: report, but we cannot move it
        raise StorageError.wrap(exc, f"cannot move {path.name} to corrupt/") from exc
    note = f"from: {rel}\nat: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\nby: {actor()}\nreason: {reason}\n"
    try:
        atomic.publish(lay.tmp, dest.with_name(dest.name + ".why"), note.encode())
    except SpoolError:
        pass  # the file is aside; the note is a courtesy
    return dest


_GRAMMARS = {"pending": PENDING_RE, "done": DONE_RE}  # where a file came from -> its names


def quarantined_ids(spool: Spool) -> set[str]:
    """Jobs whose file went to corrupt/ from pending/ or done/: gone for good. (A running
    job's file moved aside is still run, from its runner's own copy, and ends in done/.)"""
    out = set()
    for f in corrupt_files(spool):
        parts = f.name.split(".")[:-2]  # without the .STAMP.RAND that quarantine adds
        for k in range(1, len(parts)):
            grammar = _GRAMMARS.get(parts[k - 1])
            if grammar is not None and (m := grammar.fullmatch(".".join(parts[k:]))):
                out.add(m["id"])
                break
    return out


def corrupt_files(spool: Spool) -> list[Path]:
    return sorted(Path(e.path) for e in scan_dir(spool.layout.corrupt) if not e.name.endswith(".why"))
