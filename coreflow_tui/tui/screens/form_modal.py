"""A dialog of input fields: enter goes to the next field and, on the last, submits; escape cancels."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Input

from ...safetext import inert

T = TypeVar("T")


class FormModal(ModalScreen[T]):
    # Priority: enter acts the moment it arrives, so keys typed after it land in the next field.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("enter", "enter", "Next / submit", priority=True),
        Binding("ctrl+s", "submit", "Submit"),
    ]
    FIRST: ClassVar[str] = ""  # the field that has the focus when the dialog opens

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
