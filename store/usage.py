"""Disk use of a spool, for `coreflow doctor`: its size, its largest logs, and how much
`prune` would free (by the spool's keep-finished setting, or a 14-day example)."""

from __future__ import annotations

import heapq
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .jobs.prune import prunable, pruned_files
from .errors import SpoolError
from .settings import load_settings
from .spool import Spool

EXAMPLE_KEEP = 14 * 86400.0
LARGEST = 3


@dataclass(frozen=True, slots=True)
class Usage:
    total: int  # bytes on disk under the spool
    files: int
    largest_logs: list[tuple[int, str]]  # (bytes, job id), largest first
    prunable_jobs: int
    prunable_bytes: int
    keep_finished: float | None  # the setting the prune figure used; None: EXAMPLE_KEEP


def _disk(st: os.stat_result) -> int:
    return st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size


def tree_size(root: Path) -> tuple[int, int]:
    """Bytes on disk and files under `root`, never following a symlink."""
    total, files = 0, 0
    stack = [str(root)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                    continue
                total += _disk(e.stat(follow_symlinks=False))
                files += 1
            except FileNotFoundError:
                continue
    return total, files


def largest_logs(spool: Spool, n: int = LARGEST) -> list[tuple[int, str]]:
    sizes = []
    try:
        entries = list(os.scandir(spool.layout.logs))
    except FileNotFoundError:
        return []
    for e in entries:
        if e.name.endswith(".log"):
            try:
                sizes.append((e.stat(follow_symlinks=False).st_size, e.name[:-4]))
            except FileNotFoundError:
                continue
    return heapq.nlargest(n, sizes)


def usage(spool: Spool, now: float | None = None) -> Usage:
    now = time.time() if now is None else now
    total, files = tree_size(spool.root)
    try:
        keep = load_settings(spool).keep_finished
    except SpoolError:
        keep = None
    jobs, freed = 0, 0
    for q in spool.queue_names():
        for r in prunable(spool, q, keep or EXAMPLE_KEEP, None, now):
            jobs += 1
            for path in pruned_files(spool, r):
                try:
                    freed += _disk(os.lstat(path))
                except FileNotFoundError:
                    continue
    return Usage(total, files, largest_logs(spool), jobs, freed, keep)


def describe(u: Usage) -> tuple[str, str]:
    """What doctor says about disk use, and the advice."""
    logs = ", ".join(f"{job_id} {_human(size)}"
                     for size, job_id in u.largest_logs) or "none"
    by = "the keep-finished setting" if u.keep_finished else "`coreflow prune --older-than 14d`"
    what = (f"disk: the spool uses {_human(u.total)} in {u.files} file(s); largest logs: {logs}; "
            f"{by} would free {_human(u.prunable_bytes)} ({u.prunable_jobs} finished job(s))")
    advice = "" if u.keep_finished else "let serve prune hourly: `coreflow spool set --keep-finished 14d`"
    return what, advice


def _human(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
