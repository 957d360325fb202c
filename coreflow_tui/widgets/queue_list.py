"""The queues: pending, running against the slot limit, and a paused mark."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from store import QueueInfo


class QueueList(OptionList):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "cursor_up", "Up", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("enter", "screen.show_jobs", "Jobs", show=False),
    ]

    def show(self, infos: list[QueueInfo], selected: str) -> None:
        names = [q.name for q in infos]
        prompts = [self._prompt(q) for q in infos]
        if names == [o.id for o in self.options]:
            for name, prompt in zip(names, prompts):
                self.replace_option_prompt(name, prompt)
        else:
            self.set_options([Option(p, id=n) for n, p in zip(names, prompts)])
        if selected in names:
            self.highlighted = names.index(selected)

    @staticmethod
    def _prompt(q: QueueInfo) -> Text:
        slots = q.config.slots
        text = Text(q.name, style="bold" if q.running else "")
        text.append(f"  {q.pending:,} waiting", "")
        if q.held:
            text.append(f" {q.held:,} held", "dim")
        text.append(f"  ▶{q.running}/{slots}", "bold" if q.running >= slots else "")
        if q.config.paused:
            text.append("  ")
            text.append("PAUSED", "bold reverse")
        return text
