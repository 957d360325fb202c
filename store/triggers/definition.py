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
# A state file holds a watch trigger's mark (about 40 bytes a file) or a git trigger's refs.
MAX_STATE_BYTES = 8 * 1024 * 1024
MAX_KEYS = 1000  # coalescing keys remembered per trigger (the most recently fired)


class JobTemplate(JobFields):
    """A trigger's [job] table: a submit's fields, with placeholders filled at firing."""

    name: str = "{trigger}"


class TriggerFile(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    kind: Literal["schedule", "watch", "git", "manual"]
    job: JobTemplate | None = None
    jobs: list[JobTemplate] = []  # a pipeline: each with `step`, `after` naming earlier steps
    description: str = ""
    enabled: bool = True
    coalesce: bool | str = False  # true: per trigger; a template ("{ref}"): per key
    params: dict[str, str] = {}
    every: str | int | float | None = None
    cron: str | None = None
    timezone: str | None = None
    catch_up: Literal["skip", "once"] | None = None
    path: str | None = None
    patterns: list[str] | None = None
    recursive: bool | None = None
    debounce: str | int | float | None = None
    repo: str | None = None
    branches: list[str] | None = None
    tags: list[str] | None = None
    on_delete: bool | None = None


# Placeholders the firing fills; every kind's own (KINDS[...].values) are among them.
BUILTIN = ("trigger", "fired_at", "changed", "changes", "ref", "old", "new", "deleted")


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
    git_dir: Path | None = None
    ref_patterns: tuple[str, ...] = ()
    on_delete: bool = False

    @property
    def coalesce(self) -> bool:
        return self.spec.coalesce is not False and self.spec.coalesce != ""

    @property
    def coalesce_key(self) -> str:
        """The key template ("" when coalescing is per trigger, or off)."""
        return self.spec.coalesce if isinstance(self.spec.coalesce, str) else ""

    @property
    def templates(self) -> list[JobTemplate]:
        """The job template, or a pipeline's, in order."""
        return [self.spec.job] if self.spec.job is not None else list(self.spec.jobs)

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

    @property
    def by_refs(self) -> bool:
        """Fired when a git ref moves; fills {ref}, {old}, {new}, {deleted} (see kinds.KINDS)."""
        return KINDS[self.kind].by_refs

    @property
    def needs_daemon(self) -> bool:
        """Fired by the trigger daemon alone (enabled, and not fired only by hand)."""
        return self.enabled and (self.by_clock or self.by_files or self.by_refs)

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
    # watch: what the last firing saw of each watched file, [mtime_ns, size] (see watchmarks)
    files: dict[str, list[int]] | None = None
    files_of: str = ""  # watch: the path, patterns and recursion `files` was taken for
    refs: dict[str, str] | None = None  # git: the selected refs' values the last firing saw
    refs_of: str = ""  # git: the ref patterns `refs` was taken for
    waiting: dict[str, list[str]] = {}  # coalesce key -> the jobs its last firing placed
    # The job(s) being placed (a pipeline is a list); set only while a firing is in flight.
    placing: Job | list[Job] | None = None
    replaces: str | list[str] | None = None  # the job(s) `placing` supersedes
