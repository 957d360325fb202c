"""Which mount holds a path, its filesystem type and options (from /proc/self/mountinfo)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import msgspec

from .errors import ConfigError


class Mount(msgspec.Struct, frozen=True):  # a Struct: no dataclasses import on a submit's path
    point: str = ""
    fstype: str = ""
    options: list[str] = []  # per-mount and superblock options
    source: str = ""


def mount_of(path: Path | str) -> Mount:
    """The longest mount point that contains `path` (an empty Mount if unknown)."""
    real = os.path.realpath(path)
    best = Mount()
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields, rfields = left.split(), right.split()
                point = fields[4].replace("\\040", " ")
                inside = real == point or real.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= len(best.point) and rfields:
                    extra = rfields[2].split(",") if len(rfields) > 2 else []
                    best = Mount(point, rfields[0], fields[5].split(",") + extra,
                                 rfields[1].replace("\\040", " ") if len(rfields) > 1 else "")
    except OSError:
        pass
    return best


def lock_warning(probe: Path | str) -> str | None:
    """Why locks on the mount holding `probe` (an existing file) may not exclude other
    hosts, in words; None when they do as far as can be told.

    NFS says so in its options (`nolock`, `local_lock=flock|all`). A FUSE mount of a
    directory that is also reachable here (bindfs) is asked: a lock taken through the
    mount that does not stop one taken on the directory itself stays on this host.
    """
    m = mount_of(probe)
    if m.fstype.startswith("nfs"):
        local_lock = next((o.split("=", 1)[1] for o in m.options if o.startswith("local_lock=")), "none")
        if "nolock" in m.options or local_lock in ("flock", "all"):
            how = "nolock" if "nolock" in m.options else f"local_lock={local_lock}"
            return f"NFS mounted with {how}: locks do not exclude other hosts"
        return None
    if m.fstype.startswith("fuse") and m.source.startswith("/"):
        real = os.path.realpath(probe)
        inner = os.path.join(m.source, os.path.relpath(real, m.point))
        return "this FUSE mount does not pass locks on: they do not exclude other hosts" \
            if _locks_stay_local(real, inner) else None
    return None


def _locks_stay_local(through_mount: str, underneath: str) -> bool:
    try:
        a = os.open(through_mount, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        b = os.open(underneath, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        os.close(a)
        return False
    try:
        if os.fstat(a).st_size != os.fstat(b).st_size:
            return False  # not the same file: cannot tell
        fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # excluded: the lock went through
        fcntl.flock(b, fcntl.LOCK_UN)
        return True
    except OSError:
        return False
    finally:
        os.close(a)
        os.close(b)


POLLED_FSTYPES = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse", "9p", "afs", "ceph", "glusterfs", "lustre")
MODES = ("auto", "inotify", "poll")


def filesystem_type(path: Path) -> str:
    """The fstype of the mount holding `path` ('' if unknown)."""
    return mount_of(path).fstype


def needs_polling(fstype: str) -> bool:
    return any(fstype == t or fstype.startswith(t + ".") for t in POLLED_FSTYPES)


def choose_mode(path: Path, mode: str | None = None) -> str:
    """'inotify' or 'poll': the given mode, else $COREFLOW_WATCH, else by filesystem type."""
    mode = mode or os.environ.get("COREFLOW_WATCH") or "auto"
    if mode not in MODES:
        raise ConfigError(f"COREFLOW_WATCH={mode!r}: the watch mode must be auto, inotify or poll; "
                          "unset it to choose by filesystem")
    if mode == "auto":
        return "poll" if needs_polling(filesystem_type(path)) else "inotify"
    return mode
