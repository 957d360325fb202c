"""One presentation of a job: its context (`JobDetail`) turned into labelled facts, read by
`coreflow show` as aligned text and by the TUI's detail pane as a table. Headless: no Textual."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import NamedTuple

from store import Audit, JobView
from store.history import TypeStats
from store.jobtypes import JobType
from store.waiting import Blocker, Waiting

from . import wording
from .fmt import age, duration, when
from .safetext import inert


@dataclass
class JobDetail:
    """A job and what is known around it when it is shown."""

    view: JobView
    waiting: Waiting | None
    jobtype: JobType | None
    stats: TypeStats | None
    audit: list[Audit]
    cancel_requested: bool
    now: float
    waits_on: list[Blocker] = field(default_factory=list)  # its after/after_finished jobs, as they are now
    dependents: list[Blocker] = field(default_factory=list)  # jobs that wait for it (the first few)
    waiting_for_it: int = 0  # how many jobs wait for it


class Fact(NamedTuple):
    """One labelled line; `strong` ones are shown in bold where a terminal can."""

    key: str
    value: str
    strong: bool = False


def facts(d: JobDetail, silent_for: float | None = None, dash: str = "—") -> list[Fact]:
    """Every fact of the job, in the order shown. `silent_for`: how long the runner of a running
    job has not beaten, when that is late; `dash`: the separator before a type's description."""
    v, j, now = d.view, d.view.job, d.now
    jt = d.jobtype
    out = [Fact("id", j.id), Fact("name", j.name),
           Fact("state", v.state + (f", position {v.position}" if v.position else ""), True),
           Fact("queue", v.queue),
           Fact("type", (j.type or "-") + (f" {dash} {jt.description}" if jt and jt.description else ""))]
    if jt and jt.owner:
        out.append(Fact("owner", jt.owner))
    if d.stats is not None:
        out.append(Fact("history", wording.history(d.stats)))
    out.append(Fact("priority", str(j.priority)))
    out.append(Fact("command", ("sh -c " if j.shell else "") + " ".join(shlex.quote(a) for a in j.command)))
    if j.cwd:
        out.append(Fact("cwd", j.cwd))
    if j.env:
        out.append(Fact("env", " ".join(f"{k}={val}" for k, val in sorted(j.env.items()))))
    if j.labels:
        out.append(Fact("labels", " ".join(f"{k}={val}" for k, val in sorted(j.labels.items()))))
    if j.requires:
        out.append(Fact("requires", ",".join(j.requires)))
    out.append(Fact("timeout", duration(j.timeout) if j.timeout else "none"))
    out.append(Fact("attempt", wording.attempt(j)))
    out.append(Fact("submitted", f"{when(j.submitted_at)} ({age(j.submitted_at, now)} ago) by {j.submitted_by}"))
    if j.trigger:
        tr = j.trigger
        out.append(Fact("trigger", f"{tr.name} ({tr.kind})" + (f": {tr.detail}" if tr.detail else "")))
    if j.step:
        out.append(Fact("step", j.step))
    out += [Fact("input", f"{k}={_first_line(val)}") for k, val in sorted(j.params.items()) if k not in TRIGGER_OWN]
    if d.waiting is not None:
        out.append(Fact("waiting", wording.reason(d.waiting, now)))
        out.append(Fact("expected", wording.expected(d.waiting, now)))
    out += chain(d)
    out += _running(d, silent_for) + _finished(d)
    return out


TRIGGER_OWN = ("trigger", "fired_at")  # inputs the trigger line already says


def _first_line(value: str, width: int = 120) -> str:
    """A long or many-line input (a watch's list of changes) in one line: the rest counted."""
    lines = value.split("\n")
    head = lines[0] if len(lines[0]) <= width else lines[0][:width - 1] + "…"
    more = len(lines) - 1
    return head + (f" (+{more} more line{'s' if more > 1 else ''})" if more else "")


def chain(d: JobDetail) -> list[Fact]:
    """What the job waits for and which jobs wait for it, each with its state now."""
    j = d.view.job
    out = []
    if j.not_before:
        out.append(Fact("not before", when(j.not_before) + (f" (in {wording.span(j.not_before - d.now)})"
                                                            if j.not_before > d.now else "")))
    finished = set(j.after_finished) - set(j.after)
    for b in d.waits_on:
        need = "must end (any outcome)" if b.id in finished else "must succeed"
        out.append(Fact("after", f"{wording.dependency(b)}: {need}"))
    for b in d.dependents:
        out.append(Fact("blocks", wording.dependency(b)))
    if d.waiting_for_it > len(d.dependents):
        out.append(Fact("blocks", f"... and {d.waiting_for_it - len(d.dependents)} more"))
    return out


def _running(d: JobDetail, silent_for: float | None) -> list[Fact]:
    c = d.view.job.claim
    if c is None or d.view.state != "running":
        return []
    out = [Fact("running", f"on {c.host} (runner {c.runner}, pid {c.pid}) for {duration(d.now - c.claimed_at)}")]
    if silent_for is not None:
        out.append(Fact("runner", f"silent for {duration(silent_for)}: its job is taken over if it stays "
                                  "silent past its lease", True))
    if d.cancel_requested:
        out.append(Fact("cancel", "requested; the runner is stopping it", True))
    return out


def _finished(d: JobDetail) -> list[Fact]:
    j = d.view.job
    out = []
    if j.result:
        r = j.result
        out.append(Fact("result", wording.outcome(r)))
        if r.started_at:
            ran = duration((r.finished_at or r.started_at) - r.started_at)
            out.append(Fact("ran", f"{when(r.started_at)} for {ran}" + (f" on {r.host}" if r.host else "")))
        if r.message:
            out.append(Fact("message", r.message))
    if j.hook is not None:
        out.append(Fact("hook", f"{wording.hook(j.hook)}  ({j.hook.command})"))
        if j.hook.output:
            out.append(Fact("hook output", j.hook.output.rstrip("\n")))
    for h in j.history:
        out.append(Fact("earlier", f"attempt {h.attempt}: {wording.outcome(h)} at {when(h.finished_at)}"))
    for a in d.audit:
        out.append(Fact("audit", f"{when(a.at)}  {a.actor}  {a.action}" + (f"  {a.detail}" if a.detail else "")))
    return out


def text(rows: list[Fact]) -> str:
    """The facts as aligned plain lines, every value inert (names, commands, labels and
    messages are other people's text)."""
    width = max(len(f.key) for f in rows)
    return "\n".join(f"{f.key.ljust(width)}  {inert(f.value)}" for f in rows)
