"""`s`: submit a job — queue, type, name, priority and command — through the same store call as the CLI."""

from __future__ import annotations

import shlex

from textual.widgets import Input

from store import JobSpec, SpoolError
from store.names import parse_priority

from .form_modal import PRIORITY_LABEL, FormModal


class SubmitModal(FormModal[JobSpec | None]):
    FIRST = "command"

    def __init__(self, queue: str) -> None:
        super().__init__()
        self.queue = queue

    def heading(self) -> str:
        return "Submit a job"

    def fields(self) -> list[tuple[str, Input]]:
        return [
            ("Queue", Input(self.queue, id="queue")),
            ("Type (optional, from types.toml)", Input(id="type")),
            ("Name (optional)", Input(id="name")),
            (PRIORITY_LABEL, Input("normal", id="priority")),
            ("Command (as you would type it in a shell)", Input(placeholder="make -j8 test", id="command")),
        ]

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
