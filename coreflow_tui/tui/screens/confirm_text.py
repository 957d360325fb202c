"""What the confirmation dialogs (cancel, retry) write alike: the jobs they name, and
their keys."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from ...safetext import inert

SHOWN = 8  # jobs named; the rest are counted


def add_jobs(text: Text, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """One line per job: (short id, name, a note after the name, the note's style)."""
    for sid, name, note, style in rows[:SHOWN]:
        text.append(f"  {sid}  ", "bold")
        text.append(inert(name))
        if note:
            text.append(note, style)
        text.append("\n")
    if len(rows) > SHOWN:
        text.append(f"  … and {len(rows) - SHOWN} more\n", "dim")


def add_keys(text: Text, choices: Sequence[tuple[Sequence[str], str]]) -> None:
    """The answers: each its keys (shown as keycaps, joined by /) and what it does."""
    for i, (keys, what) in enumerate(choices):
        for j, key in enumerate(keys):
            if j:
                text.append("/")
            text.append(f" {key} ", "bold reverse")
        text.append(f" {what}" + ("    " if i < len(choices) - 1 else ""))
