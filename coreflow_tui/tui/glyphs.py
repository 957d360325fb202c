"""Glyphs the terminal can draw: the TUI's output passes through a table that swaps what
the terminal cannot show for what it can, one cell for one cell.

- An output that cannot encode Unicode (LC_ALL=C): ASCII (`+-|`, `#` for blocks, `>` for
  `▶`), so a border is a border instead of the text `\\u256d`.
- The Linux console (TERM=linux): its font is the VGA one (code page 437), which has the
  light and double box lines, shades and full/half blocks, but no rounded corners, heavy
  or dashed lines, eighth blocks, braille or emoji; those become their nearest CP437 glyph.
- Anything else: unchanged.
"""

from __future__ import annotations

import os
import sys
import unicodedata
from typing import IO, Any

ASCII = {
    "…": "~", "—": "-", "–": "-", "‖": "|", "▶": ">", "▸": ">", "►": ">", "◀": "<", "◄": "<", "▲": "^",
    "▼": "v", "▾": "v", "●": "*", "○": "o", "◌": "o", "•": "*", "·": ".", "♥": "*", "✓": "v", "✔": "v",
    "✗": "x", "✘": "x", "→": ">", "↳": ">", "←": "<", "↑": "^", "↓": "v", "░": ".", "▒": ":", "▓": "#", "█": "#",
    "╱": "/", "╲": "\\", "╳": "X", "⏎": "<", "⌫": "<", "⇥": ">", "␣": "_", "≡": "=", "×": "x",
}
# The lower and left eighth blocks Textual draws scrollbars and bars with, by their CP437 kin.
CP437_BLOCKS = {**dict.fromkeys("▁▂▃▄", "▄"), **dict.fromkeys("▅▆▇█", "█"), **dict.fromkeys("▏▎▍▌", "▌"),
                **dict.fromkeys("▋▊▉", "█"), "▔": "▀", "▕": "▐"}
CP437_KIN = {"▶": "►", "▸": "►", "◀": "◄", "▾": "▼", "‖": "║", "●": "•", "◌": "○", "✓": "√"}
CP437 = frozenset(bytes(range(128, 256)).decode("cp437")) | frozenset("☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼⌂")


def _console_font(c: str) -> bool:
    """What the Linux console's fonts draw: CP437's glyphs, and the accented Latin letters."""
    return c in CP437 or 0xA0 <= ord(c) <= 0x17F


def _cells(c: str) -> int:
    from rich.cells import get_character_cell_size

    return get_character_cell_size(c)


def _ascii(c: str) -> str:
    if c in ASCII:
        return ASCII[c]
    name = unicodedata.name(c, "")
    if name.startswith("BOX DRAWINGS"):
        vertical = "VERTICAL" in name or ("UP" in name or "DOWN" in name) and "AND" not in name
        horizontal = "HORIZONTAL" in name or ("LEFT" in name or "RIGHT" in name) and "AND" not in name
        return "|" if vertical and not horizontal else "-" if horizontal and not vertical else "+"
    if name.startswith(("LOWER", "UPPER", "LEFT", "RIGHT", "FULL")) and "BLOCK" in name:
        return "#"
    return "?" * _cells(c)


def _cp437(c: str) -> str:
    if c in CP437_BLOCKS:
        return CP437_BLOCKS[c]
    if c in CP437_KIN:
        return CP437_KIN[c]
    name = unicodedata.name(c, "")
    if name.startswith("BOX DRAWINGS"):
        light = (name.replace("HEAVY", "LIGHT").replace("ARC ", "").replace("DOUBLE DASH ", "")
                 .replace("TRIPLE DASH ", "").replace("QUADRUPLE DASH ", ""))
        try:
            same = unicodedata.lookup(light)
        except KeyError:
            same = ""
        if same in CP437:
            return same
    return _ascii(c)


class _Table(dict[int, str]):
    """A `str.translate` table that works each character out once, on first sight."""

    def __init__(self, keep: Any, swap: Any) -> None:
        super().__init__()
        self.keep, self.swap = keep, swap

    def __missing__(self, code: int) -> str:
        c = chr(code)
        out = c if code < 0x80 or self.keep(c) else self.swap(c)
        self[code] = out
        return out


def _encodes(encoding: str) -> Any:
    def keep(c: str) -> bool:
        try:
            c.encode(encoding)
        except UnicodeEncodeError:
            return False
        return True

    return keep


def table_for(stream: IO[str] | None = None, term: str | None = None) -> _Table | None:
    """The table for this terminal, or None when it draws everything we do."""
    from ..fmt import unicode_ok

    stream = stream or sys.__stderr__
    if not unicode_ok(stream) or not unicode_ok(sys.__stdout__):
        return _Table(_encodes(getattr(stream, "encoding", None) or "ascii"), _ascii)
    if (term if term is not None else os.environ.get("TERM", "")) == "linux":
        return _Table(_console_font, _cp437)
    return None


class _Filtered:
    """The file Textual writes the screen to, with the glyph table applied."""

    def __init__(self, file: IO[str], table: _Table) -> None:
        self.file, self.table = file, table

    def write(self, text: str) -> int:
        return self.file.write(text.translate(self.table))

    def flush(self) -> None:
        self.file.flush()

    def fileno(self) -> int:
        return self.file.fileno()

    def isatty(self) -> bool:
        return self.file.isatty()


def driver_class(base: type) -> type:
    """`base` (Textual's driver), writing through this terminal's glyph table if it needs one."""
    from textual.drivers.linux_driver import LinuxDriver

    table = table_for()
    if table is None or not issubclass(base, LinuxDriver):
        return base

    class GlyphDriver(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._file = _Filtered(self._file, table)

    return GlyphDriver
