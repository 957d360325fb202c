"""One job's process: started in a session of its own (no controlling terminal, its own
process group), its output streamed to the log.

The job's stdout and stderr are one pipe that the runner copies into the job's log as
data arrives, so the log is readable while the job runs, a job that prints gigabytes
is cut at a limit instead of filling the disk, and a log that cannot be written does
not stop the job (the result says what was lost).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from store import Job, Spool, SpoolError

from .jobenv import job_env
from .workdir import WorkDirError, WorkDirs

CHUNK = 65536
LOG_MODE = 0o640  # a job's output may hold secrets: not for every user of the host
_LOG_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# Per wake-up, so one chatty job cannot starve the others or the timers.
MAX_READS_PER_WAKE = 16


class SpawnError(Exception):
    """The command could not be started; the message is the OS's reason, `errno` its code."""

    def __init__(self, message: str, errno_: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno_


@dataclass(slots=True)
class Exit:
    exit_code: int | None
    signal: int | None


def describe_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} bytes"


SetAside = Callable[[Path, str], object]  # moves a file out of the way (Spool.quarantine)


class LogRefused(Exception):
    """The job's log cannot be made: something that is not ours is in its place."""


def open_log_file(path: Path, set_aside: SetAside) -> tuple[int, str]:
    """A descriptor to append a job's output to, and a note if something was in the way.

    The log is created by us, exclusively. A file already there is appended to only if
    it is a regular file of ours that nobody else may write (an earlier attempt's log);
    anything else (a FIFO, a symlink, another user's file) is moved aside to corrupt/
    and never written to. Never blocks: a FIFO does not hang the runner.
    """
    note = ""
    why = ""
    for _ in range(2):
        try:
            return os.open(path, _LOG_FLAGS | os.O_CREAT | os.O_EXCL, LOG_MODE), note
        except FileExistsError:
            pass
        try:
            fd = os.open(path, _LOG_FLAGS)
        except FileNotFoundError:
            continue
        except OSError as exc:  # ELOOP: a symlink; ENXIO: a FIFO that nobody reads
            why = "a symlink" if exc.errno == errno.ELOOP else f"not a file we can write ({exc.strerror})"
        else:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022:
                return fd, note
            os.close(fd)
            why = ("another user's file" if stat.S_ISREG(st.st_mode) and st.st_uid != os.geteuid()
                   else "writable by others" if stat.S_ISREG(st.st_mode) else "not a regular file")
        note = f"{path.name} was already there ({why}): moved aside to corrupt/, never written to"
        try:
            set_aside(path, f"found in place of a job's log ({why}); the runner made a new one")
        except SpoolError:
            break
    raise LogRefused(f"{path.name} is in the way ({why}) and cannot be moved aside: remove it")


def append_note(path: Path, text: str, set_aside: SetAside) -> None:
    """Add a line of the runner's own to a job's log (safely, as open_log_file)."""
    try:
        fd, note = open_log_file(path, set_aside)
    except (LogRefused, OSError):
        return  # the runner's own log says what happened
    try:
        os.write(fd, (note_line(note) if note else b"") + note_line(text))
    except OSError:
        pass
    finally:
        os.close(fd)


class JobProcess:
    def __init__(self, job: Job, spool: Spool, log_limit: int, workdirs: WorkDirs | None = None) -> None:
        self.job = job
        self.workdirs = workdirs
        self.workdir: str | None = None  # the job's own working directory, made at start
        self.spool_root = str(spool.root)
        self.set_aside: SetAside = spool.quarantine
        self.log_path = spool.layout.log(job.id)
        self.log_limit = log_limit
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self.pidfd: int | None = None
        self.out_fd: int | None = None
        self.log_fd: int | None = None
        self.log_opened = False
        self.logged = 0  # bytes of output written to the log
        self.dropped = 0  # bytes of output not written (limit reached or write errors)
        self.log_problem = ""  # first reason output was lost
        self.capped = False
        self.exit: Exit | None = None

    # -- start ---------------------------------------------------------------------

    def open_log(self) -> None:
        """Open (create) the log. Done on the first output: a job that prints nothing
        has no log file (`coreflow logs` shows it as empty), and costs no create."""
        if self.log_opened:
            return
        self.log_opened = True
        try:
            self.log_fd, note = open_log_file(self.log_path, self.set_aside)
        except LogRefused as exc:
            self.log_problem = f"cannot write the log: {exc}"
            return
        except OSError as exc:
            self.log_problem = f"cannot write the log {self.log_path}: {exc.strerror}"
            return
        if note:
            self._put(note_line(note))

    def start(self, env: dict[str, str], stdin: int) -> None:
        job = self.job
        argv = ["/bin/sh", "-c", job.command[0]] if job.shell else list(job.command)
        cwd = job.cwd
        if cwd is None and self.workdirs is not None:
            try:
                cwd = self.workdir = self.workdirs.make(job)
            except WorkDirError as exc:
                raise SpawnError(str(exc), exc.errno) from None
        env = job_env(env, job, self.spool_root, self.workdir)
        try:
            r, w = os.pipe2(os.O_CLOEXEC)
        except OSError as exc:
            raise SpawnError(f"cannot start the job: no pipe for its output: {exc.strerror}", exc.errno) from None
        try:
            if "PATH" not in job.env:
                # posix_spawn: no Python-side fork machinery, a good deal faster than Popen for
                # short jobs. It searches the runner's PATH: a job with its own uses Popen.
                self.pid = _spawn(argv, env, [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, w, 1),
                                              (os.POSIX_SPAWN_DUP2, w, 2)], cwd)
            else:
                self.proc = subprocess.Popen(argv, stdin=stdin, stdout=w, stderr=w, cwd=cwd or None, env=env,
                                             start_new_session=True, close_fds=True)
                self.pid = self.proc.pid
        except (OSError, ValueError) as exc:
            os.close(r)
            raise SpawnError(_spawn_message(exc, argv, cwd), getattr(exc, "errno", None)) from None
        finally:
            os.close(w)
        self.out_fd = r
        os.set_blocking(r, False)
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except OSError:
            self.pidfd = None  # an old kernel: the runner polls this child instead

    # -- output --------------------------------------------------------------------

    def read_output(self, limit: int = MAX_READS_PER_WAKE) -> bool:
        """Copy what the job wrote to its log; False at end of output."""
        if self.out_fd is None:
            return False
        for _ in range(limit):
            try:
                chunk = os.read(self.out_fd, CHUNK)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self._write(chunk)
        return True

    def note(self, text: str) -> None:
        """A line from the runner itself in the job's log (marked as such)."""
        self.open_log()
        if self.log_fd is not None:
            self._put(note_line(text))

    def _write(self, data: bytes) -> None:
        self.open_log()
        if self.log_fd is None:
            self.dropped += len(data)
            return
        room = self.log_limit - self.logged
        if len(data) > room:
            if room > 0:
                self.logged += self._put(data[:room])
            self.dropped += len(data) - max(room, 0)
            if not self.capped:
                self.capped = True
                limit = describe_size(self.log_limit)
                self.log_problem = self.log_problem or f"output beyond the log limit of {limit} was discarded"
                self._put(f"\n[coreflow] log limit of {limit} reached: further output is discarded\n".encode())
            return
        self.logged += self._put(data)

    def _put(self, data: bytes) -> int:
        assert self.log_fd is not None
        view = memoryview(data)
        written = 0
        while view:
            try:
                n = os.write(self.log_fd, view)
            except OSError as exc:
                # Disk full, I/O error: lose this piece, keep the job running, try the next one.
                self.dropped += len(view)
                self.log_problem = self.log_problem or f"cannot write the log: {exc.strerror}"
                return written
            view = view[n:]
            written += n
        return written

    # -- stop and reap -------------------------------------------------------------

    def signal_group(self, sig: int) -> bool:
        """Signal the job's whole process group; False if nothing was left in it."""
        if not self.pid:
            return False
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def poll(self) -> Exit | None:
        """Reap the job's main process if it exited. What is left in its group (a
        background process the job did not wait for) is killed first, while the leader
        is still a zombie and so the group's id cannot have been reused."""
        if self.exit is not None:
            return self.exit
        try:
            exited = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            exited = True
        if not exited:
            return None
        self.signal_group(signal.SIGKILL)
        if self.proc is not None:
            code = self.proc.wait()
        else:
            try:
                code = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            except ChildProcessError:
                code = 0  # reaped elsewhere; nothing more to know
        self.exit = Exit(code, None) if code >= 0 else Exit(None, -code)
        return self.exit

    def close_output(self, budget: int = 4 << 20) -> None:
        """Read what is still in the pipe (a daemon the job started may keep it open:
        read at most `budget` bytes more), then close it."""
        if self.out_fd is not None:
            if budget:
                self.read_output(max(1, budget // CHUNK))
            os.close(self.out_fd)
            self.out_fd = None

    def close(self) -> None:
        self.close_output(0)
        if self.workdir is not None and self.workdirs is not None:
            if self.workdirs.keep_for(self.job):
                self.note(f"working directory kept: {self.workdir}")
            else:
                self.workdirs.remove(self.workdir)
            self.workdir = None
        if self.log_fd is not None:
            os.close(self.log_fd)
            self.log_fd = None
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def problems(self) -> str:
        if not self.dropped and not self.log_problem:
            return ""
        lost = f"{describe_size(self.dropped)} of output not logged" if self.dropped else "output not logged"
        return f"{lost}: {self.log_problem}" if self.log_problem else lost


def note_line(text: str) -> bytes:
    """A line of the runner's own in a job's log, marked as such."""
    return f"[coreflow] {text}\n".encode()


_resolved: dict[str, str] = {}


def _spawn(argv: list[str], env: dict[str, str], actions: list[tuple[int, int, int]], cwd: str | None) -> int:
    """posix_spawn in `cwd`: Python's has no chdir action, so the runner steps into the
    directory for the call and back (every other path the runner and its threads use is
    absolute; finish hooks name their own cwd)."""
    if cwd is None:
        return _spawn_here(argv, env, actions)
    home = _home()  # before the first chdir: else "home" would be the first job's directory
    os.chdir(cwd)
    try:
        return _spawn_here(argv, env, actions)
    finally:
        try:
            os.fchdir(home)
        except OSError:
            os.chdir("/")  # never lose the pid of a job already started over where we stand


_home_fd: int | None = None


def _home() -> int:
    """The runner's own working directory (kept open: it may be renamed or removed;
    O_PATH: no read permission needed)."""
    global _home_fd
    if _home_fd is None:
        _home_fd = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC)
    return _home_fd


def _spawn_here(argv: list[str], env: dict[str, str], actions: list[tuple[int, int, int]]) -> int:
    """posix_spawn with the program looked up in PATH once (not at every job: a failed
    exec per PATH entry before the right one adds up), looked up again if it moved."""
    prog = argv[0]
    if "/" in prog:
        return os.posix_spawn(prog, argv, env, setsid=True, file_actions=actions)
    path = _resolved.get(prog)
    if path is not None:
        try:
            return os.posix_spawn(path, argv, env, setsid=True, file_actions=actions)
        except (FileNotFoundError, PermissionError):
            del _resolved[prog]
    found = shutil.which(prog)
    if found is None:
        return os.posix_spawnp(prog, argv, env, setsid=True, file_actions=actions)  # for the OS's own error
    _resolved[prog] = found
    return os.posix_spawn(found, argv, env, setsid=True, file_actions=actions)


def _spawn_message(exc: BaseException, argv: list[str], cwd: str | None) -> str:
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        if cwd and exc.filename == cwd:
            return f"cannot start the job: working directory {cwd}: {reason}"
        if exc.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.ENOTDIR):
            return f"cannot start the job: {argv[0]}: {reason}"
        return f"cannot start the job ({argv[0]}): {reason}"
    return f"cannot start the job ({argv[0]}): {exc}"

