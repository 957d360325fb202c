"""The spool: CoreFlow's data model, on-disk layout, state changes, locks and change feed.

Headless by rule: no Textual, no Rich, no subprocesses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Each public name -> the module that defines it, imported on first use (PEP 562): a short
# command such as `coreflow show` loads only the modules it touches.
_HOME = {
    **dict.fromkeys(("Edit", "JobSpec", "Where", "build_job", "cancel", "edit", "hold", "move", "place", "prune",
                     "release", "retry", "submit"), "changes"),
    **dict.fromkeys(("AmbiguousJob", "ConfigError", "CorruptJob", "FormatError", "InvalidName", "JobAlreadyStarted",
                     "JobNotFound", "JobStateError", "LockTimeout", "QueueExists", "QueueNotEmpty", "QueueNotFound",
                     "SpoolError", "SpoolNotFound", "StorageError"), "errors"),
    **dict.fromkeys(("Audit", "Claim", "Heartbeat", "Job", "QueueConfig", "Result", "Trigger", "actor"), "model"),
    **dict.fromkeys(("DEFAULT_QUEUE", "JobRef", "JobView", "QueueInfo", "Spool"), "spool"),
}

if TYPE_CHECKING:
    from .changes import Edit, JobSpec, Where, build_job, cancel, edit, hold, move, place, prune, release, retry, submit
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
    from .spool import DEFAULT_QUEUE, JobRef, JobView, QueueInfo, Spool


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


__all__ = [
    "AmbiguousJob", "Audit", "Edit", "edit", "Claim", "ConfigError", "CorruptJob", "DEFAULT_QUEUE", "FormatError",
    "Heartbeat", "InvalidName", "Job", "JobAlreadyStarted", "JobNotFound", "JobRef", "JobSpec",
    "JobStateError", "JobView", "LockTimeout", "QueueConfig", "QueueExists", "QueueInfo",
    "QueueNotEmpty", "QueueNotFound", "Result", "Spool", "SpoolError", "SpoolNotFound", "StorageError",
    "Trigger", "Where", "actor", "build_job", "cancel", "hold", "move", "place", "prune", "release",
    "retry", "submit",
]
