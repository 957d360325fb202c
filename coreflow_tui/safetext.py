"""The one sanitizer for text other people chose: job output, job names, commands, labels,
trigger names, queue descriptions, hostnames.

Such text is data; written to a terminal unfiltered, a job printing `ESC [2J` clears the
operator's screen, `ESC ]52;c;...` writes their clipboard, `ESC ]0;...` retitles the window.

- `inert(text)`: every control character escaped (`\\x1b`, `\\n`, `\\x9b`, `\\u202e`), for
  one-line display of a field (a name, a command, a hostname). No control character is left.
- `sgr_only(text)`: SGR colour sequences (`ESC [ params m`) kept, every other control
  sequence dropped whole (other CSI including private modes, OSC including titles and
  clipboard writes, DCS/SOS/PM/APC strings, their 8-bit C1 forms, other ESC sequences, lone
  ESC, BEL, C1, C0); `\\n` and `\\t` kept; CRLF becomes `\\n`. For job output in the TUI.
- `escape_non_sgr(text)`: SGR kept, every other control sequence shown escaped, as
  journalctl shows log output. For `coreflow logs` on a terminal.

Backslashes are left as they are: the escaped forms are for a person to read, not to parse.
"""

from __future__ import annotations

import functools
import re

# One token per control sequence, longest forms first: an SGR is kept only when it is
# complete, and whatever is not a complete sequence falls through to the one-character
# forms, so dropping or escaping a token can never leave an ESC behind.
_TOKEN_RE = (
    r"(?P<sgr>\x1b\[[0-9;:]{0,64}m)"
    r"|(?P<crlf>\r\n)"
    r"|(?P<csi>(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~])"
    # OSC ends at BEL or ST; the body excludes ESC and C1 so that a scan stays linear.
    r"|(?P<osc>(?:\x1b\]|\x9d)[^\x07\x1b\x80-\x9f]*(?:\x07|\x1b\\|\x9c))"
    r"|(?P<string>(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x80-\x9f]*(?:\x1b\\|\x9c))"
    r"|(?P<esc>\x1b[ -/]*[0-~])"
    r"|(?P<char>[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff])"
)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """A pattern compiled on first use: compiling these ranges costs half a millisecond,
    which a command that prints nothing untrusted (a submit) should not pay."""
    return re.compile(pattern)

# The characters `inert` escapes: C0, DEL, C1, line/paragraph separators (line breaks to
# some renderers), bidi overrides and isolates (they reorder what a reader sees), lone
# surrogates (undecodable bytes, which would crash an encoder).
_CONTROL_CHAR_RE = r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(m: re.Match[str]) -> str:
    c = m.group()
    if c in _NAMED:
        return _NAMED[c]
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:
        code -= 0xDC00  # an undecodable byte (surrogateescape) is shown as that byte
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    """`text` with every control character escaped, safe to show on one line."""
    return _compiled(_CONTROL_CHAR_RE).sub(_escape_char, text)


def _keep_sgr(m: re.Match[str]) -> str:
    kind = m.lastgroup
    if kind == "sgr":
        return m.group()
    if kind == "crlf":
        return "\n"
    if kind == "char":
        c = m.group()
        if c in "\n\t":
            return c
        # A lone CR would let later text overwrite earlier text; show both, one per line.
        if c == "\r":
            return "\n"
    return ""


def sgr_only(text: str) -> str:
    """`text` with SGR colours, newlines and tabs kept and every other control dropped."""
    return _compiled(_TOKEN_RE).sub(_keep_sgr, text)


def _escape_non_sgr(m: re.Match[str]) -> str:
    kind = m.lastgroup
    if kind == "sgr":
        return m.group()
    if kind == "crlf":
        return "\n"
    if kind == "char" and m.group() in "\n\t":
        return m.group()
    return inert(m.group())


def escape_non_sgr(text: str) -> str:
    """`text` with SGR colours, newlines and tabs kept and every other control shown escaped."""
    return _compiled(_TOKEN_RE).sub(_escape_non_sgr, text)
