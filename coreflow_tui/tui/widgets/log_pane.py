"""One job's log: each line once, SGR colours kept and every other control sequence
dropped; it follows the job while scrolled to the end, and stays on its job to the end."""

from __future__ import annotations

from typing import ClassVar

from rich.ansi import AnsiDecoder
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import RichLog

from ...fmt import short_id
from ...safetext import inert, sgr_only

MAX_LINES = 20_000


class LogPane(RichLog):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "screen.back", "back"),
        Binding("G,end", "follow", "end, follow", key_display="G"),
        Binding("g,home", "scroll_home", "start", show=False),
        Binding("k", "scroll_up", "up", show=False),
        Binding("j", "scroll_down", "down", show=False),
        Binding("w", "wrap", "wrap"),
    ]

    def __init__(self, **kw: object) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=True, markup=False, highlight=False, **kw)  # type: ignore[arg-type]
        self.job_id: str | None = None
        self.job_name = ""
        self.log_offset = 0
        self.ended: str | None = None  # how the job ended, once it has
        self._kept: list[Text] = []  # the lines shown, to draw them again when wrapping changes
        self._partial = ""
        self._decoder = AnsiDecoder()

    @property
    def done(self) -> bool:
        return self.ended is not None

    @property
    def text(self) -> str:
        return "\n".join(t.plain for t in self._kept)

    def follow(self, job_id: str | None, name: str = "") -> None:
        """Show another job's log (from the start; its tail when huge)."""
        if job_id == self.job_id:
            return
        self.job_id, self.job_name = job_id, name
        self.log_offset = 0
        self.ended = None
        self._partial = ""
        self._decoder = AnsiDecoder()
        self._kept.clear()
        self.clear()
        if job_id is None:
            self._put([Text("No job highlighted.", style="dim")])
        self._title()

    def add(self, text: str, start: int, end: int, ended: str | None) -> None:
        """Bytes [start, end) of the log; a read that does not start where the last ended
        (an older poll landing late) is dropped, so no line shows twice."""
        if start != self.log_offset or self.done:
            return
        chunk = self._partial + text
        *lines, self._partial = chunk.split("\n")
        if ended is not None and self._partial:
            lines.append(self._partial)
            self._partial = ""
        out = [self._decoder.decode_line(sgr_only(line)) for line in lines]
        if ended is not None:
            if start == 0 and not out:
                out.append(Text("(no output: the job printed nothing, or its log was pruned)", style="dim"))
            out.append(Text(f"── the job {ended} ──", style="bold"))
        elif start == 0 and end == 0 and not self._kept:
            out.append(Text("(no output yet: it appears here as the job prints)", style="dim"))
        elif start == 0 and self._kept:  # the placeholder above goes once output comes
            self._kept.clear()
            self.clear()
        self.log_offset = end
        self.ended = ended
        self._put(out)
        self._title()

    def _put(self, lines: list[Text]) -> None:
        at_end = self.is_vertical_scroll_end  # follow only while the reader is at the end
        self._kept.extend(lines)
        del self._kept[:-MAX_LINES]
        for line in lines:
            self.write(line, scroll_end=at_end)

    def _title(self) -> None:
        if self.job_id is None:
            self.border_title = "Log"
            return
        title = f"Log · {short_id(self.job_id)} {inert(self.job_name)}"
        if self.ended:
            title += f" — {self.ended}"
        self.border_title = Text(title)  # text, never markup
        self.border_subtitle = "" if self.is_vertical_scroll_end else "scrolled back · G follows"

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.border_subtitle = "" if self.is_vertical_scroll_end else "scrolled back · G follows"

    def action_follow(self) -> None:
        self.scroll_end(animate=False, immediate=True)

    def action_wrap(self) -> None:
        self.wrap = not self.wrap
        self.clear()
        for line in self._kept:
            self.write(line, scroll_end=True)
        self.notify(f"log lines {'wrap' if self.wrap else 'run past the edge (left/right scroll)'}", timeout=2)
