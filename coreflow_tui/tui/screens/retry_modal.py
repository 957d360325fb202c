"""Retry of a job whose failure cancelled the jobs waiting for it: asks whether to put
them back too. y/enter: with them, n: this job alone, escape: retry nothing."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from .confirm_text import add_jobs, add_keys


class RetryModal(ModalScreen[bool | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "With the dependents"),
        Binding("n", "answer(False)", "Alone"),
        Binding("escape", "answer(None)", "Retry nothing"),
    ]

    def __init__(self, jobs: list[tuple[str, str]], back: int) -> None:
        """`jobs`: (short id, name) of each job to retry; `back`: how many jobs their failure
        cancelled (transitively), which a retry with the dependents puts back."""
        super().__init__()
        self.jobs = jobs
        self.back = back

    def compose(self) -> ComposeResult:
        one = len(self.jobs) == 1
        text = Text(f"Retry {'this job' if one else f'these {len(self.jobs)} jobs'}?\n\n", style="bold")
        add_jobs(text, [(sid, name, "", "") for sid, name in self.jobs])
        k = self.back
        them, where = ("it", "its old place") if k == 1 else ("them", "their old places")
        text.append(f"\n{'Its' if one else 'Their'} failure cancelled {k} waiting job{'' if k == 1 else 's'}. "
                    f"Put {them} back too, at {where}, waiting on the new attempt?\n\n")
        add_keys(text, [(("y", "enter"), "with them"), (("n",), "alone"), (("escape",), "retry nothing")])
        with Vertical(id="retry-box") as box:
            box.border_title = "Retry"
            yield Static(text)

    def action_answer(self, answer: bool | None) -> None:
        self.dismiss(answer)
