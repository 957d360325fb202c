"""The kinds of trigger, one record each: the file keys that belong to it, how it checks
them (and what it sets of the TriggerDef), how it describes itself, and what fires it.
A new kind is one more entry in KINDS (and its name in TriggerFile.kind)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigError, InvalidValue
from ..names import parse_duration
from ..watch import is_noise
from .gitrefs import ZERO, NotARepository, git_dir, ref_patterns
from .watchmarks import changes_text, merge_changes, parse_changes

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
    by_refs: bool = False  # fired by the daemon when a git ref moves; fills {ref}...
    values: tuple[str, ...] = ()  # the placeholders its firings fill besides {trigger}, {fired_at}
    # A superseded job's inputs (its params) carried into its successor's values.
    carry: Callable[[Mapping[str, str], Mapping[str, Any]], Mapping[str, Any]] = lambda _old, new: new
    # What one firing covers, in a few words, from its values (carried ones included).
    covers: Callable[[Mapping[str, Any]], str] | None = None


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
    where = Path(os.path.abspath(spool.root / spec.path))
    if not where.is_dir():
        raise fail("path", f"directory {where} does not exist")
    for machinery in spool.layout.top_dirs():
        if where == machinery or machinery in where.parents:
            raise fail("path", f"{where} is the spool's own {machinery.name}/, which triggers never see "
                               "(it would fire on every job); watch a directory of your own")
    patterns = tuple(spec.patterns) if spec.patterns is not None else ("*",)
    if not patterns or not all(patterns):
        raise fail("patterns", "give at least one glob, e.g. [\"*.c\", \"*.h\"] (or leave it out for all)")
    if all(is_noise(p) for p in patterns):
        raise fail("patterns", f"{', '.join(patterns)}: editors' and tools' files (swap, backup, *.pyc, .git "
                               "below the watched directory) are never reported; such a trigger can never fire")
    return {"watch_path": where, "patterns": patterns,
            "recursive": True if spec.recursive is None else spec.recursive,
            "debounce": _duration(spec.debounce if spec.debounce is not None else "1s", "debounce", fail)}


def _check_git(spool: Spool, spec: TriggerFile, fail: Fail) -> dict[str, Any]:
    if not spec.repo:
        raise fail("repo", "a git trigger needs `repo = \"DIR\"` (a bare repository or a working clone)")
    where = Path(os.path.abspath(spool.root / spec.repo))
    try:
        gitdir = git_dir(where)
    except NotARepository as exc:
        raise fail("repo", str(exc)) from None
    except OSError as exc:
        raise fail("repo", f"cannot read {where}: {exc.strerror or exc}") from None
    for key, pats in (("branches", spec.branches), ("tags", spec.tags)):
        if pats is not None and (not pats or not all(pats)):
            raise fail(key, "give at least one glob, e.g. [\"master\", \"release/*\"] (or leave it out)")
    return {"git_dir": gitdir, "ref_patterns": ref_patterns(spec.branches, spec.tags),
            "on_delete": bool(spec.on_delete)}


def _carry_changes(old: Mapping[str, str], new: Mapping[str, Any]) -> Mapping[str, Any]:
    """The superseded job's changed paths join the new ones ({changed} and {changes})."""
    if not old.get("changes"):
        return new
    merged = merge_changes(parse_changes(old["changes"]), parse_changes("\n".join(new.get("changes") or [])))
    return {**new, "changed": list(merged), "changes": changes_text(merged)}


def _carry_ref(old: Mapping[str, str], new: Mapping[str, Any]) -> Mapping[str, Any]:
    """A superseded build of the same ref: the new job covers its commits too ({old} from it)."""
    if old.get("ref") != new.get("ref") or not old.get("old"):
        return new
    return {**new, "old": old["old"]}


def ref_range(values: Mapping[str, Any]) -> str:
    """'refs/heads/master 3fcc0925c614..7197382e64d8': the commits a build covers."""
    ref, old, new = values["ref"], values["old"], values["new"]
    if values.get("deleted") == "true":
        return f"{ref} deleted (was {old[:12]})"
    if old == ZERO:
        return f"{ref} created at {new[:12]}"
    return f"{ref} {old[:12]}..{new[:12]}"


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("schedule", ("every", "cron", "timezone", "catch_up"), _check_schedule, _describe_schedule, by_clock=True),
    Kind("watch", ("path", "patterns", "recursive", "debounce"), _check_watch,
         lambda d: f"{d.spec.path}: {' '.join(d.patterns)}", by_files=True, values=("changed", "changes"),
         carry=_carry_changes),
    Kind("git", ("repo", "branches", "tags", "on_delete"), _check_git,
         lambda d: f"{d.spec.repo}: {' '.join(d.ref_patterns)}", by_refs=True,
         values=("ref", "old", "new", "deleted"), carry=_carry_ref, covers=ref_range),
    Kind("manual", (), lambda spool, spec, fail: {}, lambda d: "by hand"),
)}
