"""`s`: submit a job — queue, type, name, priority and command — through the same store call as the CLI."""

from __future__ import annotations

import shlex

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label

from store import JobSpec, SpoolError
from store.names import parse_priority

from .form_modal import FormModal


class SubmitModal(FormModal[JobSpec | None]):
    FIRST = "command"

    def __init__(self, queue: str) -> None:
        super().__init__()
        self.queue = queue

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box") as box:
            box.border_title = "Submit a job"
            box.border_subtitle = "enter: next / submit · escape: cancel"
            yield Label("Queue")
            yield Input(self.queue, id="queue")
            yield Label("Type (optional, from types.toml)")
            yield Input(id="type")
            yield Label("Name (optional)")
            yield Input(id="name")
            yield Label("Priority (a number, or low normal high urgent; higher runs sooner)")
            yield Input("normal", id="priority")
            yield Label("Command (as you would type it in a shell)")
            yield Input(placeholder="make -j8 test", id="command")

    def action_submit(self) -> None:
        value = {i.id: i.value.strip() for i in self.query(Input)}
        try:
            argv = shlex.split(value["command"])
        except ValueError as exc:
            self.refuse("command", f"command: {exc}")
            return
        if not argv:
            self.refuse("command", "give the command to run")
            return
        try:
            priority = parse_priority(value["priority"] or "normal")
        except SpoolError as exc:
            self.refuse("priority", str(exc))
            return
        self.dismiss(JobSpec(command=argv, queue=value["queue"] or None, type=value["type"] or None,
                             name=value["name"], priority=priority))
