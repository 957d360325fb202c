"""The top line: which spool, which host, how it is watched, and what needs attention."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class SpoolHeader(Static):
    def show(self, path: str, host: str, mode: str, corrupt: int = 0, lost: int = 0) -> None:
        text = Text.assemble(("CoreFlow ", "bold"), path, "  ", ("host ", "dim"), host, "  ",
                             ("● " if mode == "live" else "◌ "), mode)
        warnings = []
        if corrupt:
            warnings.append(f"{corrupt} corrupt file{'s' if corrupt > 1 else ''} (coreflow doctor)")
        if lost:
            warnings.append(f"{lost} runner{'s' if lost > 1 else ''} lost")
        if warnings:
            text.append("  ")
            text.append(f" ⚠ {'; '.join(warnings)} ", "bold reverse")
        self.set_class(bool(warnings), "-warning")
        self.update(text)
