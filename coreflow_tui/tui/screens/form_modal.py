"""A dialog of input fields: enter goes to the next field and, on the last, submits; escape cancels."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from ...safetext import inert

T = TypeVar("T")
PRIORITY_LABEL = "Priority (a number, or low normal high urgent; higher runs sooner)"


class FormModal(ModalScreen[T]):
    # Priority: enter acts the moment it arrives, so keys typed after it land in the next field.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("enter", "enter", "Next / submit", priority=True),
        Binding("ctrl+s", "submit", "Submit"),
    ]
    FIRST: ClassVar[str] = ""  # the field that has the focus when the dialog opens
    VERB: ClassVar[str] = "submit"  # what enter on the last field does, for the hint line

    def heading(self) -> str | Text:
        raise NotImplementedError

    def fields(self) -> list[tuple[str, Input]]:
        """(label, input) in order; each input's id names the field."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box") as box:
            box.border_title = self.heading()
            box.border_subtitle = f"enter: next / {self.VERB} · escape: cancel"
            for label, field in self.fields():
                yield Label(label)
                yield field

    def on_mount(self) -> None:
        self.set_focus(self.query_one(f"#{self.FIRST}", Input) if self.FIRST else self.query(Input).first())

    def action_enter(self) -> None:
        fields = list(self.query(Input))
        if self.focused is fields[-1]:
            self.action_submit()
        else:
            self.focus_next(Input)

    def action_submit(self) -> None:
        raise NotImplementedError

    def refuse(self, field: str, why: str) -> None:
        """Say what is wrong and keep everything typed; the cursor goes to the field to fix."""
        self.notify(inert(why), severity="warning", markup=False)
        self.set_focus(self.query_one(f"#{field}", Input))
