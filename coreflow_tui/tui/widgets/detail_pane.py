"""Every field of the highlighted job, its type, history, trigger, audit trail and result."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...safetext import inert
from ...present import JobDetail, facts


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
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    for f in facts(d, silent_for):
        # Text, never markup; inert: names, commands, labels and hosts are other people's text.
        t.add_row(f.key, Text(inert(f.value), style="bold" if f.strong else ""))
    return t
