"""Issue 10 item 5: the full-screen UI on terminals that cannot draw everything. A
non-UTF-8 output gets ASCII glyphs (not the text `\\u256d`); the Linux console gets only
glyphs its VGA font has."""

from __future__ import annotations

import os
import re
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from clihelp import _PYC

from coreflow_tui.tui.glyphs import CP437
from store import Spool, submit
from store.jobs.submit import JobSpec


def _plain(raw: bytes) -> bytes:
    """The text a terminal shows, without the control sequences drawing it."""
    return re.sub(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Z])", b"", raw)


def _screen(root: Path, env: dict[str, str]) -> str:
    """Open the TUI on a pseudo-terminal, let it draw, quit with `q`; what it wrote."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    proc = subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(root)],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            env={**base, "PYTHONPYCACHEPREFIX": str(_PYC), "COLUMNS": "100", "LINES": "30", **env})
    os.close(slave)
    got = b""
    deadline = time.time() + 60
    quit_sent = False
    while time.time() < deadline:
        select.select([master], [], [], 0.2)
        try:
            chunk = os.read(master, 1 << 16)
        except (BlockingIOError, OSError):
            chunk = b""
        got += chunk
        if not quit_sent and not chunk and b"quit" in got and (b"caf" in _plain(got) or time.time() > deadline - 40):
            os.write(master, b"q")
            quit_sent = True
        if proc.poll() is not None:
            break
    try:
        got += os.read(master, 1 << 16)
    except OSError:
        pass
    os.close(master)
    assert proc.wait(10) == 0 and quit_sent, got[-2000:]
    return _plain(got).decode("utf-8", "replace")


def _spool(spool: Spool) -> Path:
    (first,) = submit(spool, [JobSpec(command=["make"], name="café build — nightly")])
    submit(spool, [JobSpec(command=["make", "test"], name="tests", after=[first])])  # its row has the ↳ marker
    return spool.root


def _first(spool: Spool) -> str:
    return next(v.job.id for v in spool.jobs()[0] if v.job.name.startswith("café"))


def test_ascii_output_gets_ascii_borders(spool: Spool) -> None:
    out = _screen(_spool(spool), {"LC_ALL": "C", "PYTHONUTF8": "0", "TERM": "xterm-256color"})
    assert "\\u256d" not in out and "\\u2500" not in out and "\\u" not in out, out[-3000:]
    assert all(ord(c) < 0x80 for c in out), sorted({c for c in out if ord(c) >= 0x80})
    assert "+---" in out and "caf" in out
    assert f"> {_first(spool)[-8:]}" in out  # the ↳ marker of a job waiting on another


def test_linux_console_gets_glyphs_its_font_has(spool: Spool) -> None:
    out = _screen(_spool(spool), {"LC_ALL": "C.UTF-8", "TERM": "linux"})
    drawn = {c for c in out if ord(c) >= 0x80}
    assert "╭" not in drawn and "─" in drawn, sorted(drawn)
    assert drawn <= CP437 | {chr(c) for c in range(0xA0, 0x180)}, sorted(drawn - CP437)
    assert "café" in out
    assert f"> {_first(spool)[-8:]}" in out or f"► {_first(spool)[-8:]}" in out
