"""`?`: every key of the TUI, by where it works. KEYMAP also feeds the command palette."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# (section, keys, what it does, palette action: "jobs:ACTION" on the jobs list, "screen:ACTION", or None)
KEYMAP: list[tuple[str, str, str, str | None]] = [
    ("Anywhere", "tab / shift+tab", "switch panes", None),
    ("Anywhere", "/", "filter jobs by name, type, label, trigger or id", "screen:filter"),
    ("Anywhere", "f", "show finished jobs (again: back to waiting)", "screen:finished"),
    ("Anywhere", "l", "show or hide the log of the highlighted job", "screen:log"),
    ("Anywhere", "p", "pause or resume the selected queue", "screen:pause"),
    ("Anywhere", "s", "submit a job", "screen:submit"),
    ("Anywhere", "n", "add a queue", "screen:add_queue"),
    ("Anywhere", "?", "this help", None),
    ("Anywhere", "ctrl+p / :", "command palette: every action by name", None),
    ("Anywhere", "q / ctrl+c", "quit", "app:quit"),
    ("Jobs", "up down, k j", "move the cursor (pgup, pgdn too)", None),
    ("Jobs", "g / G, home / end", "first / last job", None),
    ("Jobs", "enter", "open the job's detail", "screen:open_detail"),
    ("Jobs", "K J, shift+up shift+down", "move the job up / down one place", None),
    ("Jobs", "K", "move the job up one place", "jobs:change:up"),
    ("Jobs", "J", "move the job down one place", "jobs:change:down"),
    ("Jobs", "t", "move the job to the top of the queue", "jobs:change:top"),
    ("Jobs", "b", "move the job to the bottom of the queue", "jobs:change:bottom"),
    ("Jobs", "c / delete", "cancel (asks first; a running job is stopped by its runner)", "jobs:change:cancel"),
    ("Jobs", "h", "hold or release (a held job keeps its place and is skipped)", "jobs:change:hold"),
    ("Jobs", "r", "retry a finished job (in the finished view)", "jobs:change:retry"),
    ("Jobs", "e", "edit a waiting job: name, priority, labels, requires, timeout", "jobs:change:edit"),
    ("Jobs", "space", "mark or unmark and move down; moves, cancel and hold apply to all marked", "jobs:mark"),
    ("Jobs", "U", "clear every mark", "jobs:unmark"),
    ("Queues", "up down, k j", "select a queue", None),
    ("Queues", "enter", "go to its jobs", None),
    ("Detail, log", "escape", "back to the jobs", None),
    ("Log", "up down, k j, pgup pgdn", "scroll back (it stops following the job)", None),
    ("Log", "G / end", "to the end: follows the job again", None),
    ("Log", "g / home", "to the start", None),
    ("Log", "w", "wrap long lines, or not (then left / right scroll)", None),
    ("Filter", "enter / escape", "keep the filter / clear it", None),
    ("Cancel dialog", "y / enter", "cancel the jobs named", None),
    ("Cancel dialog", "n / escape", "keep them", None),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold", no_wrap=True)
        t.add_column()
        section = ""
        for where, keys, what, _action in KEYMAP:
            if keys in ("K", "J"):
                continue  # listed together above; separate only for the palette
            if where != section:
                t.add_row(Text(("\n" if section else "") + where, style="bold underline"), "")
                section = where
            t.add_row(keys, what)
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Keys (escape closes)"
            yield Static(t)
