"""Issue 10 item 5: the contract exactly. A bad option value or a bad name is a usage
error (exit 2, one line naming the option and why); an ASCII-only output falls back to
ASCII glyphs; TERM=dumb is refused with a pointer to `coreflow ls`; every option of every
`--help` says what it does."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from clihelp import run

from coreflow_tui.cli import build_parser
from store import Spool, submit
from store.jobs.submit import JobSpec

BAD = [
    (["submit", "--priority", "abc", "--", "true"], "--priority", "invalid priority 'abc'"),
    (["submit", "--priority", "1e9", "--", "true"], "--priority", "invalid priority '1e9'"),
    (["submit", "--priority", "99999999999", "--", "true"], "--priority", "between"),
    (["submit", "--label", "foo", "--", "true"], "--label", "'foo' must be KEY=VALUE"),
    (["submit", "--label", "Bad Key=v", "--", "true"], "--label", "invalid label key"),
    (["submit", "--env", "FOO", "--", "true"], "--env", "'FOO' must be KEY=VALUE"),
    (["submit", "--requires", "G P U", "--", "true"], "--requires", "invalid label"),
    (["submit", "--queue", "Bad Q", "--", "true"], "--queue", "invalid queue name 'Bad Q'"),
    (["submit", "--queue", "../x", "--", "true"], "--queue", "invalid queue name"),
    (["submit", "--type", "../etc", "--", "true"], "--type", "invalid job type"),
    (["ls", "--queue", "Bad Q"], "--queue", "invalid queue name"),
    (["move", "0" * 26, "--queue", "Bad Q"], "--queue", "invalid queue name"),
    (["queue", "add", "Build"], "name", "invalid queue name 'Build'"),
    (["queue", "add", "a" * 200], "name", "invalid queue name"),
    (["queue", "pause", "x y"], "name", "invalid queue name"),
    (["triggers", "fire", "X"], "name", "invalid trigger name 'X'"),
    (["triggers", "fire", "release", "--set", "bad"], "--set", "'bad' must be KEY=VALUE"),
    (["runner", "--queues", "default,Bad Q"], "--queues", "invalid queue name 'Bad Q'"),
    (["serve", "--labels", "gpu,G P U"], "--labels", "invalid runner label"),
]


@pytest.mark.parametrize(("args", "option", "why"), BAD, ids=[" ".join(a)[:40] for a, _, _ in BAD])
def test_bad_values_are_usage_errors_on_one_line(spool: Spool, args: list[str], option: str, why: str) -> None:
    out = run(spool.root, *args)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert out.stdout == "" and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("coreflow: argument ") and option in out.stderr and why in out.stderr, out.stderr
    assert not spool.pending("default")


def test_ascii_stdout_gets_ascii_glyphs_not_a_crash(spool: Spool) -> None:
    submit(spool, [JobSpec(command=["sleep", "30"], name="café " + "long-name-" * 12)])
    spool.add_queue("build", description="compile — link")
    env = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    for args in (["ls"], ["queue", "ls"], ["show", spool.pending("default")[0].id], ["doctor"]):
        out = run(spool.root, *args, env=env)
        assert out.returncode in (0, 1) and "Traceback" not in out.stderr, (args, out.stderr)
        out.stdout.encode("ascii")
    ls = run(spool.root, "ls", env=env).stdout
    assert "caf\\xe9" in ls and "~" in ls  # the name escaped, the cut marked in ASCII


def test_linux_console_gets_ascii_cut_marks(spool: Spool) -> None:
    submit(spool, [JobSpec(command=["sleep", "30"], name="long-name-" * 12)])
    ls = run(spool.root, "ls", env={"TERM": "linux", "LC_ALL": "C.UTF-8"}).stdout
    assert "~" in ls and "…" not in ls


def test_dumb_terminal_is_refused_with_a_pointer_to_ls(spool: Spool) -> None:
    for args in ([], ["tui"]):
        out = run(spool.root, *args, env={"TERM": "dumb"}, timeout=30)
        assert out.returncode == 1, out
        assert out.stderr.count("\n") == 1 and "TERM=dumb" in out.stderr and "`coreflow ls`" in out.stderr


def _parsers(p: argparse.ArgumentParser, path: str = "coreflow"):
    yield path, p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_option_of_every_help_has_a_description() -> None:
    missing = []
    for path, p in _parsers(build_parser()):
        for action in p._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing


def test_every_help_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for path, p in _parsers(build_parser()):
        wide = [line for line in p.format_help().splitlines() if len(line) > 80]
        assert not wide, (path, wide)


def test_help_texts_show_the_descriptions(tmp_path: Path) -> None:
    out = run(tmp_path, "submit", "--help")
    assert "--env K=V" in out.stdout and "environment variable" in out.stdout
