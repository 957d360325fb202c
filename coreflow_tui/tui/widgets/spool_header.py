"""The top line: which spool, which host, how it is watched, and what needs attention."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ...safetext import inert


class SpoolHeader(Static):
    def show(self, path: str, host: str, mode: str, corrupt: int = 0, lost: int = 0) -> None:
        warnings = []
        if corrupt:
            warnings.append(f"{corrupt} corrupt file{'s' if corrupt > 1 else ''}")
        if lost:
            warnings.append(f"{lost} runner{'s' if lost > 1 else ''} lost")
        text = Text("CoreFlow ", style="bold")
        if warnings:  # first, so a narrow terminal cuts the path, not the warning
            text.append(f" ⚠ {', '.join(warnings)} ", "bold reverse")
            text.append(" ")
        # Blanks end a span, never start one (librsvg drops leading blanks in screenshots).
        text.append_text(Text.assemble(inert(path) + "  ", ("on ", "dim"), inert(host) + "  ",
                                       ("● " if mode == "live" else "◌ "), mode))
        self.set_class(bool(warnings), "-warning")
        self.update(text)
