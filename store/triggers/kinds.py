"""The kinds of trigger, one record each: the file keys that belong to it, how it checks
them (and what it sets of the TriggerDef), how it describes itself, and what fires it.
A new kind is one more entry in KINDS (and its name in TriggerFile.kind)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigError, InvalidValue
from ..names import parse_duration

if TYPE_CHECKING:
    from ..spool import Spool
    from .definition import TriggerDef, TriggerFile

Fail = Callable[[str, str], ConfigError]


@dataclass(frozen=True)
class Kind:
    name: str
    keys: tuple[str, ...]  # the file keys that apply to this kind only
    check: Callable[[Spool, TriggerFile, Fail], dict[str, Any]]  # its keys -> TriggerDef fields
    describe: Callable[[TriggerDef], str]  # the schedule or the watched paths, in a few words
    by_clock: bool = False  # fired by the daemon when a slot is due
    by_files: bool = False  # fired by the daemon when files change; fills {changed}


def fmt_seconds(s: float | None) -> str:
    if not s:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{s:g}s"


def _duration(value: str | int | float, key: str, fail: Fail) -> float:
    try:
        return parse_duration(value, key)
    except InvalidValue as exc:
        raise fail(key, str(exc)) from None


def _check_schedule(spool: Spool, spec: TriggerFile, fail: Fail) -> dict[str, Any]:
    if (spec.every is None) == (spec.cron is None):
        raise fail("every", "a schedule needs exactly one of `every = \"30s\"` or `cron = \"*/5 * * * *\"`")
    tz = None
    if spec.timezone is not None:
        try:
            tz = ZoneInfo(spec.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise fail("timezone", f"unknown time zone {spec.timezone!r} (use e.g. \"UTC\", "
                                   "\"Europe/Berlin\")") from None
    out: dict[str, Any] = {"tz": tz, "catch_up": spec.catch_up or "once"}
    if spec.every is not None:
        out["interval"] = _duration(spec.every, "every", fail)
        if out["interval"] < 1:
            raise fail("every", "must be at least 1s")
    else:
        assert spec.cron is not None
        from croniter import croniter

        if not croniter.is_valid(spec.cron):
            raise fail("cron", f"{spec.cron!r} is not a cron expression (five fields: minute hour "
                               "day-of-month month day-of-week, e.g. \"*/5 * * * *\")")
        out["cron"] = spec.cron
    return out


def _describe_schedule(d: TriggerDef) -> str:
    what = f"every {fmt_seconds(d.interval)}" if d.interval else f"cron {d.cron}"
    return what + (f" ({d.spec.timezone})" if d.spec.timezone else "")


def _check_watch(spool: Spool, spec: TriggerFile, fail: Fail) -> dict[str, Any]:
    if not spec.path:
        raise fail("path", "a watch trigger needs `path = \"DIR\"` (relative to the spool, or absolute)")
    where = Path(spec.path)
    where = where if where.is_absolute() else spool.root / where
    if not where.is_dir():
        raise fail("path", f"directory {where} does not exist")
    patterns = tuple(spec.patterns) if spec.patterns is not None else ("*",)
    if not patterns or not all(patterns):
        raise fail("patterns", "give at least one glob, e.g. [\"*.c\", \"*.h\"] (or leave it out for all)")
    return {"watch_path": where, "patterns": patterns,
            "recursive": True if spec.recursive is None else spec.recursive,
            "debounce": _duration(spec.debounce if spec.debounce is not None else "1s", "debounce", fail)}


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("schedule", ("every", "cron", "timezone", "catch_up"), _check_schedule, _describe_schedule, by_clock=True),
    Kind("watch", ("path", "patterns", "recursive", "debounce"), _check_watch,
         lambda d: f"{d.spec.path}: {' '.join(d.patterns)}", by_files=True),
    Kind("manual", (), lambda spool, spec, fail: {}, lambda d: "by hand"),
)}
