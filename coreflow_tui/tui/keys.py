"""The one action registry: every key of the TUI, from which the main screen's and the jobs
list's bindings, the help screen (`?`) and the command palette are all made."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Key:
    where: str  # the help's section
    keys: str  # as the help and README write them
    what: str  # the help's text and the palette's title
    action: str | None = None  # palette: "jobs:ACTION" on the jobs list, "screen:ACTION", "app:ACTION"
    binds: tuple[Binding, ...] = ()  # what this row binds on its `owner`
    owner: str | None = None  # "screen" (MainScreen) or "jobs" (JobList); None: bound by Textual or a widget
    help: bool = True  # False: in the palette only (listed with a sibling row in the help)


def _b(keys: str, action: str, description: str = "", show: bool = True, key_display: str | None = None) -> Binding:
    return Binding(keys, action, description, show=show, key_display=key_display)


KEYS: list[Key] = [
    Key("Anywhere", "tab / shift+tab", "switch panes"),
    Key("Anywhere", "/", "filter jobs by name, type, label, trigger or id", "screen:filter",
        (_b("slash", "filter", "filter", key_display="/"),), "screen"),
    Key("Anywhere", "f", "show finished jobs (again: back to waiting)", "screen:finished",
        (_b("f", "finished", "done"),), "screen"),
    Key("Anywhere", "l", "show or hide the log of the highlighted job", "screen:log", (_b("l", "log", "log"),), "screen"),
    Key("Anywhere", "p", "pause or resume the selected queue", "screen:pause",
        (_b("p", "pause", "pause"),), "screen"),
    Key("Anywhere", "s", "submit a job", "screen:submit", (_b("s", "submit", "submit", show=False),), "screen"),
    Key("Anywhere", "n", "add a queue", "screen:add_queue",
        (_b("n", "add_queue", "new queue", show=False),), "screen"),
    Key("Anywhere", "?", "this help", None, (_b("question_mark", "help", "help", key_display="?"),), "screen"),
    Key("Anywhere", "ctrl+p / :", "command palette: every action by name", None,
        (_b("colon", "app.command_palette", "commands", show=False, key_display=":"),), "screen"),
    Key("Anywhere", "q / ctrl+c", "quit", "app:quit", (_b("q", "app.quit", "quit"),), "screen"),
    Key("Jobs", "up down, k j", "move the cursor (pgup, pgdn too)", None,
        (_b("up,k", "cursor(-1)", "Up", show=False), _b("down,j", "cursor(1)", "Down", show=False),
         _b("pageup", "page(-1)", "Page up", show=False), _b("pagedown", "page(1)", "Page down", show=False)), "jobs"),
    Key("Jobs", "g / G, home / end", "first / last job", None,
        (_b("home,g", "cursor_to(0)", "First", show=False), _b("end,G", "cursor_to(-1)", "Last", show=False)), "jobs"),
    Key("Jobs", "enter", "open the job's detail", "screen:open_detail",
        (_b("enter", "screen.open_detail", "detail", show=False),), "jobs"),
    Key("Jobs", "K J, shift+up shift+down", "move the job up / down one place", None,
        (_b("K,shift+up", "change('up')", "move", key_display="K/J"),
         _b("J,shift+down", "change('down')", "down one", show=False)), "jobs"),
    Key("Jobs", "K", "move the job up one place", "jobs:change:up", help=False),
    Key("Jobs", "J", "move the job down one place", "jobs:change:down", help=False),
    Key("Jobs", "t", "move the job to the top of the queue", "jobs:change:top",
        (_b("t", "change('top')", "top", show=False),), "jobs"),
    Key("Jobs", "b", "move the job to the bottom of the queue", "jobs:change:bottom",
        (_b("b", "change('bottom')", "bottom", show=False),), "jobs"),
    Key("Jobs", "c / delete", "cancel (asks first; a running job is stopped by its runner)", "jobs:change:cancel",
        (_b("c,delete", "change('cancel')", "cancel", key_display="c"),), "jobs"),
    Key("Jobs", "h", "hold or release (a held job keeps its place and is skipped)", "jobs:change:hold",
        (_b("h", "change('hold')", "hold"),), "jobs"),
    Key("Jobs", "r", "retry a finished job (in the finished view)", "jobs:change:retry",
        (_b("r", "change('retry')", "retry"),), "jobs"),
    Key("Jobs", "e", "edit a waiting job: name, priority, labels, requires, timeout", "jobs:change:edit",
        (_b("e", "change('edit')", "edit", show=False),), "jobs"),
    Key("Jobs", "space", "mark or unmark and move down; moves, cancel and hold apply to all marked", "jobs:mark",
        (_b("space", "mark", "mark"),), "jobs"),
    Key("Jobs", "U", "clear every mark", "jobs:unmark", (_b("U", "unmark", "unmark all", show=False),), "jobs"),
    Key("Queues", "up down, k j", "select a queue"),
    Key("Queues", "enter", "go to its jobs"),
    Key("Detail, log", "escape", "back to the jobs", None, (_b("escape", "back", "back", show=False),), "screen"),
    Key("Log", "up down, k j, pgup pgdn", "scroll back (it stops following the job)"),
    Key("Log", "G / end", "to the end: follows the job again"),
    Key("Log", "g / home", "to the start"),
    Key("Log", "w", "wrap long lines, or not (then left / right scroll)"),
    Key("Filter", "enter / escape", "keep the filter / clear it"),
    Key("Cancel dialog", "y / enter", "cancel the jobs named"),
    Key("Cancel dialog", "n / escape", "keep them"),
    Key("Retry dialog", "y / enter, n", "retry with the jobs its failure cancelled / alone"),
]


def bindings(owner: str) -> list[BindingType]:
    """The bindings of `owner` ("screen" or "jobs"), in the registry's order."""
    return [b for k in KEYS if k.owner == owner for b in k.binds]
