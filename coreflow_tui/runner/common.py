"""What the parts of the runner share: its options, a running job, timers, limits."""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass
from pathlib import Path

from store import Job, Result

from .process import JobProcess

CANCEL_GRACE_MAX = 1.0  # a cancel stops the job within 2 s, so its TERM grace is short
CANCEL_CHECK = 1.0  # safety net for a cancel request the feed did not report
CLAIM_SAFETY = 5.0  # re-look at every queue this often even without a change event
RETRY_RECORD = 1.0  # a result that could not be recorded (disk full) is retried this often
GIVE_UP_RECORD = 30.0  # when stopping, give up recording results after this long
FOLD_BACKLOG = 2000  # published results past which a busy runner folds some into their files
BUSY_BEAT_DELAY = 1.0  # a change of how busy we are reaches the heartbeat within this
# A claim is a rename (and a line in our claims journal); a job still running this
# long after it gets its claim written into its file (who runs it, since when, where
# it came from). A short job never pays for that rewrite.
CLAIM_RECORD_AFTER = 0.05
# Out of files, processes or memory: the runner's trouble, never the job's.
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM})
FDS_PER_JOB = 4  # output pipe, pidfd, log, and one to spare
FDS_RESERVED = 48  # the runner's own: listings, staged files, locks, the feed


@dataclass(slots=True)
class Options:
    queues: list[str]
    slots: int
    labels: frozenset[str]
    lease: float
    drain: bool = False
    requeue_on_stop: bool = False
    stop_grace: float = 10.0
    log_limit: int = 100 << 20
    poll_interval: float = 0.5
    every_queue: bool = False  # serve each queue of the spool, found again at each change of queues/
    work_root: Path | None = None  # where jobs' own working directories go (workdir.default_work_root)
    keep_workdir: bool = False


@dataclass(slots=True)
class Active:
    """A job this runner claimed, while it runs and until its result is recorded."""

    job: Job
    proc: JobProcess
    started_at: float = 0.0
    started_mono: float = 0.0
    deadline: float | None = None
    claim_due: float | None = None  # when to write the claim into the job's file; None once written
    stop_reason: str | None = None  # timeout | cancel | requeue | lost
    kill_at: float | None = None
    cancelled_by: str | None = None
    result: Result | None = None  # set once the process ended, until recorded
    record_errors: int = 0
    closed: bool = False


@dataclass(slots=True)
class Timers:
    beat: float = 0.0
    lost: float = 0.0
    cancel: float = 0.0
    claim: float = 0.0
    record: float = 0.0
    flush_error: float = 0.0


def boottime() -> float:
    """Seconds on a clock that also runs while the host is suspended (as the watchdog's)."""
    return time.clock_gettime(_CLOCK)


_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)
