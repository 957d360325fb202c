"""The `coreflow` command: argument parsing and dispatch.

Imports stay light (store only): a command that needs no TUI must start as fast as
plain Python with msgspec and filelock. The runner, triggers and the TUI are imported
only when their command runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar
from pathlib import Path

from coreflow_tui import __version__

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
JSON_HELP = "print JSON (the contract's field names) instead of a table"
ID_HELP = "a job id, or 4+ characters of its start or end (ls shows the last 8)"

T = TypeVar("T")

# command -> "module:function"; each function takes (args) and returns an exit code.
HANDLERS = {
    "init": "coreflow_tui.commands:cmd_init",
    "queue": "coreflow_tui.commands:cmd_queue",
    "submit": "coreflow_tui.commands:cmd_submit",
    "ls": "coreflow_tui.commands:cmd_ls",
    "show": "coreflow_tui.commands:cmd_show",
    "logs": "coreflow_tui.joblog:cmd_logs",
    "move": "coreflow_tui.commands:cmd_move",
    "cancel": "coreflow_tui.commands:cmd_change",
    "hold": "coreflow_tui.commands:cmd_change",
    "release": "coreflow_tui.commands:cmd_change",
    "retry": "coreflow_tui.commands:cmd_change",
    "set": "coreflow_tui.edit_command:cmd_set",
    "prune": "coreflow_tui.commands:cmd_prune",
    "doctor": "coreflow_tui.commands:cmd_doctor",
    "runner": "coreflow_tui.runner.main:cmd_runner",
    "triggers": "coreflow_tui.triggers.main:cmd_triggers",
    "serve": "coreflow_tui.serve:cmd_serve",
    "demo": "coreflow_tui.demo:cmd_demo",
    "tui": "coreflow_tui.app:cmd_tui",
    # operating it on build hosts (issue 13): coreflow_tui/ops/
    "metrics": "coreflow_tui.ops.metrics:cmd_metrics",
    "completion": "coreflow_tui.ops.completion:cmd_completion",
    "spool": "coreflow_tui.ops.settings:cmd_spool",
}


def default_spool() -> Path:
    env = os.environ.get("COREFLOW_SPOOL")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "coreflow" / "spool"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line: which option, why, and where the usage is (a script's log keeps it whole).
        from .safetext import inert

        self.exit(EXIT_USAGE, f"coreflow: {inert(message)} (see `{self.prog} --help`)\n")


class _Unbuilt:
    """Stands in for the parser of a command that was not asked for: building every
    command's arguments costs more than `coreflow submit` does itself."""

    def __getattr__(self, name: str) -> Callable[..., _Unbuilt]:
        return lambda *args, **kwargs: self


class _Version(argparse.Action):
    """--version: the package's version and the spool format (read only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kw: object) -> None:
        help = kw.get("help")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from store.layout import FORMAT

        sys.stdout.write(f"coreflow {__version__} (spool format {FORMAT})\n")
        parser.exit()


def _command_word(argv: Sequence[str]) -> str | None:
    """The command in argv (the first word that is not a global option), if any."""
    it = iter(argv)
    for word in it:
        if word == "--spool":
            next(it, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser, or (given argv) one whose only built command is argv's."""
    only = _command_word(argv) if argv is not None else None
    p = _Parser(prog="coreflow", description="CoreFlow JobQueues: queue, triage and run CI jobs.",
                epilog="Exit status: 0 done, 1 could not be done (one line on stderr says why), 2 usage error. "
                       "`coreflow` alone opens the terminal UI.")
    p.add_argument("--version", action=_Version, help="print the version and the spool format it writes")
    p.add_argument("--spool", type=Path, default=None, metavar="PATH",
                   help="the spool directory (env COREFLOW_SPOOL; default %(default)s)".replace(
                       "%(default)s", str(default_spool())))
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help, description=help)
        return parser if only in (None, name) or only not in HANDLERS else _Unbuilt()  # type: ignore[return-value]

    cmd("init", "create a spool with the default queue (harmless if it exists)")
    d = cmd("demo", "make a demo spool, start a runner and triggers on it, open the TUI")
    d.add_argument("dir", nargs="?", type=Path, help="where to make the demo spool (default: a new temporary one)")
    d.add_argument("--no-tui", action="store_true", help="set up and serve, but do not open the TUI")
    cmd("doctor", "check the spool: format, permissions, filesystem, locks, runners, corrupt files, clock")
    t = cmd("tui", "open the terminal UI")
    t.add_argument("--queue", type=_queue, metavar="Q", help="queue to select at start (default: default)")

    q = cmd("queue", "add, list, pause, resume, change or remove queues")
    qs = q.add_subparsers(dest="queue_command", metavar="ACTION", required=True, parser_class=_Parser)
    a = qs.add_parser("add", help="add a queue")
    a.add_argument("name", type=_queue, help="the new queue's name (a-z 0-9 . _ -)")
    a.add_argument("--slots", type=_queue_slots, default=4, help="jobs it may run at once across all hosts (4)")
    a.add_argument("--description", type=_description, default="", metavar="T",
                   help="one line saying what the queue is for")
    ls = qs.add_parser("ls", help="list queues with their counts")
    ls.add_argument("--json", action="store_true", help=JSON_HELP)
    for action in ("pause", "resume"):
        qs.add_parser(action, help=f"{action} a queue (runners {'stop' if action == 'pause' else 'start'} "
                                   "claiming its jobs)").add_argument("name", type=_queue, help="the queue")
    s = qs.add_parser("set", help="change a queue's slot limit or description")
    s.add_argument("name", type=_queue, help="the queue")
    s.add_argument("--slots", type=_queue_slots, help="jobs it may run at once across all hosts")
    s.add_argument("--description", type=_description, metavar="T", help="one line saying what the queue is for")
    r = qs.add_parser("rm", help="remove a queue")
    r.add_argument("name", type=_queue, help="the queue")
    r.add_argument("--force", action="store_true", help="remove it with its pending, held and finished jobs")

    s = cmd("submit", "queue a job (prints its id)")
    s.add_argument("--queue", "-q", type=_queue, metavar="Q", help="the queue (default: the type's, or default)")
    s.add_argument("--type", "-t", type=_jobtype, metavar="T", help="a job type of types.toml")
    s.add_argument("--name", "-n", type=_job_name, metavar="N", help="what people see (default: the program's name)")
    s.add_argument("--priority", "-p", type=_priority, metavar="P",
                   help="integer, higher runs sooner; or low, normal, high, urgent")
    s.add_argument("--label", action="append", type=_label, default=[], metavar="K=V",
                   help="a label to find the job by (repeatable)")
    s.add_argument("--requires", action="append", type=_runner_label, default=[], metavar="L",
                   help="a runner label the job needs")
    s.add_argument("--timeout", type=_positive_seconds, metavar="SECONDS", help="stop it after this long")
    s.add_argument("--retries", type=_count, default=0, metavar="N", help="run again up to N times if it fails")
    s.add_argument("--cwd", metavar="DIR", help="directory to run in (default: the runner's)")
    s.add_argument("--env", action="append", type=_env, default=[], metavar="K=V",
                   help="an environment variable for the job (repeatable)")
    s.add_argument("--shell", action="store_true", help="run the command as one /bin/sh -c string")
    s.add_argument("--json", action="store_true", help="print the new job as JSON")
    s.add_argument("--jsonl", metavar="FILE", help="bulk: one JSON job a line from FILE or - (stdin)")
    s.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]", help="the program and its arguments")

    ls = cmd("ls", "list jobs: running, then waiting jobs in run order")
    ls.add_argument("--queue", "-q", type=_queue, metavar="Q", help="only this queue")
    ls.add_argument("--state", "-s", default=None, metavar="S",
                    choices=["pending", "held", "running", "succeeded", "failed", "cancelled", "finished", "all"],
                    help="pending|held|running|succeeded|failed|cancelled|finished|all")
    ls.add_argument("--json", action="store_true", help=JSON_HELP)

    sh = cmd("show", "show every field of a job, why it waits, its audit trail and result")
    sh.add_argument("id", help=ID_HELP)
    sh.add_argument("--json", action="store_true", help=JSON_HELP)
    lg = cmd("logs", "print a job's log")
    lg.add_argument("id", help=ID_HELP)
    lg.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    lg.add_argument("--raw", action="store_true",
                    help="the bytes as the job wrote them, control sequences included (the default when "
                         "output is not a terminal; on a terminal they are shown escaped)")

    mv = cmd("move", "move a waiting job in its queue, or to another queue")
    # argparse does not wrap a mutually exclusive group: keep the usage in 80 columns
    mv.usage = ("%(prog)s [-h] ID (--top | --bottom | --up [N] | --down [N] |\n"
                f"{' ' * 21}--before ID | --after ID | --queue Q)")
    mv.add_argument("id", help=ID_HELP)
    g = mv.add_mutually_exclusive_group(required=True)
    g.add_argument("--top", action="store_true", help="first in its queue")
    g.add_argument("--bottom", action="store_true", help="last in its queue")
    g.add_argument("--up", type=_positive_int, nargs="?", const=1, metavar="N", help="N places earlier (1)")
    g.add_argument("--down", type=_positive_int, nargs="?", const=1, metavar="N", help="N places later (1)")
    g.add_argument("--before", metavar="ID", help="just before that job")
    g.add_argument("--after", metavar="ID", help="just after that job")
    g.add_argument("--queue", type=_queue, metavar="Q", help="to another queue, placed as a submit would")

    for name, help in (("cancel", "cancel jobs (a running job is stopped by its runner)"),
                       ("hold", "hold waiting jobs: they keep their place and are skipped"),
                       ("release", "release held jobs"),
                       ("retry", "queue finished jobs again as a new attempt")):
        cmd(name, help).add_argument("ids", nargs="+", metavar="ID", help=ID_HELP)

    # -- set (issue 10 item 12; handler in edit_command.py) --
    st = cmd("set", "change waiting jobs: priority, name, labels, required runner labels, timeout")
    st.add_argument("ids", nargs="+", metavar="ID", help=ID_HELP)
    st.add_argument("--priority", "-p", type=_priority, metavar="P",
                    help="integer, higher runs sooner; or low, normal, high, urgent (the job goes behind "
                         "the waiting jobs of the same or higher priority, as a submit would place it)")
    st.add_argument("--name", "-n", type=_new_name, metavar="N", help="what people see")
    st.add_argument("--label", action="append", type=_label, default=None, metavar="K=V",
                    help="set a label (repeatable); K= removes it")
    st.add_argument("--requires", action="append", type=_runner_label, default=None, metavar="L",
                    help="a runner label the job needs (repeatable; replaces the job's list)")
    st.add_argument("--timeout", type=_positive_seconds, metavar="D", help="stop it after this long (30s, 5m, 2h)")

    add_runner_options(cmd("runner", "run jobs from the spool"))
    tr = cmd("triggers", "run, list or fire triggers")
    trs = tr.add_subparsers(dest="triggers_command", metavar="ACTION", parser_class=_Parser)
    trs.add_parser("run", help="run every trigger of the spool (the default)")
    trl = trs.add_parser("ls", help="list triggers with last and next firing")
    trl.add_argument("--json", action="store_true", help=JSON_HELP)
    trf = trs.add_parser("fire", help="fire a trigger now")
    trf.add_argument("name", type=_trigger, help="the trigger (its file's name without .toml)")
    trf.add_argument("--set", action="append", type=_setting, default=[], metavar="KEY=VALUE",
                     help="a parameter or job field for this firing (repeatable)")

    add_serve_options(cmd("serve", "run a runner and the triggers as separate, supervised processes"))

    pr = cmd("prune", "delete finished jobs with their logs")
    pr.add_argument("--older-than", type=_duration, metavar="DURATION", help="e.g. 7d, 12h, 30m")
    pr.add_argument("--keep", type=_count, metavar="N", help="keep the N newest finished jobs of each queue")
    add_ops_commands(cmd)
    return p


# -- operating it on build hosts (issue 13) ----------------------------------------------


def add_serve_options(sv: argparse.ArgumentParser) -> None:
    add_runner_options(sv)
    sv.add_argument("--metrics-textfile", type=Path, metavar="DIR",
                    help="keep DIR/coreflow.prom fresh for node_exporter's textfile collector")
    sv.add_argument("--metrics-every", type=_positive_seconds, default=15.0, metavar="DURATION",
                    help="how often to rewrite it (15s)")
    sv.add_argument("--systemd-unit", action="store_true",
                    help="print a systemd service unit that runs this serve command, and exit")
    sv.add_argument("--user", metavar="USER", help="with --systemd-unit: the user the service runs as")
    sv.add_argument("--writable", action="append", default=[], metavar="DIR",
                    help="with --systemd-unit: a directory jobs write to (workspaces), writable under "
                         "ProtectSystem=strict; repeatable")
    sv.add_argument("--stop-timeout", type=_positive_seconds, default=3600.0, metavar="DURATION",
                    help="with --systemd-unit: how long a stop may wait for running jobs to finish (1h)")


def add_ops_commands(cmd: Callable[[str, str], argparse.ArgumentParser]) -> None:
    m = cmd("metrics", "print the spool's state as Prometheus metrics")
    m.add_argument("--textfile", type=Path, metavar="DIR",
                   help="write DIR/coreflow.prom atomically (node_exporter's textfile collector) instead")
    c = cmd("completion", "print a shell completion script: source <(coreflow completion bash)")
    c.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell to complete for")
    sp = cmd("spool", "show or change the spool's housekeeping settings")
    sps = sp.add_subparsers(dest="spool_command", metavar="ACTION", parser_class=_Parser)
    sps.add_parser("show", help="print the settings (the default)")
    ss = sps.add_parser("set", help="change settings; without options, print them")
    ss.add_argument("--keep-finished", metavar="DURATION",
                    help="serve prunes finished jobs and their logs older than this, hourly (e.g. 14d; off)")
    ss.add_argument("--max-log-size", metavar="SIZE",
                    help="a job's log stops growing at this size (e.g. 100MiB; off: the runner's default)")


def add_runner_options(ru: argparse.ArgumentParser) -> None:
    ru.add_argument("--queues", type=_queue_list, default=None, metavar="Q,...",
                    help="queues to serve (default: every queue, including queues added later)")
    ru.add_argument("--slots", type=_positive_int, default=None, metavar="N", help="jobs at once (default: CPUs)")
    ru.add_argument("--labels", type=_label_list, default="", metavar="L,...", help="labels jobs can require (--requires)")
    ru.add_argument("--lease", type=_positive_seconds, default=30.0, metavar="SECONDS",
                    help="silent this long, it counts as lost and its jobs are taken over (30)")
    ru.add_argument("--drain", action="store_true", help="exit once its queues have nothing left for it")
    ru.add_argument("--requeue-on-stop", action="store_true", help="on SIGTERM requeue running jobs, don't wait")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    _tolerant_streams()
    if "_ARGCOMPLETE" in os.environ:  # a shell asks for completions: only then load argcomplete
        from coreflow_tui.ops.completion import autocomplete

        autocomplete(build_parser())
    args = build_parser(argv).parse_args(argv)
    args.spool = args.spool or default_spool()
    command = args.command or "tui"
    if command == "tui" and not hasattr(args, "queue"):
        args.queue = None
    if (command == "tui" or command == "demo" and not args.no_tui) and os.environ.get("TERM") == "dumb":
        print("coreflow: this terminal (TERM=dumb) cannot show the full-screen UI; use `coreflow ls`, "
              "`coreflow show ID` and `coreflow logs ID` instead", file=sys.stderr)
        return EXIT_FAIL
    module, _, func = HANDLERS[command].partition(":")
    handler: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), func)
    from store import SpoolError

    try:
        return handler(args)
    except SpoolError as exc:
        from .safetext import inert

        print(f"coreflow: {inert(str(exc))}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `coreflow ls | head`: the reader left; not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _tolerant_streams() -> None:
    """On an output that cannot encode Unicode (LC_ALL=C), text other people chose is
    written with backslash escapes instead of failing with UnicodeEncodeError."""
    from .fmt import unicode_ok

    for stream in (sys.stdout, sys.stderr):
        if not unicode_ok(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum` (and at most `maximum`)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{text} must be at most {maximum}")
        return value

    return parse


def _text(limit: str, *, one_line: bool = True, empty: bool = True) -> Callable[[str], str]:
    """An argparse type: text of at most store.limits.<limit> characters (one line; not blank
    unless `empty`), so the store never refuses it after the parse."""

    def parse(text: str) -> str:
        from store import limits

        most = getattr(limits, limit)
        if len(text) > most or (one_line and "\n" in text) or (not empty and not text.strip()):
            shape = "one line" if one_line else "text"
            raise argparse.ArgumentTypeError(f"must be {shape} of {'at most' if empty else '1 to'} {most} characters")
        return text

    return parse


_positive_int = _whole(1)
_count = _whole(0)
_queue_slots = _whole(1, 10_000)  # store.limits.MAX_SLOTS (a test pins them equal)
_description = _text("MAX_DESCRIPTION_CHARS", one_line=False)
_job_name = _text("MAX_NAME_CHARS")
_new_name = _text("MAX_NAME_CHARS", empty=False)


def _seconds(allow_zero: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        from store.names import parse_duration

        try:
            return parse_duration(text, "value", allow_zero)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


_positive_seconds = _seconds(False)
_duration = _seconds(True)


def _checked(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a store check: its refusal becomes a usage error naming the option."""

    def parse(text: str) -> T:
        from store import SpoolError

        try:
            return check(text)
        except (SpoolError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _name_check(what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        from store.names import check_name

        return check_name(text, what)

    return _checked(check)


def _pair(what: str, key_check: Callable[[str], object] | None) -> Callable[[str], tuple[str, str]]:
    """KEY=VALUE, the key checked by `key_check`."""

    def check(text: str) -> tuple[str, str]:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise ValueError(f"{text!r} must be KEY=VALUE")
        if key_check is not None:
            key_check(key)
        return key, value

    return _checked(check)


def _env_name(key: str) -> None:
    if "\0" in key or not key.strip():
        raise ValueError(f"invalid environment variable name {key!r}")


def _priority_check(text: str) -> int:
    from store.names import parse_priority

    return parse_priority(text)


_queue = _name_check("queue name")
_jobtype = _name_check("job type")
_trigger = _name_check("trigger name")
_runner_label = _name_check("label")
_label = _pair("label", _name_check("label key"))
_env = _pair("environment variable", _env_name)
_priority = _checked(_priority_check)


def _name_list(what: str) -> Callable[[str], str]:
    """A comma-separated list of names, each checked; the text itself is kept."""
    check = _name_check(what)

    def parse(text: str) -> str:
        for part in text.split(","):
            if part.strip():
                check(part.strip())
        return text

    return parse


_queue_list = _name_list("queue name")
_label_list = _name_list("runner label")


def _setting(text: str) -> str:
    if not _pair("setting", None)(text)[0].strip():
        raise argparse.ArgumentTypeError(f"{text!r} must be KEY=VALUE")
    return text


if __name__ == "__main__":
    raise SystemExit(main())
