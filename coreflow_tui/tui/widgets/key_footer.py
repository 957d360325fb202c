"""The footer, with `? help` and `q quit` first so that no width cuts them off."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer

FIRST = ("help", "app.quit", "quit", "dismiss")


class KeyFooter(Footer):
    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        return sorted(keys, key=lambda k: 0 if getattr(k, "action", None) in FIRST else 1)
