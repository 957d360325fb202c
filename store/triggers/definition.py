"""A trigger's file format (TriggerFile, its job template) and what loading makes of it
(TriggerDef, TriggerState), with the limits they keep to."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from ..jobs.submit import JobFields
from ..model import Job
from .kinds import KINDS

MAX_NAME = 200
MAX_DETAIL = 500
# Most missed cron slots counted one by one after a gap; beyond it we say "at least".
MAX_COUNT = 10_000


class JobTemplate(JobFields):
    """A trigger's [job] table: a submit's fields, with placeholders filled at firing."""

    name: str = "{trigger}"


class TriggerFile(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    kind: Literal["schedule", "watch", "manual"]
    job: JobTemplate
    description: str = ""
    enabled: bool = True
    coalesce: bool = False
    params: dict[str, str] = {}
    every: str | int | float | None = None
    cron: str | None = None
    timezone: str | None = None
    catch_up: Literal["skip", "once"] | None = None
    path: str | None = None
    patterns: list[str] | None = None
    recursive: bool | None = None
    debounce: str | int | float | None = None


BUILTIN = ("trigger", "fired_at", "changed")


SETTABLE = ("queue", "type", "name", "priority", "timeout", "retries", "cwd")


@dataclass(frozen=True)
class TriggerDef:
    """A validated trigger file."""

    name: str
    kind: str
    file: Path
    spec: TriggerFile
    text: str = field(repr=False)
    interval: float | None = None
    cron: str | None = None
    tz: ZoneInfo | None = None
    catch_up: str = "once"
    watch_path: Path | None = None
    patterns: tuple[str, ...] = ("*",)
    recursive: bool = True
    debounce: float = 1.0

    @property
    def coalesce(self) -> bool:
        return self.spec.coalesce

    @property
    def enabled(self) -> bool:
        return self.spec.enabled

    @property
    def by_clock(self) -> bool:
        """Fired when a schedule slot is due (see kinds.KINDS)."""
        return KINDS[self.kind].by_clock

    @property
    def by_files(self) -> bool:
        """Fired when watched files change; fills {changed} (see kinds.KINDS)."""
        return KINDS[self.kind].by_files

    def describe(self) -> str:
        """The schedule or the watched paths, in a few words."""
        return KINDS[self.kind].describe(self)

    def matches(self, rel: str) -> bool:
        base = rel.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(base, p) for p in self.patterns)


class TriggerState(msgspec.Struct, omit_defaults=True):
    last_slot: float | None = None  # schedule: the newest slot accounted for (fired or skipped)
    last_fired_at: float | None = None
    last_job: str | None = None
    last_detail: str = ""
    fired: int = 0
    skipped: int = 0
    watch_mark: int = 0  # watch: newest mtime (ns, filesystem clock) a firing covered
    placing: Job | None = None  # the job being placed; set only while a firing is in flight
    replaces: str | None = None  # the job `placing` supersedes
