"""The highlighted job's log, followed while the job runs."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Log


class LogPane(Log):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "screen.back", "Back to jobs")]

    def __init__(self, **kw: object) -> None:
        super().__init__(max_lines=20_000, **kw)  # type: ignore[arg-type]
        self.job_id: str | None = None
        self.log_offset = 0
        self.done = False

    def follow(self, job_id: str | None) -> None:
        """Start showing another job's log (from the start; its tail when huge)."""
        if job_id == self.job_id:
            return
        self.job_id = job_id
        self.log_offset = 0
        self.done = False
        self.clear()
        if job_id is None:
            self.write_line("No job highlighted.")

    def add(self, text: str, offset: int, done: bool) -> None:
        if self.log_offset == 0 and not text and not self.line_count:
            self.write_line("(no output: the job printed nothing, did not run, or its log was pruned)" if done
                            else "(no output yet: it appears here as the job prints)")
        elif self.log_offset == 0 and text:
            self.clear()
        self.write(text)
        self.log_offset = offset
        self.done = done
