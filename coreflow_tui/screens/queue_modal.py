"""`n`: add a queue, with its slot limit (jobs at once across all hosts)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class QueueModal(ModalScreen[tuple[str, int] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box") as box:
            box.border_title = "Add a queue (enter: next / add, escape: cancel)"
            yield Label("Name (a-z 0-9 . _ -)")
            yield Input(id="name")
            yield Label("Slots (jobs at once, across all hosts)")
            yield Input("4", id="slots", type="integer")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "name":
            self.focus_next()
            return
        name = self.query_one("#name", Input).value.strip()
        slots = self.query_one("#slots", Input).value.strip() or "4"
        if not name:
            self.notify("give the queue a name", severity="warning")
            self.query_one("#name", Input).focus()
            return
        try:
            n = int(slots)
        except ValueError:  # the integer input still lets "-" or "+" through
            n = 0
        if n < 1:
            self.notify("slots must be a whole number, 1 or more", severity="warning")
            self.query_one("#slots", Input).focus()
            return
        self.dismiss((name, n))
