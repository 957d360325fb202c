"""Each job's own working directory, for a job that names no `cwd`.

The work root is local to the runner's host (`--work-root`, default
$XDG_CACHE_HOME/coreflow/work, else ~/.cache/coreflow/work), never the shared spool:
a build's scratch files have no business on NFS. A job gets ROOT/ID.ATTEMPT (a random
suffix if that exists, from a runner that died), made mode 0700 inside a root that must be
a real directory of ours that nobody else may write (so no one can swap a symlink in). It
is removed after the job unless kept (`--keep-workdir`, or `keep_workdir` of the job's
type, which wins): renamed aside at once and deleted by a background thread, so a
job that left a million files does not stall the runner's loop. A runner killed outright
leaves its jobs' directories behind (one work root may serve runners of several spools, so
no runner can tell whose a left-over is): remove old ones by age if that matters.
"""

from __future__ import annotations

import errno
import os
import queue
import secrets
import shutil
import stat
import threading
from pathlib import Path

from store import Job, Spool, SpoolError
from store.jobtypes import load_types

TRASH = ".trash."  # ROOT/.trash.NAME: a job's directory being deleted


def default_work_root() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "coreflow" / "work"


class WorkDirError(Exception):
    """The job's working directory cannot be made; `errno` is the OS's code."""

    def __init__(self, message: str, errno_: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno_


class WorkDirs:
    def __init__(self, root: Path, keep: bool, spool: Spool) -> None:
        self.root = root.absolute()
        self.keep = keep
        self.spool = spool
        self._doomed: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._swept = False
        self._fd: int | None = None  # the work root, kept open (see _root_fd)
        self._root_id = (0, 0)

    def make(self, job: Job) -> str:
        """Create the job's directory (mode 0700) and return its path."""
        fd = self._root_fd()
        name = f"{job.id}.{job.attempt}"
        for _ in range(3):
            try:
                os.mkdir(name, 0o700, dir_fd=fd)
                return f"{self.root}/{name}"
            except FileExistsError:  # left by a runner that died: never reused
                name = f"{job.id}.{job.attempt}.{secrets.token_hex(4)}"
            except OSError as exc:
                raise WorkDirError(f"cannot start the job: cannot make its working directory in {self.root}: "
                                   f"{exc.strerror}", exc.errno) from None
        raise WorkDirError(f"cannot start the job: cannot make a new working directory in {self.root}")

    def _root_fd(self) -> int:
        """The work root, made if missing, opened and checked once; again if it was replaced."""
        if self._fd is not None:
            try:
                st = os.lstat(self.root)
                if (st.st_dev, st.st_ino) == self._root_id:
                    return self._fd
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except FileExistsError:
            pass  # not a directory: said below
        except OSError as exc:
            raise self._refused(exc.strerror, exc.errno) from None
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            is_link = os.path.islink(self.root)
            raise self._refused("a symlink" if is_link else "not a directory" if exc.errno == errno.ENOTDIR
                                else exc.strerror, exc.errno) from None
        st = os.fstat(fd)
        why = ("another user's directory, not safe for jobs' files" if st.st_uid != os.geteuid()
               else "writable by others, not safe for jobs' files" if st.st_mode & 0o022 else "")
        if why:
            os.close(fd)
            raise self._refused(why, None)
        self._fd, self._root_id = fd, (st.st_dev, st.st_ino)
        if not self._swept:
            self._sweep(fd)
        return fd

    def _refused(self, why: str | None, code: int | None) -> WorkDirError:
        return WorkDirError(f"cannot start the job: cannot make its working directory: work root {self.root}: "
                            f"{why} (see `coreflow runner --work-root`)", code)

    def keep_for(self, job: Job) -> bool:
        """The job type's keep_workdir if it says, else the runner's --keep-workdir."""
        if job.type:
            try:
                jt = load_types(self.spool.layout.types).get(job.type)
            except SpoolError:
                jt = None  # a broken types.toml (doctor says so): the runner's choice
            if jt is not None and jt.keep_workdir is not None:
                return jt.keep_workdir
        return self.keep

    def remove(self, path: str) -> None:
        """Set the directory aside at once (one rename) and delete it in the background."""
        try:
            os.rmdir(path)  # most often empty: no need for the background
            return
        except OSError:
            pass
        p = Path(path)
        aside = p.with_name(TRASH + p.name)
        try:
            os.rename(p, aside)
        except OSError:
            aside = p  # delete it where it is
        self._later(aside)

    def _sweep(self, fd: int) -> None:
        """Once per runner: delete what a runner that died while deleting left set aside."""
        self._swept = True
        for name in os.listdir(fd):
            if name.startswith(TRASH):
                self._later(self.root / name)

    def _later(self, path: Path) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._delete, name="coreflow-workdirs", daemon=True)
            self._thread.start()
        self._doomed.put(path)

    def close(self, wait: float = 2.0) -> None:
        """Let the deleting thread finish what it has (briefly; the rest is left for later)."""
        if self._thread is not None:
            self._doomed.put(None)
            self._thread.join(wait)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _delete(self) -> None:
        while (path := self._doomed.get()) is not None:
            remove_tree(path)


def remove_tree(path: Path) -> None:
    """Delete a job's directory, also what it made read-only; never follows a symlink."""

    def make_writable(_func: object, name: str, _exc: object) -> None:
        for d in (name, os.path.dirname(name)):
            try:
                if stat.S_ISDIR(os.lstat(d).st_mode):
                    os.chmod(d, 0o700)
            except OSError:
                pass

    for _ in range(10):  # each pass opens up what the one before could not enter
        shutil.rmtree(path, onerror=make_writable)
        if not os.path.lexists(path):
            return
