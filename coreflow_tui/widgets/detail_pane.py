"""Every field of the highlighted job, its type, history, trigger, audit trail and result."""

from __future__ import annotations

import shlex
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from .. import wording
from ..safetext import inert
from ..fmt import age, duration, when
from ..screens.snapshot import JobDetail


class DetailPane(VerticalScroll):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "screen.back", "Back to jobs")]

    def compose(self) -> ComposeResult:
        yield Static(id="detail-body")

    detail: JobDetail | None = None

    def show(self, d: JobDetail | None, silent_for: float | None = None) -> None:
        """`silent_for`: how long the runner of a running job has not beaten, when that is late."""
        self.detail = d
        body = self.query_one("#detail-body", Static)
        body.update(Text("No job highlighted.", style="dim") if d is None else _table(d, silent_for))


def _table(d: JobDetail, silent_for: float | None = None) -> Table:
    v, j, now = d.view, d.view.job, d.now
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")

    def row(key: str, value: str | Text) -> None:
        # Text, never markup; inert: names, commands, labels and hosts are other people's text.
        t.add_row(key, Text(inert(value)) if isinstance(value, str) else value)

    row("id", j.id)
    row("name", j.name)
    state = v.state + (f", position {v.position}" if v.position else "")
    row("state", Text(state, style="bold"))
    row("queue", v.queue)
    jt = d.jobtype
    row("type", (j.type or "-") + (f" — {jt.description}" if jt and jt.description else ""))
    if jt and jt.owner:
        row("owner", jt.owner)
    if d.stats is not None:
        row("history", wording.history(d.stats))
    row("priority", str(j.priority))
    row("command", ("sh -c " if j.shell else "") + " ".join(shlex.quote(a) for a in j.command))
    if j.cwd:
        row("cwd", j.cwd)
    if j.env:
        row("env", " ".join(f"{k}={val}" for k, val in sorted(j.env.items())))
    if j.labels:
        row("labels", " ".join(f"{k}={val}" for k, val in sorted(j.labels.items())))
    if j.requires:
        row("requires", ",".join(j.requires))
    row("timeout", duration(j.timeout) if j.timeout else "none")
    row("attempt", wording.attempt(j))
    row("submitted", f"{when(j.submitted_at)} ({age(j.submitted_at, now)} ago) by {j.submitted_by}")
    if j.trigger:
        tr = j.trigger
        row("trigger", f"{tr.name} ({tr.kind})" + (f": {tr.detail}" if tr.detail else ""))
    if d.waiting is not None:
        w = d.waiting
        row("waits", w.reason)
        row("expected", wording.expected(w, now))
    if j.claim and v.state == "running":
        c = j.claim
        row("running", f"on {c.host} (runner {c.runner}, pid {c.pid}) for {duration(now - c.claimed_at)}")
        if silent_for is not None:
            row("runner", Text(f"silent for {duration(silent_for)}: its job is taken over if it stays silent "
                               "past its lease", style="bold"))
        if d.cancel_requested:
            row("cancel", Text("requested; the runner is stopping it", style="bold"))
    if j.result:
        r = j.result
        row("result", wording.outcome(r))
        if r.started_at:
            ran = duration((r.finished_at or r.started_at) - r.started_at)
            row("ran", f"{when(r.started_at)} for {ran}" + (f" on {r.host}" if r.host else ""))
        if r.message:
            row("message", r.message)
    for h in j.history:
        row("earlier", f"attempt {h.attempt}: {wording.outcome(h)} at {when(h.finished_at)}")
    for a in d.audit:
        row("audit", f"{when(a.at)}  {a.actor}  {a.action}" + (f"  {a.detail}" if a.detail else ""))
    return t
