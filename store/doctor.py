"""`coreflow doctor`: check a spool and say what to do about each problem found."""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import atomic
from .errors import ConfigError, SpoolError
from .mounts import choose_mode
from .jobtypes import load_types
from .locks import locked
from .mounts import lock_warning, mount_of
from .runners import RunnerState, clock_offset, runners
from .spool import Spool

CLOCK_WARN_SECONDS = 2.0
TMP_WARN_SECONDS = 3600.0
TMP_CLEAN_SLACK = 2 * 3600.0  # a runner sweeps hourly: older than grace + this means none did
# A spool with less free than this (space or inodes) is reported as a failure.
MIN_FREE_SHARE = 0.05
MIN_FREE_BYTES = 100 * 1024 * 1024
MIN_FREE_INODES = 1000
LABEL_SCAN = 1000  # waiting jobs per queue whose required labels doctor reads


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # ok | info | warn | error: anything but ok and info needs attention
    what: str
    advice: str = ""


def diagnose(root: Path, *, lock_timeout: float = 2.0) -> list[Finding]:
    out: list[Finding] = []
    try:
        spool = Spool.open(root)
    except SpoolError as exc:
        return [Finding("error", str(exc), "create it with `coreflow init`, or point --spool at the right place")]
    out.append(Finding("ok", f"spool {spool.root}, format 1"))
    read_only = _read_only(spool)
    out += read_only
    # On a read-only filesystem the checks that write would each blame something else.
    out += [] if read_only else _permissions(spool)
    out += _filesystem(spool)
    out += _space(spool)
    out += _config(spool)
    out += _triggers(spool)
    out += [] if read_only else _locks(spool, lock_timeout)
    out += _runners(spool)
    out += _unserved(spool)
    out += _leftovers(spool)
    out += [] if read_only else _clock(spool)
    out += _disk_usage(spool)
    return out


def needs_attention(findings: list[Finding]) -> bool:
    return any(f.level not in ("ok", "info") for f in findings)


def _read_only(spool: Spool) -> list[Finding]:
    try:
        ro = bool(os.statvfs(spool.root).f_flag & os.ST_RDONLY)
    except OSError:
        return []
    if not ro:
        return []
    return [Finding("error", f"the filesystem of {spool.root} is mounted read-only: nothing can be queued, "
                             "claimed or recorded, and its locks cannot be taken",
                    f"remount {mount_of(spool.root).point or 'it'} read-write")]


def _triggers(spool: Spool) -> list[Finding]:
    from .triggers import load_triggers

    try:
        loaded = load_triggers(spool)
    except SpoolError as exc:
        return [Finding("error", str(exc), "check the permissions of triggers/")]
    out = [Finding("error", f"trigger {name}: {why}", "fix the file; until then the trigger never fires")
           for name, why in loaded.errors.items()]
    if loaded.triggers or not out:
        out.insert(0, Finding("ok", f"triggers: {len(loaded.triggers)} valid"))
    if any(d.needs_daemon for d in loaded.triggers.values()):
        out += _trigger_daemon(spool)
    return out


def _trigger_daemon(spool: Spool) -> list[Finding]:
    """Schedules, watches and git triggers fire only while a trigger daemon runs."""
    from .triggers.daemons import daemons

    seen = daemons(spool)
    if seen and seen[0].alive:
        return [Finding("ok", f"trigger daemon: running {seen[0].describe()}")]
    last = f" (the last one, {seen[0].describe()}, beat {seen[0].age:.0f}s ago)" if seen else ""
    return [Finding("warn", f"no trigger daemon is running{last}: schedules, watches and git triggers wait "
                            "until one starts (it catches up on what they missed)",
                    "start `coreflow triggers run`, or `coreflow serve` (a runner and the trigger daemon)")]


def _unserved(spool: Spool) -> list[Finding]:
    """Queues whose waiting jobs no live runner will ever take."""
    live = [r for r in runners(spool) if not r.lost and not r.beat.stopping]
    out = []
    for q in spool.queue_names():
        try:
            info = spool.queue_info(q)
        except SpoolError:
            continue  # removed while we looked
        if not info.pending or info.config.paused:
            continue
        serving = [r for r in live if r.serves(q)]
        if not serving:
            out.append(Finding("warn", f"queue {q} has {info.pending} waiting job(s) and no live runner serves it",
                               f"start one: `coreflow runner --queues {q}`, or `coreflow serve`"))
            continue
        out += _unmet_labels(spool, q, serving)
    return out


def _unmet_labels(spool: Spool, queue: str, serving: list[RunnerState]) -> list[Finding]:
    """Waiting jobs (the first LABEL_SCAN of the queue) needing labels no runner of it has."""
    have = [set(r.beat.labels) for r in serving]
    unmet: dict[str, int] = {}
    for p in [p for p in spool.pending(queue) if not p.held][:LABEL_SCAN]:
        try:
            need = spool.read(spool.pending_ref(queue, p), cache=False).requires
        except SpoolError:
            continue  # started or quarantined meanwhile
        if need and not any(set(need) <= h for h in have):
            key = ",".join(sorted(need))
            unmet[key] = unmet.get(key, 0) + 1
    return [Finding("warn", f"queue {queue}: {n} waiting job(s) require label{'s' if ',' in key else ''} {key}, "
                            "which no live runner serving it has",
                    f"start one: `coreflow runner --queues {queue} --labels {key}`")
            for key, n in sorted(unmet.items())]


def _permissions(spool: Spool) -> list[Finding]:
    bad = spool.world_writable()
    if bad:
        return [Finding("error", f"world-writable: {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}; "
                                 "anyone on the host could queue commands for the runner, or plant files "
                                 "that hang it or forge its records (sticky or not)",
                        f"chmod -R o-w {spool.root}")]
    if not os.access(spool.root, os.W_OK):
        return [Finding("error", f"spool {spool.root} is not writable by this user",
                        "run as the spool's owner, or fix its permissions")]
    return _planted_at_top(spool) or [Finding("ok", "permissions: not world-writable")]


def _planted_at_top(spool: Spool) -> list[Finding]:
    """In a world-writable (sticky) spool directory anyone may create the files the spool
    has not made yet (types.toml, .spool.lock): name those another user owns."""
    try:
        top = os.stat(spool.root)
    except OSError:
        return []
    if not top.st_mode & 0o002:
        return []
    foreign = []
    for name in ("spool.json", ".spool.lock", "types.toml"):
        try:
            uid = os.lstat(spool.root / name).st_uid
        except OSError:
            continue
        if uid not in (top.st_uid, 0):
            foreign.append(f"{name} (uid {uid})")
    if not foreign:
        return []
    return [Finding("error", f"{', '.join(foreign)} in the world-writable spool directory belong to another "
                             "user, who could have planted them (job types, a lock that blocks settings)",
                    "check and remove them as the spool's owner; coreflow recreates .spool.lock")]


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
            "warn", f"{locks}; runners on two hosts may together exceed a queue's slots for a moment "
                    "(a job still never runs twice at once: each claim renames to its runner's own name)",
            "remount with working locks (NFS without nolock/local_lock, with a lock manager), "
            "or run runners on one host"))
    return out


def _config(spool: Spool) -> list[Finding]:
    out = []
    try:
        types = load_types(spool.layout.types)
        if spool.layout.types.exists():
            out.append(Finding("ok", f"types.toml: {len(types)} job type(s)"))
        else:
            out.append(Finding("info", "no types.toml: jobs have no types (optional; define some to give "
                                       "jobs a description, owner, default queue and timeout)"))
    except ConfigError as exc:
        out.append(Finding("error", str(exc), "fix the file; until then submits that name a type fail"))
    out += _queue_configs(spool)
    return out


def _queue_configs(spool: Spool) -> list[Finding]:
    """Each queue.json read as the runner reads it: every value checked, named when wrong."""
    out = []
    for q in spool.queue_names():
        if not os.path.lexists(spool.layout.queue_meta(q)):
            out.append(Finding("warn", f"queue {q} has no queue.json; defaults apply",
                               f"`coreflow queue set {q} --slots N` writes one"))
            continue
        try:
            spool.read_queue_config(q)
        except ConfigError as exc:
            out.append(Finding("error", f"{exc}; defaults apply (4 slots, not paused)",
                               f"`coreflow queue set {q} --slots N` rewrites it"))
    return out


def _locks(spool: Spool, timeout: float) -> list[Finding]:
    out = []
    for q in spool.queue_names():
        t = time.perf_counter()
        try:
            with locked(spool.layout.queue_lock(q), f"queue {q}", timeout):
                pass
        except SpoolError as exc:
            out.append(Finding("error", str(exc), _lock_advice(exc)))
            continue
        ms = (time.perf_counter() - t) * 1000
        if ms > 500:
            out.append(Finding("warn", f"lock of queue {q} took {ms:.0f} ms to take", "a slow lock manager?"))
    if not out:
        out.append(Finding("ok", "locks: every queue's lock can be taken and released"))
    return out


def _lock_advice(exc: SpoolError) -> str:
    """What to do about a lock that could not be taken: only a held lock calls for `fuser`."""
    cause = exc.__cause__
    code = cause.errno if isinstance(cause, OSError) else None
    if code == errno.EROFS:
        return "the filesystem refuses writes (read-only): remount it read-write"
    if code in (errno.EACCES, errno.EPERM):
        return "run as the spool's owner, or fix the permissions of the .lock file"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "free space (or inodes) on the spool's filesystem"
    if code == errno.ELOOP:
        return "the .lock file is a symlink, never followed: remove it (the next change recreates it)"
    return "find the process holding it (`fuser` on the .lock file)"


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
    out += _stale_tmp(spool)
    out += _not_regular(spool)
    if not out:
        out.append(Finding("ok", "no corrupt files, no leftovers in tmp/"))
    return out


def _not_regular(spool: Spool) -> list[Finding]:
    """FIFOs, symlinks, devices where the spool keeps only regular files: every reader skips
    or refuses them (so a runner's heartbeat, a log, an audit trail goes unseen), say where."""
    lay = spool.layout
    files = [lay.queue_audit(q) for q in spool.queue_names()]
    found = [str(f.relative_to(spool.root)) for f in files if os.path.islink(f) or (
        os.path.lexists(f) and not os.path.isfile(f))]
    for d in (lay.runners, lay.logs, lay.audit, lay.trigger_state):
        try:
            with os.scandir(d) as it:  # d_type: no stat per entry, cheap on 50,000 logs
                found += [str(Path(e.path).relative_to(spool.root)) for e in it if not e.is_file(follow_symlinks=False)]
        except OSError:
            continue
    if not found:
        return []
    shown = f"{', '.join(found[:3])}{' ...' if len(found) > 3 else ''}"
    return [Finding("error", f"{len(found)} FIFO(s), symlink(s) or other non-regular file(s) where the spool keeps "
                             f"only regular files; every reader skips them: {shown}",
                    f"find out who planted them, then remove them (in {spool.root})")]


def _stale_tmp(spool: Spool) -> list[Finding]:
    """Leftovers in tmp/, aged by the filesystem's clock, as the runner's sweep ages them."""
    try:
        entries = list(os.scandir(spool.layout.tmp))
    except FileNotFoundError:
        return [Finding("error", f"{spool.layout.tmp} is missing: nothing can be written to the spool",
                        f"mkdir -m 755 {spool.layout.tmp}")]
    if not entries:
        return []
    try:
        now = atomic.fs_now(spool.layout.tmp)
    except SpoolError:
        now = time.time()  # a read-only spool: this host's clock is the best we have
    ages = []
    for e in entries:
        try:
            ages.append(now - e.stat(follow_symlinks=False).st_mtime)
        except FileNotFoundError:
            continue
    old = [a for a in ages if a > TMP_WARN_SECONDS]
    if not old:
        return []
    grace = atomic.TMP_GRACE_SECONDS
    overdue = sum(1 for a in old if a > grace + TMP_CLEAN_SLACK)
    if overdue:
        return [Finding("warn", f"{overdue} leftover file(s) in tmp/ older than {grace // 3600} h: no runner has "
                                "removed them (a runner sweeps tmp/ hourly)",
                        f"start a runner, or delete them now if no coreflow process is running: "
                        f"find {spool.layout.tmp} -mindepth 1 -mmin +{grace // 60} -delete")]
    return [Finding("warn", f"{len(old)} leftover file(s) in tmp/ older than an hour (writers that died)",
                    f"a running runner removes them once {grace // 3600} h old; delete them now if no coreflow "
                    "process is running")]


def _space(spool: Spool) -> list[Finding]:
    """A full spool fails every submit and every finish: say so before it happens."""
    try:
        st = os.statvfs(spool.root)
    except OSError as exc:
        return [Finding("error", f"cannot read the free space of {spool.root}: {exc.strerror}")]
    out = []
    checks = [("space", st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize, MIN_FREE_BYTES, _bytes)]
    if st.f_files:  # some filesystems (btrfs, NFS from some servers) report no inode counts
        checks.append(("inodes", st.f_favail, st.f_files, MIN_FREE_INODES, str))
    for what, free, total, floor, show in checks:
        share = free / total if total else 0.0
        if share >= 0.5 and free < floor:  # a small filesystem, mostly free: not "nearly full"
            out.append(Finding("warn", f"the spool's filesystem is small: {show(free)} {what} free of "
                                       f"{show(total)}, less than the {show(floor)} a busy spool needs",
                               "move the spool to a larger filesystem"))
        elif free < floor or share < MIN_FREE_SHARE:
            out.append(Finding("error", f"the spool's filesystem is nearly full: {show(free)} {what} free of "
                                        f"{show(total)} ({share:.1%}); submits and finishes will fail",
                               "free space (`coreflow prune --older-than 7d`, remove old logs) or move the spool"))
        else:
            out.append(Finding("ok", f"free {what}: {show(free)} of {show(total)} ({share:.0%})"))
    return out


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


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


def _disk_usage(spool: Spool) -> list[Finding]:
    """The spool's size, its largest logs, what prune would free (issue 13)."""
    from .usage import describe, usage

    what, advice = describe(usage(spool))
    return [Finding("ok", what, advice)]
