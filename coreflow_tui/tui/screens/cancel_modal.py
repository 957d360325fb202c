"""Cancel, confirmed: names every job it would cancel, and counts the waiting jobs that
depend on them and go with them. y/enter cancels, n/escape keeps."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from .confirm_text import add_jobs, add_keys


class CancelModal(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Cancel them"),
        Binding("n,escape", "answer(False)", "Keep them"),
    ]

    def __init__(self, jobs: list[tuple[str, str, str, str]], with_them: int = 0) -> None:
        """`jobs`: (short id, name, state now, state when marked) of each job to cancel;
        `with_them`: how many waiting jobs (waiting --after them) are cancelled with them."""
        super().__init__()
        self.jobs = jobs
        self.with_them = with_them

    def compose(self) -> ComposeResult:
        n = len(self.jobs)
        text = Text(f"Cancel {'this job' if n == 1 else f'these {n} jobs'}?\n\n", style="bold")
        started = sum(1 for *_x, now, was in self.jobs if now == "running" and was != "running")
        if started:
            text.append(f"{started} of them started since you marked {'it' if n == 1 else 'them'}: "
                        f"{'its runner' if started == 1 else 'their runners'} will stop "
                        f"{'it' if started == 1 else 'them'}.\n\n", "bold")
        add_jobs(text, [(sid, name, *_note(state, was)) for sid, name, state, was in self.jobs])
        if self.with_them:
            k = self.with_them
            text.append(f"\n{k} waiting job{'' if k == 1 else 's'} depend{'s' if k == 1 else ''} on "
                        f"{'it' if n == 1 else 'them'} and will be cancelled with {'it' if n == 1 else 'them'}.\n",
                        "bold")
        text.append("\n")
        add_keys(text, [(("y", "enter"), "cancel"), (("n", "escape"), "keep")])
        with Vertical(id="cancel-box") as box:
            box.border_title = "Cancel"
            yield Static(text)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def _note(state: str, was: str) -> tuple[str, str]:
    if state == "running" and was != "running":
        return "  (started since marked: its runner will stop it)", "bold italic"
    if state == "running":
        return "  (running: its runner will stop it)", "italic"
    return ("  (held)", "dim") if state == "held" else ("", "")
