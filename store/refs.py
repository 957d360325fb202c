"""What listing a spool hands out: where a job is (`JobRef`), a decoded job with its
place (`JobView`), a queue's counts (`QueueInfo`)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from .layout import PendingName
from .model import Job, QueueConfig


# msgspec Structs, not dataclasses: the same fields, equality and repr, and a short
# command does not pay for importing dataclasses and generating their methods.
class JobRef(msgspec.Struct):
    """Where a job is now: its queue, state and file. Cheap: found from names alone."""

    id: str
    queue: str
    state: str
    file: str  # its path; a str: a listing of 50,000 jobs makes no Path objects
    pending: PendingName | None = None  # the parsed name while pending or held

    @property
    def path(self) -> Path:
        return Path(self.file)


class QueueInfo(msgspec.Struct):
    name: str
    config: QueueConfig
    pending: int
    held: int
    running: int


class JobView(msgspec.Struct):
    """A decoded job with where it is: what `ls`, `show` and the TUI present."""

    job: Job
    queue: str
    state: str
    position: int | None  # 1-based among pending and held, in run order
    ref: JobRef
