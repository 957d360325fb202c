"""`coreflow doctor`: check a spool and say what to do about each problem found."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import atomic
from .errors import ConfigError, CorruptJob, SpoolError
from .feed import choose_mode
from .jobtypes import load_types
from .locks import locked
from .model import QueueConfig, decode
from .mounts import lock_warning, mount_of
from .runners import clock_offset, runners
from .spool import Spool

CLOCK_WARN_SECONDS = 2.0
TMP_WARN_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # ok | warn | error
    what: str
    advice: str = ""


def diagnose(root: Path, *, lock_timeout: float = 2.0) -> list[Finding]:
    out: list[Finding] = []
    try:
        spool = Spool.open(root)
    except SpoolError as exc:
        return [Finding("error", str(exc), "create it with `coreflow init`, or point --spool at the right place")]
    out.append(Finding("ok", f"spool {spool.root}, format 1"))
    out += _permissions(spool)
    out += _filesystem(spool)
    out += _config(spool)
    out += _locks(spool, lock_timeout)
    out += _runners(spool)
    out += _leftovers(spool)
    out += _clock(spool)
    return out


def _permissions(spool: Spool) -> list[Finding]:
    bad = spool.world_writable()
    if bad:
        return [Finding("error", f"world-writable: {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}; "
                                 "anyone on the host could queue commands for the runner",
                        f"chmod -R o-w {spool.root}")]
    if not os.access(spool.root, os.W_OK):
        return [Finding("error", f"spool {spool.root} is not writable by this user",
                        "run as the spool's owner, or fix its permissions")]
    return [Finding("ok", "permissions: not world-writable")]


def _filesystem(spool: Spool) -> list[Finding]:
    m = mount_of(spool.root)
    mount, fstype = m.point, m.fstype
    mode = choose_mode(spool.root)
    kind = "NFS" if fstype.startswith("nfs") else "FUSE" if fstype.startswith("fuse") else (
        "network" if mode == "poll" else "local")
    watch = "live (inotify)" if mode == "inotify" else "polling directory mtimes every 1 s"
    out = [Finding("ok", f"filesystem: {fstype or 'unknown'} ({kind}) at {mount or '?'}; watch mode: {watch}")]
    locks = lock_warning(spool.layout.meta)
    if locks:
        out.append(Finding(
            "warn", f"{locks}: runners on two hosts may together exceed a queue's slots for a moment "
                    "(a job still never runs twice at once: each claim renames to its runner's own name)",
            "remount with working locks (NFS without nolock/local_lock, with a lock manager), "
            "or run runners on one host"))
    return out


def _config(spool: Spool) -> list[Finding]:
    out = []
    try:
        types = load_types(spool.layout.types)
        out.append(Finding("ok", f"types.toml: {len(types)} job type(s)"))
    except ConfigError as exc:
        out.append(Finding("error", str(exc), "fix the file; until then submits that name a type fail"))
    for q in spool.queue_names():
        path = spool.layout.queue_meta(q)
        try:
            decode(path.read_bytes(), QueueConfig, f"queue.json of queue {q}")
        except FileNotFoundError:
            out.append(Finding("warn", f"queue {q} has no queue.json; defaults apply",
                               f"`coreflow queue set {q} --slots N` writes one"))
        except CorruptJob as exc:
            out.append(Finding("error", f"{exc}; defaults apply", f"`coreflow queue set {q} --slots N` rewrites it"))
    return out


def _locks(spool: Spool, timeout: float) -> list[Finding]:
    out = []
    for q in spool.queue_names():
        t = time.perf_counter()
        try:
            with locked(spool.layout.queue_lock(q), f"queue {q}", timeout):
                pass
        except SpoolError as exc:
            out.append(Finding("error", str(exc), "find the process holding it (`fuser` on the .lock file)"))
            continue
        ms = (time.perf_counter() - t) * 1000
        if ms > 500:
            out.append(Finding("warn", f"lock of queue {q} took {ms:.0f} ms to take", "a slow lock manager?"))
    if not out:
        out.append(Finding("ok", "locks: every queue's lock can be taken and released"))
    return out


def _runners(spool: Spool) -> list[Finding]:
    states = runners(spool)
    lost = [r for r in states if r.lost]
    out = [Finding("ok", f"runners: {len(states) - len(lost)} live")]
    for r in lost:
        out.append(Finding("warn", f"runner {r.beat.id} on {r.beat.host} (pid {r.beat.pid}) has not beaten for "
                                   f"{r.age:.0f}s (lease {r.beat.lease:g}s): lost",
                           "a live runner requeues its jobs; restart it, or delete its heartbeat file "
                           f"{spool.layout.runner(r.beat.id)}"))
    return out


def _leftovers(spool: Spool) -> list[Finding]:
    out = []
    corrupt = spool.corrupt_files()
    if corrupt:
        out.append(Finding("warn", f"{len(corrupt)} file(s) in corrupt/ (e.g. {corrupt[0].name})",
                           f"read the .why notes in {spool.layout.corrupt}, then delete or repair the files"))
    now = time.time()
    old = []
    try:
        entries = list(os.scandir(spool.layout.tmp))
    except FileNotFoundError:
        entries = []
        out.append(Finding("error", f"{spool.layout.tmp} is missing: nothing can be written to the spool",
                           f"mkdir -m 755 {spool.layout.tmp}"))
    for e in entries:
        try:
            if now - e.stat(follow_symlinks=False).st_mtime > TMP_WARN_SECONDS:
                old.append(e.name)
        except FileNotFoundError:
            continue
    if old:
        out.append(Finding("warn", f"{len(old)} leftover file(s) in tmp/ older than an hour (writers that died)",
                           f"they are removed after {atomic.TMP_GRACE_SECONDS // 3600} h; delete them now if "
                           "no coreflow process is running"))
    if not out:
        out.append(Finding("ok", "no corrupt files, no leftovers in tmp/"))
    return out


def _clock(spool: Spool) -> list[Finding]:
    try:
        offset = clock_offset(spool)
    except SpoolError as exc:
        return [Finding("error", f"cannot write to the spool: {exc}", "check free space and permissions")]
    if abs(offset) > CLOCK_WARN_SECONDS:
        return [Finding("warn", f"this host's clock is {offset:+.1f}s off the filesystem's",
                        "run NTP on every host; coreflow judges leases by filesystem time, but ages shown "
                        "to people use this host's clock")]
    return [Finding("ok", f"clock: {offset:+.2f}s from the filesystem's")]
