"""The spool: CoreFlow's data model, on-disk layout, state changes, locks and change feed.

Headless by rule: no Textual, no Rich, no subprocesses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Each public name -> the module that defines it, imported on first use (PEP 562): a short
# command such as `coreflow submit` loads only the modules it touches.
_HOME = {
    **dict.fromkeys(("JobSpec", "build_job", "place", "submit"), "jobs.submit"),
    **dict.fromkeys(("Edit", "edit"), "jobs.edit"),
    **dict.fromkeys(("hold", "release"), "jobs.hold"),
    **dict.fromkeys(("Where", "move"), "jobs.move"),
    "cancel": "jobs.cancel", "prune": "jobs.prune", "retry": "jobs.retry",
    **dict.fromkeys(("AmbiguousJob", "ConfigError", "CorruptJob", "FormatError", "InvalidName", "JobAlreadyStarted",
                     "JobNotFound", "JobStateError", "LockTimeout", "QueueExists", "QueueNotEmpty", "QueueNotFound",
                     "SpoolError", "SpoolNotFound", "StorageError"), "errors"),
    **dict.fromkeys(("Audit", "Claim", "Heartbeat", "Job", "QueueConfig", "Result", "Trigger", "actor"), "model"),
    **dict.fromkeys(("JobRef", "JobView", "QueueInfo"), "refs"),
    **dict.fromkeys(("DEFAULT_QUEUE", "Spool"), "spool"),
    **dict.fromkeys(("FINAL", "WAITING", "State"), "states"),
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


if TYPE_CHECKING:
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
    from .jobs.cancel import cancel
    from .jobs.edit import Edit, edit
    from .jobs.hold import hold, release
    from .jobs.move import Where, move
    from .jobs.prune import prune
    from .jobs.retry import retry
    from .jobs.submit import JobSpec, build_job, place, submit
    from .model import Audit, Claim, Heartbeat, Job, QueueConfig, Result, Trigger, actor
    from .refs import JobRef, JobView, QueueInfo
    from .spool import DEFAULT_QUEUE, Spool
    from .states import FINAL, WAITING, State

__all__ = sorted(_HOME)
