"""A trigger's job template: placeholders, filling them in, and `fire --set` overrides."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ConfigError, InvalidValue
from ..jobs.submit import JobSpec
from ..names import parse_duration
from .definition import JobTemplate, MAX_NAME, SETTABLE, TriggerDef
from .kinds import KINDS


_PH_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def placeholders(text: str) -> list[str]:
    return [m[1] for m in _PH_RE.finditer(text) if m[1] is not None]


def fill(text: str, values: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m[0] == "{{":
            return "{"
        if m[0] == "}}":
            return "}"
        return values.get(m[1], m[0])

    return _PH_RE.sub(sub, text)


def flat_values(values: Mapping[str, Any], sep: str = " ") -> dict[str, str]:
    """Placeholder values as text: a list ({changed}, {changes}) joined by `sep`."""
    return {k: (sep.join(v) if isinstance(v, list) else str(v)) for k, v in values.items()}


def template_texts(job: JobTemplate) -> Iterable[tuple[str, str]]:
    yield "name", job.name
    for a in [job.command] if isinstance(job.command, str) else job.command:
        yield "command", a
    for k, v in job.labels.items():
        yield f"labels.{k}", v
    for k, v in job.env.items():
        yield f"env.{k}", v
    if job.cwd:
        yield "cwd", job.cwd


def sample_values(d: TriggerDef) -> dict[str, Any]:
    sample = {"changed": ["x"], "changes": ["M x"], "ref": "refs/heads/x", "old": "0" * 40, "new": "1" * 40,
              "deleted": "false"}
    return {"trigger": d.name, "fired_at": "2000-01-01T00:00:00Z", **sample, **d.spec.params}


def job_spec(d: TriggerDef, values: Mapping[str, Any], overrides: Mapping[str, str],
             t: JobTemplate | None = None) -> JobSpec:
    """A job template (by default the trigger's first) with placeholders filled; a list
    value ({changed}) joins with spaces. A pipeline's `after` names earlier steps."""
    flat = flat_values(values)
    t = t or d.templates[0]
    if isinstance(t.command, str) or t.shell:
        # A shell reads the command: every value is quoted as one word each (a branch may be
        # named "x;rm -rf ~", a path "$(...)"), so whoever pushes or writes a file runs nothing.
        quoted = {k: " ".join(map(shlex.quote, v)) if isinstance(v, list) else shlex.quote(str(v))
                  for k, v in values.items()}
        command: list[str] | str = (fill(t.command, quoted) if isinstance(t.command, str)
                                    else [fill(a, quoted) for a in t.command])
    else:
        command = []
        for a in t.command:
            if a in ("{changed}", "{changes}") and isinstance(values.get(a[1:-1]), list):
                command.extend(values[a[1:-1]])  # one argument per path (or per "M path")
            else:
                command.append(fill(a, flat))
    name = " ".join(fill(t.name, flat).split())
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 1] + "…"
    fields: dict[str, Any] = {
        "command": command, "queue": t.queue, "type": t.type, "name": name, "priority": t.priority,
        "labels": {k: fill(v, flat) for k, v in t.labels.items()}, "requires": list(t.requires),
        "timeout": t.timeout, "retries": t.retries, "cwd": fill(t.cwd, flat) if t.cwd else None,
        "env": {k: fill(v, flat) for k, v in t.env.items()}, "shell": t.shell, "step": t.step,
        "after": [_step_ref(a) for a in t.after], "after_finished": [_step_ref(a) for a in t.after_finished],
    }
    for key, value in overrides.items():
        fields[key] = _convert_override(key, value)
    return JobSpec(**fields)


def _step_ref(name: str) -> str:
    """A pipeline's `after = ["build"]` is the batch's "@build"."""
    return name if name.startswith("@") else "@" + name


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
        if key in d.spec.params or key in KINDS[d.kind].values:
            params[key] = value
        elif key in SETTABLE:
            overrides[key] = value
        else:
            known = ", ".join([*sorted(d.spec.params), *KINDS[d.kind].values, *SETTABLE])
            raise ConfigError(f"--set {key}: trigger {d.name} has no parameter {key!r} (settable: {known}; "
                              f"declare your own under [params] in {d.file})")
    return params, overrides
