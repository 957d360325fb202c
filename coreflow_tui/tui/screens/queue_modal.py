"""`n`: add a queue, with its slot limit (jobs at once across all hosts)."""

from __future__ import annotations

from textual.widgets import Input

from store import SpoolError
from store.names import check_name

from .form_modal import FormModal


class QueueModal(FormModal[tuple[str, int] | None]):
    FIRST = "name"
    VERB = "add"

    def __init__(self, existing: list[str]) -> None:
        super().__init__()
        self.existing = existing

    def heading(self) -> str:
        return "Add a queue"

    def fields(self) -> list[tuple[str, Input]]:
        return [
            ("Name (a-z 0-9 . _ -)", Input(id="name")),
            ("Slots (jobs at once, across all hosts)", Input("4", id="slots", type="integer")),
        ]

    def action_submit(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        slots = self.query_one("#slots", Input).value.strip() or "4"
        if not name:
            self.refuse("name", "give the queue a name")
            return
        try:
            check_name(name, "queue name")
        except SpoolError as exc:
            self.refuse("name", str(exc))
            return
        if name in self.existing:
            self.refuse("name", f"queue {name!r} already exists; choose another name")
            return
        try:
            n = int(slots)
        except ValueError:  # the integer input still lets "-" or "+" through
            n = 0
        if n < 1:
            self.refuse("slots", "slots must be a whole number, 1 or more")
            return
        self.dismiss((name, n))
