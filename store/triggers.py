"""Triggers: definitions, schedules, state, and the firing that places a job.

A trigger is `triggers/NAME.toml` (format below); its state is
`triggers/.state/NAME.json`. This module is headless and starts nothing: the
daemon in `coreflow_tui.triggers` decides *when* to call `fire`; everything a firing
changes in the spool happens here.

    kind = "schedule"          # schedule | watch | manual
    every = "30s"              # schedule: `every` (s, m, h, d) or `cron = "*/5 * * * *"`
    timezone = "Europe/Berlin" # schedule: the zone cron times (and {fired_at}) are in; UTC
    catch_up = "once"          # schedule: after a gap, `once` fires one job, `skip` none
    # watch: path = "src" (relative to the spool), patterns = ["*.c"], debounce = "1s"
    coalesce = false           # replace the previous job while it still waits
    description = "..."
    [params]                   # placeholders of your own, overridable by `fire --set`
    branch = "main"
    [job]                      # the job template: the fields of `coreflow submit`
    queue = "default"
    type = "build"
    name = "{trigger} at {fired_at}"
    command = ["make", "-C", "src", "{changed}"]

Placeholders in name, command, labels, env and cwd: {trigger}, {fired_at} (the
schedule slot, or the time of firing), {changed} (a watch trigger's changed paths,
relative to its directory; a command argument that is exactly "{changed}" becomes
one argument per path), and every key of [params]. `{{` and `}}` are literal braces.

Schedules: `every` slots are whole multiples of the interval since the Unix epoch
(every 30s fires at :00 and :30), so every host and every restart agrees on them;
`cron` slots come from croniter in the trigger's time zone. State records the last
slot accounted for (fired or skipped), so a restart neither misses nor repeats one.

Exactly once: a firing takes the trigger's lock (so two daemons on two hosts never
both fire a slot), writes the job it is about to place into the state file, places
it, then clears that note. A crash in between is repaired by the next firing: the
noted job is placed if it is not in the spool yet.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from . import atomic, safeio
from .jobs import JobFields, JobSpec, build_job, place, supersede
from .errors import ConfigError, CorruptJob, InvalidValue, JobNotFound, SpoolError, StorageError, UnsafeFile
from .limits import MAX_META_BYTES
from .locks import locked
from .model import Job, Trigger, actor, decode, encode
from .names import NAME_RE, parse_duration
from .spool import Spool
from .tomlfile import parse_toml, read_toml_text

MAX_NAME = 200
MAX_DETAIL = 500
# Most missed cron slots counted one by one after a gap; beyond it we say "at least".
MAX_COUNT = 10_000


# -- the file format ---------------------------------------------------------------


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


_SCHEDULE_KEYS = ("every", "cron", "timezone", "catch_up")
_WATCH_KEYS = ("path", "patterns", "recursive", "debounce")
_BUILTIN = ("trigger", "fired_at", "changed")
_SETTABLE = ("queue", "type", "name", "priority", "timeout", "retries", "cwd")


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

    def describe(self) -> str:
        """The schedule or the watched paths, in a few words."""
        if self.kind == "schedule":
            what = f"every {_fmt_seconds(self.interval)}" if self.interval else f"cron {self.cron}"
            return what + (f" ({self.spec.timezone})" if self.spec.timezone else "")
        if self.kind == "watch":
            return f"{self.spec.path}: {' '.join(self.patterns)}"
        return "by hand"

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


# -- loading -----------------------------------------------------------------------


@dataclass
class Loaded:
    triggers: dict[str, TriggerDef]
    errors: dict[str, str]  # trigger name (or file name) -> one-line error


def trigger_files(spool: Spool) -> dict[str, Path]:
    """Trigger file per name; dot files and other names than *.toml are not triggers."""
    try:
        entries = list(os.scandir(spool.layout.triggers))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StorageError.wrap(exc, "cannot list the triggers") from exc
    out = {}
    for e in entries:
        if e.name.startswith(".") or not e.name.endswith(".toml"):
            continue
        out[e.name[: -len(".toml")]] = Path(e.path)
    return dict(sorted(out.items()))


def file_key(path: Path) -> tuple[int, int, int] | None:
    """What identifies a version of a trigger file (None if it is gone)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def load_trigger(spool: Spool, name: str, path: Path | None = None) -> TriggerDef:
    """Read and validate one trigger file; ConfigError names the file, line and key."""
    path = path or spool.layout.trigger(name)
    if not NAME_RE.fullmatch(name):
        raise ConfigError(f"{path}: the file name must be NAME.toml with NAME of 1-64 of a-z 0-9 . _ - "
                          "starting with a letter or digit")
    try:
        text = read_toml_text(path)
    except FileNotFoundError:
        raise ConfigError(f"no trigger {name!r} ({path} does not exist)") from None
    return parse_trigger(spool, name, text, path)


def parse_trigger(spool: Spool, name: str, text: str, path: Path | None = None) -> TriggerDef:
    """Validate the text of a trigger file (as `path`, by default triggers/NAME.toml)."""
    path = path or spool.layout.trigger(name)
    raw = parse_toml(text, str(path))
    try:
        spec = msgspec.convert(raw, TriggerFile)
    except msgspec.ValidationError as exc:
        raise _validation_error(path, text, str(exc)) from None
    return _validate(spool, name, path, text, spec)


def save_trigger(spool: Spool, name: str, text: str) -> TriggerDef:
    """Validate a trigger definition and publish it as triggers/NAME.toml (atomically)."""
    if not NAME_RE.fullmatch(name):
        raise ConfigError(f"invalid trigger name {name!r}: use 1-64 of a-z 0-9 . _ - starting with a letter or digit")
    d = parse_trigger(spool, name, text)
    spool.layout.triggers.mkdir(exist_ok=True)
    atomic.publish(spool.layout.tmp, spool.layout.trigger(name), text.encode())
    return d


def load_triggers(spool: Spool) -> Loaded:
    """Every trigger of the spool; a bad file is an entry in `errors`, not an exception."""
    out = Loaded({}, {})
    for name, path in trigger_files(spool).items():
        try:
            out.triggers[name] = load_trigger(spool, name, path)
        except ConfigError as exc:
            out.errors[name] = str(exc)
    return out


def _validate(spool: Spool, name: str, path: Path, text: str, spec: TriggerFile) -> TriggerDef:
    def fail(key: str, what: str) -> ConfigError:
        return ConfigError(f"{path}:{_find_line(text, key)}: {key}: {what}")

    kind = spec.kind
    for key in _SCHEDULE_KEYS if kind != "schedule" else ():
        if getattr(spec, key) is not None:
            raise fail(key, f"applies to kind = \"schedule\" only, and this trigger is {kind}")
    for key in _WATCH_KEYS if kind != "watch" else ():
        if getattr(spec, key) is not None:
            raise fail(key, f"applies to kind = \"watch\" only, and this trigger is {kind}")
    extra: dict[str, Any] = {}
    if kind == "schedule":
        if (spec.every is None) == (spec.cron is None):
            raise fail("every", "a schedule needs exactly one of `every = \"30s\"` or `cron = \"*/5 * * * *\"`")
        tz = None
        if spec.timezone is not None:
            try:
                tz = ZoneInfo(spec.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise fail("timezone", f"unknown time zone {spec.timezone!r} (use e.g. \"UTC\", "
                                       "\"Europe/Berlin\")") from None
        extra["tz"] = tz
        extra["catch_up"] = spec.catch_up or "once"
        if spec.every is not None:
            try:
                extra["interval"] = parse_duration(spec.every, "every")
            except InvalidValue as exc:
                raise fail("every", str(exc)) from None
            if extra["interval"] < 1:
                raise fail("every", "must be at least 1s")
        else:
            assert spec.cron is not None
            from croniter import croniter

            if not croniter.is_valid(spec.cron):
                raise fail("cron", f"{spec.cron!r} is not a cron expression (five fields: minute hour "
                                   "day-of-month month day-of-week, e.g. \"*/5 * * * *\")")
            extra["cron"] = spec.cron
    elif kind == "watch":
        if not spec.path:
            raise fail("path", "a watch trigger needs `path = \"DIR\"` (relative to the spool, or absolute)")
        where = Path(spec.path)
        where = where if where.is_absolute() else spool.root / where
        if not where.is_dir():
            raise fail("path", f"directory {where} does not exist")
        extra["watch_path"] = where
        patterns = tuple(spec.patterns) if spec.patterns is not None else ("*",)
        if not patterns or not all(patterns):
            raise fail("patterns", "give at least one glob, e.g. [\"*.c\", \"*.h\"] (or leave it out for all)")
        extra["patterns"] = patterns
        extra["recursive"] = True if spec.recursive is None else spec.recursive
        try:
            extra["debounce"] = parse_duration(spec.debounce if spec.debounce is not None else "1s", "debounce")
        except InvalidValue as exc:
            raise fail("debounce", str(exc)) from None
    for key in spec.params:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", key) or key in _BUILTIN:
            raise fail(f"params.{key}", "a parameter is a lowercase identifier other than "
                                        "trigger, fired_at and changed")
    known = set(_BUILTIN) | set(spec.params)
    if kind != "watch":
        known.discard("changed")
    for key, value in _template_texts(spec.job):
        for ph in _placeholders(value):
            if ph not in known:
                hint = "only a watch trigger fills {changed}" if ph == "changed" else (
                    "known: " + ", ".join("{%s}" % k for k in sorted(known)))
                raise fail(f"job.{key}", f"unknown placeholder {{{ph}}} ({hint}; write {{{{ for a brace)")
    d = TriggerDef(name=name, kind=kind, file=path, spec=spec, text=text, **extra)
    _check_template(spool, d, fail)
    return d


def _check_template(spool: Spool, d: TriggerDef, fail: Callable[[str, str], ConfigError]) -> None:
    """The template must make a valid job: the queue exists, the type is known, and so on."""
    job = d.spec.job
    if job.queue is not None:
        try:
            spool.check_queue(job.queue)
        except SpoolError as exc:
            raise fail("job.queue", str(exc)) from None
    try:
        build_job(spool, _spec(d, _sample_values(d), {}))
    except SpoolError as exc:
        raise fail(f"job.{exc.field}" if exc.field else "job", str(exc)) from None


def _validation_error(path: Path, text: str, message: str) -> ConfigError:
    """msgspec's "... - at `$.job.labels`" as FILE:LINE: job.labels: ..."""
    what, _, at = message.partition(" - at `$")
    at = re.sub(r"\[[^\]]*\]", "", at.rstrip("`").lstrip("."))
    m = re.search(r"unknown field `([^`]+)`", what)
    if m:
        key = f"{at}.{m[1]}" if at else m[1]
        return ConfigError(f"{path}:{_find_line(text, key)}: {key}: unknown key (a typo? the format is in "
                           "`coreflow triggers --help` and store/triggers.py)")
    m = re.search(r"missing required field `([^`]+)`", what)
    if m:
        key = f"{at}.{m[1]}" if at else m[1]
        hint = {"kind": " (kind = \"schedule\", \"watch\" or \"manual\")",
                "job": " (a [job] table with at least `command = [...]`)"}.get(key, "")
        return ConfigError(f"{path}:{_find_line(text, at) if at else 1}: {key}: missing{hint}")
    return ConfigError(f"{path}:{_find_line(text, at) if at else 1}: {at or 'file'}: {what}")


def _find_line(text: str, key: str) -> int:
    """The line that sets dotted `key` (or, failing that, its nearest enclosing key); 1 if none."""
    parts = key.split(".")
    while parts:
        line = _line_of(text, ".".join(parts[:-1]), parts[-1])
        if line:
            return line
        parts.pop()
    return 1


def _line_of(text: str, table: str, key: str) -> int | None:
    """The line where `key` is set in [table] ('' = the top level), or [table.key] starts."""
    current = ""
    key_re = re.compile(r"\s*(?:\"%s\"|'%s'|%s)\s*=" % ((re.escape(key),) * 3))
    full = f"{table}.{key}" if table else key
    for no, line in enumerate(text.splitlines(), 1):
        m = re.fullmatch(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?", line)
        if m:
            current = m[1].replace(" ", "")
            if current == full:
                return no
            continue
        if current == table and key_re.match(line):
            return no
    return None


# -- placeholders ------------------------------------------------------------------

_PH_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def _placeholders(text: str) -> list[str]:
    return [m[1] for m in _PH_RE.finditer(text) if m[1] is not None]


def _fill(text: str, values: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m[0] == "{{":
            return "{"
        if m[0] == "}}":
            return "}"
        return values.get(m[1], m[0])

    return _PH_RE.sub(sub, text)


def _template_texts(job: JobTemplate) -> Iterable[tuple[str, str]]:
    yield "name", job.name
    for a in [job.command] if isinstance(job.command, str) else job.command:
        yield "command", a
    for k, v in job.labels.items():
        yield f"labels.{k}", v
    for k, v in job.env.items():
        yield f"env.{k}", v
    if job.cwd:
        yield "cwd", job.cwd


def _sample_values(d: TriggerDef) -> dict[str, Any]:
    return {"trigger": d.name, "fired_at": "2000-01-01T00:00:00Z", "changed": ["x"], **d.spec.params}


def _spec(d: TriggerDef, values: Mapping[str, Any], overrides: Mapping[str, str]) -> JobSpec:
    """The job template with placeholders filled; a list value ({changed}) joins with spaces."""
    changed = list(values.get("changed") or [])
    flat = {k: (" ".join(v) if isinstance(v, list) else str(v)) for k, v in values.items()}
    t = d.spec.job
    if isinstance(t.command, str):
        command: list[str] | str = _fill(t.command, flat)
    else:
        command = []
        for a in t.command:
            if a == "{changed}":
                command.extend(changed)
            else:
                command.append(_fill(a, flat))
    name = " ".join(_fill(t.name, flat).split())
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 1] + "…"
    fields: dict[str, Any] = {
        "command": command, "queue": t.queue, "type": t.type, "name": name, "priority": t.priority,
        "labels": {k: _fill(v, flat) for k, v in t.labels.items()}, "requires": list(t.requires),
        "timeout": t.timeout, "retries": t.retries, "cwd": _fill(t.cwd, flat) if t.cwd else None,
        "env": {k: _fill(v, flat) for k, v in t.env.items()}, "shell": t.shell,
    }
    for key, value in overrides.items():
        fields[key] = _convert_override(key, value)
    return JobSpec(**fields)


def _convert_override(key: str, value: str) -> Any:
    if key in ("timeout",):
        try:
            return parse_duration(value, key)
        except InvalidValue as exc:
            raise ConfigError(f"--set {key}={value}: {exc}") from None
    if key == "retries":
        if not value.isdigit():
            raise ConfigError(f"--set retries={value}: give a whole number")
        return int(value)
    return value


def split_sets(d: TriggerDef, sets: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    """`--set K=V` pairs as (params, job-field overrides); an unknown K is refused."""
    params: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for item in sets:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"--set {item!r}: give KEY=VALUE")
        if key in d.spec.params:
            params[key] = value
        elif key in _SETTABLE:
            overrides[key] = value
        else:
            known = ", ".join([*sorted(d.spec.params), *_SETTABLE])
            raise ConfigError(f"--set {key}: trigger {d.name} has no parameter {key!r} (settable: {known}; "
                              f"declare your own under [params] in {d.file})")
    return params, overrides


# -- schedules ---------------------------------------------------------------------


def _dt(t: float, tz: ZoneInfo | None) -> datetime:
    return datetime.fromtimestamp(t, tz or timezone.utc)


def slot_at_or_before(d: TriggerDef, t: float) -> float:
    """The newest schedule slot at or before time `t`."""
    if d.interval:
        return math.floor(t / d.interval) * d.interval
    from croniter import croniter

    prev = croniter(d.cron, _dt(t, d.tz)).get_prev(float)
    nxt = croniter(d.cron, _dt(prev, d.tz)).get_next(float)
    return nxt if nxt <= t else prev


def slot_after(d: TriggerDef, t: float) -> float:
    """The first schedule slot strictly after time `t`."""
    if d.interval:
        return (math.floor(t / d.interval) + 1) * d.interval
    from croniter import croniter

    return float(croniter(d.cron, _dt(t, d.tz)).get_next(float))


def count_slots(d: TriggerDef, after: float, until: float) -> int:
    """How many slots lie in (after, until]."""
    if until <= after:
        return 0
    if d.interval:
        return int(math.floor(until / d.interval) - math.floor(after / d.interval))
    from croniter import croniter

    it = croniter(d.cron, _dt(after, d.tz))
    n = 0
    while n < MAX_COUNT and it.get_next(float) <= until:
        n += 1
    return n


@dataclass(frozen=True)
class Due:
    """What a schedule should do now."""

    slot: float | None  # fire for this slot; None: fire nothing
    account: float  # record this as the newest slot accounted for
    missed: int  # slots that passed without a firing of their own


def schedule_due(d: TriggerDef, state: TriggerState, now: float) -> Due | None:
    """None when nothing is due. A first look only arms the trigger (records the slot).

    One slot that passed moments ago is on time and fires. More than one, or one
    that passed more than half a period ago (capped at a minute), is a gap: with
    catch_up = "once" a single job fires for the newest of them, with "skip" none.
    """
    latest = slot_at_or_before(d, now)
    if state.last_slot is None:
        return Due(None, latest, 0)
    if latest <= state.last_slot:
        return None
    n = count_slots(d, state.last_slot, latest)
    period = slot_after(d, latest) - latest
    grace = min(60.0, max(1.0, period / 2))
    if n <= 1 and now - latest <= grace:
        return Due(latest, latest, 0)
    if d.catch_up == "once":
        return Due(latest, latest, max(0, n - 1))
    return Due(None, latest, n)


def next_firing(d: TriggerDef, state: TriggerState, now: float) -> float | None:
    if d.kind != "schedule" or not d.enabled:
        return None
    base = now if state.last_slot is None else max(now, state.last_slot)
    return slot_after(d, base)


def fmt_time(t: float, tz: ZoneInfo | None = None) -> str:
    """ISO 8601 to the second; UTC as Z."""
    s = _dt(t, tz).isoformat(timespec="seconds")
    return s[:-6] + "Z" if s.endswith("+00:00") else s


def _fmt_seconds(s: float | None) -> str:
    if not s:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{s:g}s"


# -- state -------------------------------------------------------------------------


def read_state(spool: Spool, name: str) -> TriggerState:
    path = spool.layout.trigger_state_file(name)
    try:
        data = safeio.read_file(path, MAX_META_BYTES, f"the state of trigger {name}")
        return decode(data, TriggerState, f"state of trigger {name}")
    except FileNotFoundError:
        return TriggerState()
    except (CorruptJob, UnsafeFile) as exc:
        # A torn or foreign state file must not stop the trigger: set it aside, start afresh.
        spool.quarantine(path, str(exc))
        return TriggerState()


def write_state(spool: Spool, name: str, state: TriggerState) -> None:
    lay = spool.layout
    lay.trigger_state.mkdir(exist_ok=True)
    atomic.publish(lay.tmp, lay.trigger_state_file(name), encode(state))


def _lock(spool: Spool, name: str) -> Any:
    return locked(spool.layout.trigger_lock(name), f"trigger {name}", spool.lock_timeout)


def forget_state(spool: Spool, name: str) -> None:
    """Remove a trigger's state (its file is gone)."""
    atomic.unlink_quietly(spool.layout.trigger_state_file(name))
    atomic.unlink_quietly(spool.layout.trigger_lock(name))


# -- firing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fired:
    """One firing: the job it placed and the job that one replaced (if coalesced)."""

    trigger: str
    job_id: str | None  # None: nothing was placed (a skipped catch-up, or an arming)
    detail: str
    replaced: str | None = None
    skipped: int = 0


def arm_or_fire_schedule(spool: Spool, d: TriggerDef, now: float | None = None) -> Fired | None:
    """Fire a schedule trigger if a slot is due (see `schedule_due`); None if nothing was due."""
    now = time.time() if now is None else now
    if d.kind != "schedule" or not d.enabled:
        return None
    if schedule_due(d, read_state(spool, d.name), now) is None:
        return None  # the common case, without the lock
    with _lock(spool, d.name):
        state = _recover(spool, d.name, read_state(spool, d.name))
        due = schedule_due(d, state, now)
        if due is None:
            return None
        if due.slot is None:
            state = msgspec.structs.replace(state, last_slot=due.account, skipped=state.skipped + due.missed)
            write_state(spool, d.name, state)
            detail = f"skipped {due.missed} missed slot(s) up to {fmt_time(due.account, d.tz)}" if due.missed else ""
            return Fired(d.name, None, detail, skipped=due.missed) if due.missed else None
        detail = f"slot {fmt_time(due.slot, d.tz)}"
        if due.missed:
            detail += f" (catching up: {due.missed}{'+' if due.missed >= MAX_COUNT else ''} earlier slot(s) missed)"
        values = {"trigger": d.name, "fired_at": fmt_time(due.slot, d.tz), **d.spec.params}
        trig = Trigger(name=d.name, kind="schedule", detail=detail, fired_at=due.slot)
        return _fire_locked(spool, d, state, values, {}, trig, now, last_slot=due.account)


def fire_watch(spool: Spool, d: TriggerDef, changed: Sequence[str], now: float | None = None) -> Fired | None:
    """Fire a watch trigger for a burst of changed paths (relative to its directory).

    Two daemons (two hosts) may see the same burst: the paths' newest mtime, by the
    filesystem's clock, is recorded, and a burst no newer than that was already fired.
    """
    now = time.time() if now is None else now
    assert d.watch_path is not None
    mark = 0
    for rel in changed:
        p = d.watch_path / rel
        # The file's mtime, and its directory's (which a create, delete or rename bumps).
        for cand in (p, p.parent):
            try:
                mark = max(mark, os.lstat(cand).st_mtime_ns)
            except OSError:
                continue
    with _lock(spool, d.name):
        state = _recover(spool, d.name, read_state(spool, d.name))
        if mark and mark <= state.watch_mark:
            return None
        shown = ", ".join(changed[:10]) + (f" (+{len(changed) - 10} more)" if len(changed) > 10 else "")
        detail = f"changed: {shown}"
        values = {"trigger": d.name, "fired_at": fmt_time(now, d.tz), "changed": list(changed), **d.spec.params}
        trig = Trigger(name=d.name, kind="watch", detail=_clip(detail), fired_at=now)
        return _fire_locked(spool, d, state, values, {}, trig, now, watch_mark=max(mark, state.watch_mark))


def fire_by_hand(spool: Spool, d: TriggerDef, sets: Sequence[str] = (), now: float | None = None,
                 who: str | None = None) -> Fired:
    """`coreflow triggers fire NAME [--set K=V]...`: any trigger, now."""
    now = time.time() if now is None else now
    params, overrides = split_sets(d, sets)
    who = who or actor()
    detail = f"by {who}" + (f", set {' '.join(sets)}" if sets else "")
    values: dict[str, Any] = {"trigger": d.name, "fired_at": fmt_time(now, d.tz), **d.spec.params, **params}
    if d.kind == "watch":
        values["changed"] = []
    trig = Trigger(name=d.name, kind="manual", detail=_clip(detail), fired_at=now)
    with _lock(spool, d.name):
        state = _recover(spool, d.name, read_state(spool, d.name))
        return _fire_locked(spool, d, state, values, overrides, trig, now)


def _fire_locked(spool: Spool, d: TriggerDef, state: TriggerState, values: Mapping[str, Any],
                 overrides: Mapping[str, str], trig: Trigger, now: float, **state_changes: Any) -> Fired:
    spec = _spec(d, values, overrides)
    spec.trigger = trig
    job = build_job(spool, spec, now=time.time())
    prev = state.last_job if d.coalesce else None
    state = msgspec.structs.replace(state, last_fired_at=now, last_job=job.id, last_detail=trig.detail,
                                    fired=state.fired + 1, placing=job, replaces=prev, **state_changes)
    write_state(spool, d.name, state)
    replaced = _place(spool, job, prev)
    write_state(spool, d.name, msgspec.structs.replace(state, placing=None, replaces=None))
    return Fired(d.name, job.id, trig.detail, replaced)


def _place(spool: Spool, job: Job, prev: str | None) -> str | None:
    if prev:
        return prev if supersede(spool, prev, job) else None
    place(spool, [job])
    return None


def recover(spool: Spool, name: str) -> bool:
    """Finish a firing of trigger `name` that a crash interrupted; True if there was one."""
    if read_state(spool, name).placing is None:
        return False
    with _lock(spool, name):
        state = read_state(spool, name)
        _recover(spool, name, state)
        return state.placing is not None


def _recover(spool: Spool, name: str, state: TriggerState) -> TriggerState:
    """Finish a firing that a crash interrupted (caller holds the trigger's lock)."""
    if state.placing is None:
        return state
    try:
        spool.find(state.placing.id)
    except JobNotFound:
        _place(spool, state.placing, state.replaces)
    state = msgspec.structs.replace(state, placing=None, replaces=None)
    write_state(spool, name, state)
    return state


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


# -- coalescing: the one state change that is the triggers' own ---------------------
