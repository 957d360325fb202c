"""Helpers for the store tests (imported as `storehelp`): fast big queues, the invariants."""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from store import Spool
from store.jobs.submit import JobSpec, build_job
from store.layout import DONE_RE, RUNNING_RE, parse_pending, pending_name
from store.model import encode_job
from store.names import RANK_GAP, RANK_START, new_job_id

# What store.atomic.stage names a file: PID.RANDOM.HOST.HINT
_STAGED = re.compile(r"\d+\.[0-9a-f]{12}\..+")


def fill(spool: Spool, queue: str, count: int, start: int = RANK_START, gap: int = RANK_GAP,
         priority: int = 0) -> list[str]:
    """Put `count` valid pending jobs straight into a queue (no fsync: test set-up only)."""
    proto = build_job(spool, JobSpec(command=["true"], queue=queue, priority=priority))
    data = encode_job(proto)
    d = spool.layout.pending(queue)
    ids = []
    for i in range(count):
        job_id = new_job_id()
        (d / pending_name(start + i * gap, priority, job_id)).write_bytes(data.replace(proto.id.encode(),
                                                                                       job_id.encode()))
        ids.append(job_id)
    return ids


def places(spool: Spool) -> Counter[str]:
    """How many times each job id appears across every queue and state (names only)."""
    seen: Counter[str] = Counter()
    for q in spool.queue_names():
        lay = spool.layout
        for name in os.listdir(lay.pending(q)):
            p = parse_pending(name)
            if p is not None:
                seen[p.id] += 1
        for name in os.listdir(lay.running(q)):
            m = RUNNING_RE.fullmatch(name)
            if m:
                seen[m["id"]] += 1
        for name in os.listdir(lay.done(q)):
            m = DONE_RE.fullmatch(name)
            if m:
                seen[m["id"]] += 1
    return seen


def check_order(spool: Spool, queue: str) -> list[str]:
    """The pending order is total (ranks unique), sorted, and stable between listings."""
    a = spool.pending(queue)
    b = spool.pending(queue)
    assert [p.name for p in a] == [p.name for p in b]
    ranks = [p.rank for p in a]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks), "two pending jobs share a rank"
    return [p.id for p in a]


def stray_files(root: Path) -> list[Path]:
    """Files a writer staged that are not in tmp/ (there must be none)."""
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if rel.parts[0] != "tmp" and p.is_file() and _STAGED.fullmatch(p.name):
            out.append(p)
    return out


def mount(args: list[str]) -> str | None:
    """Run mount; the reason it failed, or None."""
    if os.geteuid() != 0:
        return "not root: cannot mount (and root would ignore chmod anyway)"
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    return None if proc.returncode == 0 else f"mount {' '.join(args)} failed: {proc.stderr.strip()}"


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextmanager
def small_tmpfs(tmp_path: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted with `options` (e.g. "size=64k,nr_inodes=400") for the test's
    duration; skips the test where it cannot be mounted."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    why = mount(["-t", "tmpfs", "-o", options, "tmpfs", str(mnt)])
    if why:
        pytest.skip(f"no small filesystem: {why}")
    try:
        yield mnt
    finally:
        umount(mnt)


def fill_disk(root: Path) -> None:
    """Take every free block, leaving none for the spool."""
    n = 0
    while True:
        try:
            with open(root / f"ballast{n}", "wb") as f:
                f.write(b"\0" * 4096)
        except OSError:
            return
        n += 1
