"""Small text formatting shared by the CLI and the TUI: ids, ages, durations, tables."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from .safetext import inert

SHORT_ID = 8  # the random tail of a job id: unique in practice, and `find` accepts it


def short_id(job_id: str) -> str:
    return job_id[-SHORT_ID:]


def duration(seconds: float | None) -> str:
    """'0.4s', '12s', '3m05s', '2h10m', '3d4h'."""
    if seconds is None:
        return "-"
    s = max(0.0, seconds)
    if s < 10:
        return f"{s:.1f}s"
    s = int(s)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def age(t: float | None, now: float | None = None) -> str:
    if t is None:
        return "-"
    return duration((time.time() if now is None else now) - t)


def when(t: float | None) -> str:
    if t is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def unicode_ok(stream: TextIO | None = None) -> bool:
    """Whether `stream` (stdout) can encode the glyphs we draw: not under LC_ALL=C."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "…─█░▶".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _encodable(text: str) -> str:
    """`text` as stdout will show it (名 as \\u540d on an ASCII stdout), so widths are counted
    on what is printed."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return text


def fancy_ok() -> bool:
    """Whether stdout shows the few glyphs the CLI prints (… —): not on an ASCII output,
    nor on the Linux console, whose VGA font lacks them."""
    return unicode_ok() and os.environ.get("TERM") != "linux"


def columns() -> int:
    """The terminal's width as shutil.get_terminal_size() says it ($COLUMNS, else stdout's
    terminal, else 80), without importing shutil: a short command's start-up."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], flex: Sequence[int] = (),
          right: Sequence[int] = (), width: int | None = None) -> str:
    """Aligned columns that fit `width` (the terminal, 80 when not one): the columns
    listed in `flex` are shortened (with …) when the rest leave too little room. Cells are
    shown inert: names, commands and labels are chosen by whoever submits."""
    from rich.cells import cell_len, set_cell_size  # columns count cells: 名 takes two

    if not width:
        width = columns()
    cut = "…" if fancy_ok() else "~"
    rows = [[_encodable(inert(c)) for c in r] for r in rows]
    cols = len(headers)
    widths = [max([len(headers[i])] + [cell_len(r[i]) for r in rows]) for i in range(cols)]
    over = sum(widths) + 2 * (cols - 1) - width
    floor = {i: min(widths[i], max(len(headers[i]), 8)) for i in flex}
    while over > 0:
        # Shave the widest shrinkable column, one character at a time.
        i = max(flex, key=lambda i: widths[i] - floor[i], default=None)
        if i is None or widths[i] <= floor[i]:
            break
        widths[i] -= 1
        over -= 1
    lines = []
    for row in [list(headers), *[list(r) for r in rows]]:
        cells = []
        for i, cell in enumerate(row):
            if cell_len(cell) > widths[i]:
                cell = set_cell_size(cell, widths[i] - 1) + cut
            pad = " " * (widths[i] - cell_len(cell))
            cells.append(pad + cell if i in right else cell + pad)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
