"""The spool: CoreFlow's data model, on-disk layout, state changes, locks and change feed.

Headless by rule: no Textual, no Rich, no subprocesses.
"""

from __future__ import annotations

from .jobs import Edit, JobSpec, Where, build_job, cancel, edit, hold, move, place, prune, release, retry, submit
from .errors import (
    AmbiguousJob,
    ConfigError,
    CorruptJob,
    FormatError,
    InvalidName,
    JobAlreadyStarted,
    JobNotFound,
    JobStateError,
    LockTimeout,
    QueueExists,
    QueueNotEmpty,
    QueueNotFound,
    SpoolError,
    SpoolNotFound,
    StorageError,
)
from .model import Audit, Claim, Heartbeat, Job, QueueConfig, Result, Trigger, actor
from .refs import JobRef, JobView, QueueInfo
from .spool import DEFAULT_QUEUE, Spool
from .states import FINAL, WAITING, State

__all__ = [
    "AmbiguousJob", "Audit", "Edit", "edit", "Claim", "ConfigError", "CorruptJob", "DEFAULT_QUEUE", "FormatError",
    "Heartbeat", "InvalidName", "Job", "JobAlreadyStarted", "JobNotFound", "JobRef", "JobSpec",
    "JobStateError", "JobView", "LockTimeout", "QueueConfig", "QueueExists", "QueueInfo",
    "QueueNotEmpty", "QueueNotFound", "Result", "Spool", "State", "FINAL", "WAITING", "SpoolError", "SpoolNotFound", "StorageError",
    "Trigger", "Where", "actor", "build_job", "cancel", "hold", "move", "place", "prune", "release",
    "retry", "submit",
]
