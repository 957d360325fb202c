"""Spool events the TUI's workers post: past tense, plain data, no widgets.

Workers read the spool in threads and post these; handlers on the main thread
change what the widgets show.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from store.feed import Change
from store.runners import RunnerState

from ..present import JobDetail
from .readmodel import FinishedRows, Overview, QueueRows


@dataclass
class SpoolChanged(Message):
    """The change feed saw something change (another process, another host, us)."""

    change: Change

    def can_replace(self, message: Message) -> bool:
        return False  # each batch names different queues; the loader coalesces them


@dataclass
class JobsLoaded(Message):
    """A queue's jobs were listed: running (decoded), then pending and held (names only)."""

    rows: QueueRows | FinishedRows


@dataclass
class RunnersLoaded(Message):
    """Heartbeats were read; nothing else about the runners changed (see serving())."""

    runners: list[RunnerState]
    at: float


@dataclass
class OverviewLoaded(Message):
    """Queue counts, runners and corrupt files were read."""

    overview: Overview


@dataclass
class LoadFinished(Message):
    """A load pass ended (whatever it found); the next one may start."""


@dataclass
class DetailLoaded(Message):
    detail: JobDetail


@dataclass
class LogRead(Message):
    """A job's log from `offset` to `end`; `ended` says how the job ended, once it has."""

    job_id: str
    text: str
    offset: int
    end: int
    ended: str | None


@dataclass
class JobsChanged(Message):
    """A change the user asked for went through the store."""

    text: str
    job_id: str | None = None
    position: int | None = None  # a single move's new place, to keep the cursor on the job


@dataclass
class ChangeRefused(Message):
    """The store said no ("job already started"): shown as a notification."""

    text: str


@dataclass
class FilterMatched(Message):
    """Rows of the current listing whose job matches the filter text."""

    text: str
    indices: list[int]
    base: QueueRows | FinishedRows
