"""Loading triggers/NAME.toml: parse, validate (naming FILE:LINE and the key), save."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from .. import atomic
from ..errors import ConfigError, SpoolError, StorageError
from ..jobs.submit import build_job
from ..names import NAME_RE
from ..spool import Spool
from ..tomlfile import parse_toml, read_toml_text
from ..model import Job
from .definition import BUILTIN, JobTemplate, TriggerDef, TriggerFile
from .kinds import KINDS
from .templates import job_spec, placeholders, sample_values, template_texts


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

    kind = KINDS[spec.kind]
    for other in KINDS.values():
        for key in other.keys if other is not kind else ():
            if getattr(spec, key) is not None:
                raise fail(key, f"applies to kind = \"{other.name}\" only, and this trigger is {kind.name}")
    extra = kind.check(spool, spec, fail)
    for key in spec.params:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", key) or key in BUILTIN:
            raise fail(f"params.{key}", "a parameter is a lowercase identifier other than "
                                        + ", ".join(BUILTIN))
    known = {"trigger", "fired_at", *kind.values, *spec.params}
    _check_pipeline(spec, fail)
    texts = [(f"{where}.{key}", value) for where, t in _templates(spec) for key, value in template_texts(t)]
    if isinstance(spec.coalesce, str):
        texts.append(("coalesce", spec.coalesce))
    for key, value in texts:
        for ph in placeholders(value):
            if ph not in known:
                owner = next((k.name for k in KINDS.values() if ph in k.values), None)
                hint = f"only a {owner} trigger fills {{{ph}}}" if owner else (
                    "known: " + ", ".join("{%s}" % k for k in sorted(known)))
                raise fail(key, f"unknown placeholder {{{ph}}} ({hint}; write {{{{ for a brace)")
    d = TriggerDef(name=name, kind=kind.name, file=path, spec=spec, text=text, **extra)
    _check_template(spool, d, fail)
    return d


def _templates(spec: TriggerFile) -> list[tuple[str, JobTemplate]]:
    """Each job template with the key it is under ("job", or "jobs" for a pipeline's)."""
    return [("job", spec.job)] if spec.job is not None else [("jobs", t) for t in spec.jobs]


def _check_pipeline(spec: TriggerFile, fail: Callable[[str, str], ConfigError]) -> None:
    if spec.job is None and not spec.jobs:
        raise fail("job", "missing (a [job] table with at least `command = [...]`, or [[jobs]] tables "
                          "for a pipeline)")
    if spec.job is not None and spec.jobs:
        raise fail("jobs", "give one [job] table or [[jobs]] tables for a pipeline, not both")
    steps: list[str] = []
    for t in spec.jobs:
        if not t.step:
            raise fail("jobs.step", "each [[jobs]] of a pipeline needs `step = \"NAME\"` (its name for `after`)")
        for dep in [*t.after, *t.after_finished]:
            if dep.lstrip("@") not in steps:
                raise fail("jobs.after", f"step {t.step!r} waits for {dep!r}, which is not an earlier step "
                                         f"(earlier: {', '.join(steps) or 'none'})")
        steps.append(t.step)


def _check_template(spool: Spool, d: TriggerDef, fail: Callable[[str, str], ConfigError]) -> None:
    """The templates must make valid jobs: the queue exists, the type is known, and so on."""
    jobs: list[Job] = []
    for where, t in _templates(d.spec):
        if t.queue is not None:
            try:
                spool.check_queue(t.queue)
            except SpoolError as exc:
                raise fail(f"{where}.queue", str(exc)) from None
        try:
            jobs.append(build_job(spool, job_spec(d, sample_values(d), {}, t), earlier=jobs))
        except SpoolError as exc:
            raise fail(f"{where}.{exc.field}" if exc.field else where, str(exc)) from None


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
