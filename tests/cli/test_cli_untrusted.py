"""Issue 10 item 2, CLI side: text other people chose (names, commands, labels, env,
descriptions, job output) never reaches the terminal as control sequences."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from clihelp import _PYC, run

from store import Spool, submit
from store.jobs.submit import JobSpec

CLEAR = "\x1b[2J\x1b[H"
TITLE = "\x1b]0;pwned\x07"
CLIP = "\x1b]52;c;cm0gLXJmIH4K\x07"
OUTPUT = b"\x1b[2J\x1b[H\x1b[31mred\x1b[0m\n\x1b]52;c;eA==\x07\x9b1m\x1b[?1049hend\n"


def _hostile(spool: Spool) -> str:
    (job,) = submit(spool, [JobSpec(command=["echo", CLEAR + "arg"], name="n" + TITLE + "x",
                                    labels={"k": CLIP + "v"}, env={"E": "\x1b[5m"})])
    return job


def _no_controls(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, repr(text)


def test_ls_show_and_queue_ls_escape_untrusted_fields(spool: Spool) -> None:
    job = _hostile(spool)
    spool.add_queue("build", description="compile" + CLEAR)
    for args in (["ls"], ["ls", "--state", "all"], ["show", job], ["queue", "ls"]):
        out = run(spool.root, *args)
        assert out.returncode == 0, out.stderr
        _no_controls(out.stdout + out.stderr)
    show = run(spool.root, "show", job).stdout
    assert "\\x1b]0;pwned\\x07" in show and "\\x1b[2J" in show  # shown, escaped, not dropped


def test_json_output_is_escaped_by_json(spool: Spool) -> None:
    job = _hostile(spool)
    for args in (["ls", "--json"], ["show", job, "--json"]):
        out = run(spool.root, *args)
        _no_controls(out.stdout)
        assert "\\u001b]0;pwned\\u0007" in out.stdout


def test_errors_naming_untrusted_text_are_escaped(spool: Spool) -> None:
    out = run(spool.root, "show", "zz" + CLEAR)
    assert out.returncode in (1, 2)
    _no_controls(out.stderr)
    assert out.stderr.count("\n") == 1


def test_doctor_and_triggers_ls_escape_what_they_quote(spool: Spool) -> None:
    (spool.layout.triggers).mkdir(exist_ok=True)
    (spool.layout.triggers / "bad.toml").write_text('kind = "watch' + CLEAR + '"\n')
    (spool.layout.corrupt).mkdir(exist_ok=True)
    for args in (["doctor"], ["triggers", "ls"]):
        out = run(spool.root, *args)
        _no_controls(out.stdout + out.stderr)


def _with_log(spool: Spool) -> str:
    """A job that really ran and printed escape-laden output."""
    (job,) = submit(spool, [JobSpec(command=[sys.executable, "-c",
                                             f"import sys; sys.stdout.buffer.write({OUTPUT!r})"])])
    out = run(spool.root, "runner", "--drain", "--slots", "1", timeout=60)
    assert out.returncode == 0, out.stderr
    return job


def _on_a_terminal(root: Path, *args: str) -> bytes:
    """`coreflow ARGS` with its stdout on a pseudo-terminal; what the terminal received."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(_PYC), "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(root), *args],
                            stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    got = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the writer closed the terminal
            break
        if not data:
            break
        got += data
    assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
    os.close(master)
    return got.replace(b"\r\n", b"\n")  # the terminal's own output processing


def test_logs_on_a_terminal_keeps_colours_and_escapes_the_rest(spool: Spool) -> None:
    job = _with_log(spool)
    got = _on_a_terminal(spool.root, "logs", job).decode()
    assert "\x1b[31mred\x1b[0m" in got
    assert "\\x1b[2J\\x1b[H" in got and "\\x1b]52;c;eA==\\x07" in got and "\\x1b[?1049h" in got
    rest = got.replace("\x1b[31m", "").replace("\x1b[0m", "")
    _no_controls(rest)


def test_logs_raw_and_piped_give_the_bytes_as_written(spool: Spool) -> None:
    job = _with_log(spool)
    piped = subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "logs", job],
                           capture_output=True, timeout=60)
    assert piped.returncode == 0 and piped.stdout == OUTPUT
    assert _on_a_terminal(spool.root, "logs", job, "--raw") == OUTPUT.replace(b"\r\n", b"\n")


def test_runner_log_lines_show_job_names_inert(spool: Spool) -> None:
    submit(spool, [JobSpec(command=["true"], name="build" + TITLE + CLEAR)])
    out = run(spool.root, "runner", "--drain", "--slots", "1", timeout=60)
    assert out.returncode == 0 and "claimed" in out.stderr, out.stderr
    _no_controls(out.stderr)
