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


class RetryModal(ModalScreen[bool | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "With the dependents"),
        Binding("n", "answer(False)", "Alone"),
        Binding("escape", "answer(None)", "Retry nothing"),
    ]

    def __init__(self, jobs: int, with_dependents: int) -> None:
        """`jobs` to retry, of which `with_dependents` cancelled jobs waiting for them."""
        super().__init__()
        self.jobs = jobs
        self.with_dependents = with_dependents

    def compose(self) -> ComposeResult:
        one = self.jobs == 1
        text = Text(f"Retry {'this job' if one else f'these {self.jobs} jobs'}?\n\n", style="bold")
        whose = "Its failure" if one else (f"The failure of {self.with_dependents} of them"
                                             if self.with_dependents < self.jobs else "Their failure")
        text.append(f"{whose} cancelled the jobs waiting for {'it' if one else 'them'}. Put those back "
                    "too, at their old places, waiting on the new attempt?\n\n")
        for key, what in ((" y ", " / "), (" enter ", " with them    "), (" n ", " alone    "),
                          (" escape ", " retry nothing")):
            text.append(key, "bold reverse")
            text.append(what)
        with Vertical(id="retry-box") as box:
            box.border_title = "Retry"
            yield Static(text)

    def action_answer(self, answer: bool | None) -> None:
        self.dismiss(answer)
