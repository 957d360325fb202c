"""The queues: pending, running against the slot limit, and a paused mark, one line each."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
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

    infos: list[QueueInfo] = []

    def show(self, infos: list[QueueInfo], selected: str) -> None:
        self.infos = infos
        names = [q.name for q in infos]
        width = max(10, self.scrollable_content_region.width or self.size.width or 30)
        prompts = [prompt(q, width) for q in infos]
        if names == [o.id for o in self.options]:
            for name, p in zip(names, prompts):
                self.replace_option_prompt(name, p)
        else:
            self.set_options([Option(p, id=n) for n, p in zip(names, prompts)])
        if selected in names:
            self.highlighted = names.index(selected)

    def on_resize(self) -> None:
        if self.infos and self.highlighted is not None:
            self.show(self.infos, self.infos[self.highlighted].name)


def prompt(q: QueueInfo, width: int) -> Text:
    """'default  5 waiting, 1 held  ▶2/2', or 'default 5 wait 1 held ▶2/2' where that does not fit."""
    slots = q.config.slots
    for waiting, held, gap in ((" waiting", ", {} held", "  "), (" wait", " {} held", " "), ("", "+{}h", " ")):
        counts = f"{q.pending:,}{waiting}" + (held.format(f"{q.held:,}") if q.held else "")
        run = f"▶{q.running}/{slots}"
        used = cell_len(q.name) + len(gap) + len(counts) + len(gap) + len(run) + (len(gap) + 6 if q.config.paused else 0)
        if used <= width:
            break
    # Blanks end a span, never start one (librsvg drops leading blanks in screenshots).
    text = Text(q.name + gap, style="bold" if q.running else "", no_wrap=True, overflow="ellipsis")
    text.append(counts + gap, "")
    text.append(run + (gap if q.config.paused else ""), "bold" if q.running >= slots else "")
    if q.config.paused:
        text.append("PAUSED", "bold reverse")
    return text
