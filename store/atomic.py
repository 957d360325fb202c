"""Atomic publication and the commit rename: the two primitives every change uses."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import NotRegularFile, StorageError
from .safeio import kind

# Files the store creates are never world-writable, whatever the caller's umask.
FILE_MODE = 0o644
# Maildir's rule: a tmp/ file this old belongs to a writer that died.
TMP_GRACE_SECONDS = 36 * 3600


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some filesystems (and FUSE bridges) refuse fsync on a directory; the rename
        # is still atomic, only its durability across a power cut is weaker.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _pid_scope() -> str:
    """Where a pid means one process: this host and PID namespace (the same hostname may
    be another container), so that clean_tmp judges only its own namespace's writers."""
    try:
        ns = os.readlink("/proc/self/ns/pid").partition("[")[2].rstrip("]")
    except OSError:
        ns = ""
    host = os.uname().nodename.replace("/", "_")  # gethostname(), without importing socket
    return f"{host}~{ns}" if ns.isdigit() else host


_HOST = _pid_scope()


def tmp_name(tmp_dir: str | Path, hint: str) -> str:
    """A new name in tmp/ that says whose it is (pid and host), so clean_tmp can tell a
    dead writer's leftovers from a live one's."""
    return f"{tmp_dir}/{os.getpid()}.{os.urandom(6).hex()}.{_HOST}.{hint}"


def stage(tmp_dir: str | Path, data: bytes, hint: str = "w", sync: bool = True) -> Path:
    """Write `data` to a new file in tmp/ (O_EXCL), flushed and fsynced; return its path.
    `sync=False`: the caller flushes a batch of them at once (flush_staged)."""
    path = tmp_name(tmp_dir, hint)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        raise StorageError.wrap(exc, "cannot create a file in the spool's tmp/") from exc
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    except OSError as exc:
        unlink_quietly(path)
        raise StorageError.wrap(exc, "cannot write to the spool") from exc
    finally:
        os.close(fd)
    return Path(path)


def flush_staged(paths: list[Path]) -> None:
    """Make a batch of files staged with sync=False durable: one syncfs(2) of their
    filesystem (group commit), or one fsync each where the call is missing."""
    if not paths:
        return
    try:
        fd = os.open(paths[0], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise StorageError.wrap(exc, "cannot flush files staged in the spool's tmp/") from exc
    try:
        if _libc_syncfs(fd) == 0:
            return
        for p in paths:
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    except OSError as exc:
        raise StorageError.wrap(exc, "cannot flush files staged in the spool's tmp/") from exc
    finally:
        os.close(fd)


def _libc_syncfs(fd: int) -> int:
    """syncfs(2) through libc; -1 where it is missing or fails (the caller fsyncs instead)."""
    import ctypes

    try:
        return int(ctypes.CDLL(None, use_errno=True).syncfs(fd))
    except (OSError, AttributeError):
        return -1


def publish(tmp_dir: Path, dest: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Make `dest` hold `data`, atomically: readers see the old file or the new one."""
    staged = stage(tmp_dir, data, dest.name[:40])
    try:
        os.rename(staged, dest)
    except OSError as exc:
        unlink_quietly(staged)
        raise StorageError.wrap(exc, f"cannot place {dest.name}") from exc
    if sync_dir:
        fsync_dir(dest.parent)


def publish_new(tmp_dir: Path, dest: Path, data: bytes) -> bool:
    """Like publish, but only if `dest` does not exist yet (link(2) is atomic and exclusive)."""
    staged = stage(tmp_dir, data, dest.name[:40])
    try:
        os.link(staged, dest)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot place {dest.name}") from exc
    finally:
        unlink_quietly(staged)
    fsync_dir(dest.parent)
    return True


def commit_rename(src: str | Path, dst: str | Path) -> bool:
    """rename(src, dst); False if src was gone (someone else won the race).

    NFS recipe: a retransmitted rename can report ENOENT although the first try
    succeeded, so on ENOENT we look for the target before we give up.
    (Plain strings are accepted: the runner's claim path avoids Path objects.)
    """
    try:
        os.rename(src, dst)
    except FileNotFoundError:
        return os.path.lexists(dst) and not os.path.lexists(src)
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot move {os.path.basename(src)}") from exc
    return True


def append_line(path: Path, line: bytes) -> None:
    """Append one line (O_APPEND). Callers hold the lock that serialises writers, so a
    FIFO (or anything but a regular file) in its place is refused at once, never waited on."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):  # a symlink; a FIFO without a reader, or a socket
            raise NotRegularFile(f"{path} is {_kind_at(path)}, not a regular file", path) from None
        raise StorageError.wrap(exc, "cannot record the change") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{path} is {kind(mode)}, not a regular file", path)
        os.write(fd, line if line.endswith(b"\n") else line + b"\n")
    except OSError as exc:
        raise StorageError.wrap(exc, "cannot record the change") from exc
    finally:
        os.close(fd)


def fs_now(tmp_dir: str | Path) -> float:
    """The filesystem's idea of now: the mtime of a file just created in tmp/ (on NFS the
    server's clock, the one every host's file times share)."""
    path = tmp_name(tmp_dir, "clock")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StorageError.wrap(exc, "cannot read the filesystem's clock (a file in tmp/)") from exc
    try:
        return os.fstat(fd).st_mtime
    finally:
        os.close(fd)
        unlink_quietly(path)


def clean_tmp(tmp_dir: Path, now: float | None = None, grace: float = TMP_GRACE_SECONDS) -> int:
    """Remove tmp/ entries left by dead writers; returns how many were removed.

    A file staged on this host by a process that is gone goes at once (the name
    starts with the writer's pid and carries its host); others after `grace`, judged
    by their mtime against the filesystem's clock (`now`: fs_now by default). A
    directory (a queue being added, or one being removed) goes by the same rules.
    """
    try:
        entries = list(os.scandir(tmp_dir))
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot list {tmp_dir}") from exc
    if not entries:
        return 0
    now = fs_now(tmp_dir) if now is None else now
    removed = 0
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
            if not (_writer_gone(entry.name) or now - st.st_mtime > grace):
                continue
            if stat.S_ISDIR(st.st_mode):
                import shutil  # rare: a short command does not pay for its import

                shutil.rmtree(entry.path)  # never follows a symlink inside
            else:
                os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StorageError.wrap(exc, f"cannot remove {entry.path}") from exc
    return removed


def _kind_at(path: Path) -> str:
    try:
        return kind(os.lstat(path).st_mode)
    except OSError:
        return "not a regular file"


def unlink_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _writer_gone(name: str) -> bool:
    pid, _, rest = name.partition(".")
    _, _, rest = rest.partition(".")
    if not pid.isdigit() or not rest.startswith(_HOST + "."):
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
