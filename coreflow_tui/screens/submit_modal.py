"""`s`: submit a job — queue, type, name and command — through the same store call as the CLI."""

from __future__ import annotations

import shlex
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from store import JobSpec


class SubmitModal(ModalScreen[JobSpec | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("ctrl+s", "submit", "Submit"),
    ]

    def __init__(self, queue: str) -> None:
        super().__init__()
        self.queue = queue

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box") as box:
            box.border_title = "Submit a job (enter: next field / submit, escape: cancel)"
            yield Label("Queue")
            yield Input(self.queue, id="queue")
            yield Label("Type (optional, from types.toml)")
            yield Input(id="type")
            yield Label("Name (optional)")
            yield Input(id="name")
            yield Label("Command (as you would type it in a shell)")
            yield Input(placeholder="make -j8 test", id="command")

    def on_mount(self) -> None:
        self.query_one("#command", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "command":
            self.action_submit()
        else:
            self.focus_next()

    def action_submit(self) -> None:
        value = {i.id: i.value.strip() for i in self.query(Input)}
        try:
            argv = shlex.split(value["command"])
        except ValueError as exc:
            self.notify(f"command: {exc}", severity="warning")
            return
        if not argv:
            self.notify("give the command to run", severity="warning")
            self.query_one("#command", Input).focus()
            return
        self.dismiss(JobSpec(command=argv, queue=value["queue"] or None, type=value["type"] or None,
                             name=value["name"]))
