"""The `coreflow` argument parser, built per command family; only the command asked for is
built (building every command's arguments costs more than `coreflow submit` does itself)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from coreflow_tui import __version__
from coreflow_tui.exits import EXIT_USAGE
from coreflow_tui.fmt import columns

from . import checks as ck

# argparse translates its own words ("usage:", "error:") through gettext at every use,
# and each look-up imports locale and stats a .mo file per language: a tenth of a
# submit's own time. CoreFlow's messages are English; argparse's stay so too.
argparse._ = lambda text: text  # type: ignore[attr-defined]
argparse.ngettext = lambda one, many, n: one if n == 1 else many  # type: ignore[attr-defined]

JSON_HELP = "print JSON (the contract's field names) instead of a table"
ID_HELP = "a job id, or 4+ characters of its start or end (ls shows the last 8)"

# command -> "module:function"; each function takes (args) and returns an exit code.
HANDLERS = {
    "init": "coreflow_tui.cli.commands:cmd_init",
    "queue": "coreflow_tui.cli.listing:cmd_queue",
    "submit": "coreflow_tui.cli.commands:cmd_submit",
    "ls": "coreflow_tui.cli.listing:cmd_ls",
    "show": "coreflow_tui.cli.listing:cmd_show",
    "logs": "coreflow_tui.cli.joblog:cmd_logs",
    "move": "coreflow_tui.cli.commands:cmd_move",
    "cancel": "coreflow_tui.cli.commands:cmd_change",
    "hold": "coreflow_tui.cli.commands:cmd_change",
    "release": "coreflow_tui.cli.commands:cmd_change",
    "retry": "coreflow_tui.cli.commands:cmd_change",
    "set": "coreflow_tui.cli.edit_command:cmd_set",
    "wait": "coreflow_tui.cli.wait:cmd_wait",
    "prune": "coreflow_tui.cli.commands:cmd_prune",
    "doctor": "coreflow_tui.cli.commands:cmd_doctor",
    "runner": "coreflow_tui.runner.main:cmd_runner",
    "triggers": "coreflow_tui.triggers.main:cmd_triggers",
    "serve": "coreflow_tui.ops.serve:cmd_serve",
    "demo": "coreflow_tui.cli.demo:cmd_demo",
    "tui": "coreflow_tui.tui.app:cmd_tui",
    # operating it on build hosts (issue 13): coreflow_tui/ops/
    "metrics": "coreflow_tui.ops.metrics:cmd_metrics",
    "completion": "coreflow_tui.ops.completion:cmd_completion",
    "spool": "coreflow_tui.ops.settings:cmd_spool",
    "annotate": "coreflow_tui.cli.annotate_command:cmd_annotate",
}


def default_spool() -> Path:
    env = os.environ.get("COREFLOW_SPOOL")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "coreflow" / "spool"


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, told the terminal's width: argparse makes one for every
    add_argument (to check its metavar), and finding the width itself imports shutil (with
    its compressors), a tenth of a short command's own start-up."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        # One line: which option, why, and where the usage is (a script's log keeps it whole).
        from ..safetext import inert

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
    # prog given: argparse would otherwise build a help formatter (and import shutil) to work it out
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, prog="coreflow")

    # A known command without -h/--help anywhere needs no other command's parser, not even
    # its name (each costs an ArgumentParser and gettext's look-ups of translations).
    lean = only in HANDLERS and not {"-h", "--help"} & set(argv or ())

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        if lean and name != only:
            return _Unbuilt()  # type: ignore[return-value]
        parser = sub.add_parser(name, help=help, description=help)
        return parser if only in (None, name) or only not in HANDLERS else _Unbuilt()  # type: ignore[return-value]

    cmd("init", "create a spool with the default queue (harmless if it exists)")
    d = cmd("demo", "make a demo spool, start a runner and triggers on it, open the TUI")
    d.add_argument("dir", nargs="?", type=Path, help="where to make the demo spool (default: a new temporary one)")
    d.add_argument("--no-tui", action="store_true", help="set up and serve, but do not open the TUI")
    cmd("doctor", "check the spool: format, permissions, filesystem, locks, runners, corrupt files, clock")
    t = cmd("tui", "open the terminal UI")
    t.add_argument("--queue", type=ck.queue, metavar="Q", help="queue to select at start (default: default)")
    add_queue_commands(cmd)
    add_job_commands(cmd)
    add_change_commands(cmd)
    add_daemon_commands(cmd)
    pr = cmd("prune", "delete finished jobs with their logs")
    pr.add_argument("--older-than", type=ck.duration, metavar="DURATION", help="e.g. 7d, 12h, 30m")
    pr.add_argument("--keep", type=ck.count, metavar="N", help="keep the N newest finished jobs of each queue")
    add_ops_commands(cmd)
    an = cmd("annotate", "inside a job: add labels to it (a commit, test counts), shown by show, ls and the TUI")
    an.add_argument("pairs", nargs="+", type=ck.label, metavar="KEY=VALUE", help="a label to set")
    an.add_argument("--job", metavar="ID", help="the job (default: $COREFLOW_JOB_ID, set for every job)")
    return p


Command = Callable[[str, str], argparse.ArgumentParser]  # adds one command's parser


def add_queue_commands(cmd: Command) -> None:
    q = cmd("queue", "add, list, pause, resume, change or remove queues")
    qs = q.add_subparsers(dest="queue_command", metavar="ACTION", required=True, parser_class=_Parser)
    a = qs.add_parser("add", help="add a queue")
    a.add_argument("name", type=ck.queue, help="the new queue's name (a-z 0-9 . _ -)")
    a.add_argument("--slots", type=ck.queue_slots, default=4, help="jobs it may run at once across all hosts (4)")
    a.add_argument("--description", type=ck.description, default="", metavar="T",
                   help="one line saying what the queue is for")
    ls = qs.add_parser("ls", help="list queues with their counts")
    ls.add_argument("--json", action="store_true", help=JSON_HELP)
    for action in ("pause", "resume"):
        qs.add_parser(action, help=f"{action} a queue (runners {'stop' if action == 'pause' else 'start'} "
                                   "claiming its jobs)").add_argument("name", type=ck.queue, help="the queue")
    s = qs.add_parser("set", help="change a queue's slot limit, description or finish hook")
    s.add_argument("name", type=ck.queue, help="the queue")
    s.add_argument("--slots", type=ck.queue_slots, help="jobs it may run at once across all hosts")
    s.add_argument("--description", type=ck.description, metavar="T", help="one line saying what the queue is for")
    s.add_argument("--on-finish", type=ck.text("MAX_HOOK_COMMAND_CHARS"), metavar="CMD",
                   help="a shell command the runner starts after each job's result, with COREFLOW_JOB_ID, "
                        "COREFLOW_JOB_STATE, COREFLOW_EXIT_CODE... in its environment (\"\" removes it; "
                        "a job type's on_finish wins)")
    s.add_argument("--on-finish-timeout", type=ck.positive_seconds, metavar="D",
                   help="kill the hook after this long (default 30s)")
    qs.add_parser("show", help="print a queue's settings and counts").add_argument("name", type=ck.queue,
                                                                                  help="the queue")
    r = qs.add_parser("rm", help="remove a queue")
    r.add_argument("name", type=ck.queue, help="the queue")
    r.add_argument("--force", action="store_true", help="remove it with its pending, held and finished jobs")


def add_job_commands(cmd: Command) -> None:
    s = cmd("submit", "queue a job (prints its id)")
    s.add_argument("--queue", "-q", type=ck.queue, metavar="Q", help="the queue (default: the type's, or default)")
    s.add_argument("--type", "-t", type=ck.jobtype, metavar="T", help="a job type of types.toml")
    s.add_argument("--name", "-n", type=ck.job_name, metavar="N", help="what people see (default: the program's name)")
    s.add_argument("--priority", "-p", type=ck.priority, metavar="P",
                   help="integer, higher runs sooner; or low, normal, high, urgent")
    s.add_argument("--label", action="append", type=ck.label, default=[], metavar="K=V",
                   help="a label to find the job by (repeatable)")
    s.add_argument("--requires", action="append", type=ck.runner_label, default=[], metavar="L",
                   help="a runner label the job needs")
    s.add_argument("--timeout", type=ck.positive_seconds, metavar="SECONDS", help="stop it after this long")
    s.add_argument("--retries", type=ck.count, default=0, metavar="N", help="run again up to N times if it fails")
    s.add_argument("--cwd", metavar="DIR",
                   help="directory to run in (default: a new one of its own under the runner's --work-root)")
    s.add_argument("--env", action="append", type=ck.env, default=[], metavar="K=V",
                   help="an environment variable for the job (repeatable)")
    s.add_argument("--shell", action="store_true", help="run the command as one /bin/sh -c string")
    s.add_argument("--after", type=ck.job_refs, default=[], metavar="ID[,ID...]",
                   help="start only once these jobs (any queue) have succeeded; it is cancelled if one fails "
                        "or is cancelled")
    s.add_argument("--after-finished", type=ck.job_refs, default=[], metavar="ID[,ID...]",
                   help="start only once these jobs have ended, whatever their outcome")
    when = s.add_mutually_exclusive_group()
    when.add_argument("--at", type=ck.moment, metavar="TIME",
                      help='not before TIME: "2026-12-01 14:00" (local time) or ISO 8601 with a zone; '
                           "a time already past means no delay")
    when.add_argument("--in", dest="start_in", type=ck.span, metavar="DURATION",
                      help="not before this long from now: 90s, 10m, 1h30m, 2d")
    s.add_argument("--json", action="store_true", help="print the new job as JSON")
    s.add_argument("--jsonl", metavar="FILE", help="bulk: one JSON job a line from FILE or - (stdin)")
    s.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]", help="the program and its arguments")

    ls = cmd("ls", "list jobs: running, then waiting jobs in run order")
    ls.add_argument("--queue", "-q", type=ck.queue, metavar="Q", help="only this queue")
    ls.add_argument("--state", "-s", default=None, metavar="S",
                    choices=["pending", "held", "running", "succeeded", "failed", "cancelled", "finished", "all"],
                    help="pending, held, running, succeeded, failed, cancelled, finished or all")
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


def add_change_commands(cmd: Command) -> None:
    mv = cmd("move", "move a waiting job in its queue, or to another queue")
    # argparse does not wrap a mutually exclusive group: keep the usage in 80 columns
    mv.usage = ("%(prog)s [-h] ID (--top | --bottom | --up [N] | --down [N] |\n"
                f"{' ' * 21}--before ID | --after ID | --queue Q)")
    mv.add_argument("id", help=ID_HELP)
    g = mv.add_mutually_exclusive_group(required=True)
    g.add_argument("--top", action="store_true", help="first in its queue")
    g.add_argument("--bottom", action="store_true", help="last in its queue")
    g.add_argument("--up", type=ck.positive_int, nargs="?", const=1, metavar="N", help="N places earlier (1)")
    g.add_argument("--down", type=ck.positive_int, nargs="?", const=1, metavar="N", help="N places later (1)")
    g.add_argument("--before", metavar="ID", help="just before that job")
    g.add_argument("--after", metavar="ID", help="just after that job")
    g.add_argument("--queue", type=ck.queue, metavar="Q", help="to another queue, placed as a submit would")

    for name, help in (("cancel", "cancel jobs (a running job is stopped by its runner; jobs waiting "
                                  "--after it are cancelled with it)"),
                       ("hold", "hold waiting jobs: they keep their place and are skipped"),
                       ("release", "release held jobs"),
                       ("retry", "queue finished jobs again as a new attempt")):
        c = cmd(name, help)
        c.add_argument("ids", nargs="+", metavar="ID", help=ID_HELP)
        if name == "retry":
            c.add_argument("--with-dependents", action="store_true",
                           help="also put back the jobs that were cancelled because this one failed, in their "
                                "old places, waiting on the new attempt")
    w = cmd("wait", "wait until jobs have ended; exit 0 if all succeeded, 1 if one did not or on --timeout")
    w.add_argument("ids", nargs="+", metavar="ID", help=ID_HELP)
    w.add_argument("--timeout", type=ck.positive_seconds, metavar="D", help="give up after this long (30s, 5m, 2h): exit 1")
    w.add_argument("--json", action="store_true", help="print the jobs as JSON once they have ended (or at --timeout)")

    # -- set (issue 10 item 12; handler in edit_command.py) --
    st = cmd("set", "change waiting jobs: priority, name, labels, required runner labels, timeout")
    st.add_argument("ids", nargs="+", metavar="ID", help=ID_HELP)
    st.add_argument("--priority", "-p", type=ck.priority, metavar="P",
                    help="integer, higher runs sooner; or low, normal, high, urgent (the job goes behind "
                         "the waiting jobs of the same or higher priority, as a submit would place it)")
    st.add_argument("--name", "-n", type=ck.new_name, metavar="N", help="what people see")
    st.add_argument("--label", action="append", type=ck.label, default=None, metavar="K=V",
                    help="set a label (repeatable); K= removes it")
    st.add_argument("--requires", action="append", type=ck.runner_label, default=None, metavar="L",
                    help="a runner label the job needs (repeatable; replaces the job's list)")
    st.add_argument("--timeout", type=ck.positive_seconds, metavar="D", help="stop it after this long (30s, 5m, 2h)")


def add_daemon_commands(cmd: Command) -> None:
    add_runner_options(cmd("runner", "run jobs from the spool"))
    tr = cmd("triggers", "run, list or fire triggers")
    trs = tr.add_subparsers(dest="triggers_command", metavar="ACTION", parser_class=_Parser)
    trs.add_parser("run", help="run every trigger of the spool (the default)")
    trl = trs.add_parser("ls", help="list triggers with last and next firing")
    trl.add_argument("--json", action="store_true", help=JSON_HELP)
    trf = trs.add_parser("fire", help="fire a trigger now")
    trf.add_argument("name", type=ck.trigger, help="the trigger (its file's name without .toml)")
    trf.add_argument("--set", action="append", type=ck.setting, default=[], metavar="KEY=VALUE",
                     help="a parameter or job field for this firing (repeatable)")

    add_serve_options(cmd("serve", "run a runner and the triggers as separate, supervised processes"))


# -- operating it on build hosts (issue 13) ----------------------------------------------


def add_serve_options(sv: argparse.ArgumentParser) -> None:
    add_runner_options(sv)
    sv.add_argument("--metrics-textfile", type=Path, metavar="DIR",
                    help="keep DIR/coreflow.prom fresh for node_exporter's textfile collector")
    sv.add_argument("--metrics-every", type=ck.positive_seconds, default=15.0, metavar="DURATION",
                    help="how often to rewrite it (15s)")
    sv.add_argument("--systemd-unit", action="store_true",
                    help="print a systemd service unit that runs this serve command, and exit")
    sv.add_argument("--user", metavar="USER", help="with --systemd-unit: the user the service runs as")
    sv.add_argument("--writable", action="append", default=[], metavar="DIR",
                    help="with --systemd-unit: a directory jobs write to (workspaces), writable under "
                         "ProtectSystem=strict; repeatable")
    sv.add_argument("--stop-timeout", type=ck.positive_seconds, default=3600.0, metavar="DURATION",
                    help="with --systemd-unit: how long a stop may wait for running jobs to finish (1h)")


def add_ops_commands(cmd: Command) -> None:
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
    ru.add_argument("--queues", type=ck.queue_list, default=None, metavar="Q,...",
                    help="queues to serve (default: every queue, including queues added later)")
    ru.add_argument("--slots", type=ck.positive_int, default=None, metavar="N", help="jobs at once (default: CPUs)")
    ru.add_argument("--labels", type=ck.label_list, default="", metavar="L,...", help="labels jobs can require (--requires)")
    ru.add_argument("--lease", type=ck.positive_seconds, default=30.0, metavar="SECONDS",
                    help="silent this long, it counts as lost and its jobs are taken over (30)")
    ru.add_argument("--drain", action="store_true", help="exit once its queues have nothing left for it (it stays "
                    "for jobs whose dependencies other runners run, or whose --at is ahead)")
    ru.add_argument("--requeue-on-stop", action="store_true", help="on SIGTERM requeue running jobs, don't wait")
    ru.add_argument("--work-root", type=Path, default=None, metavar="DIR",
                    help="a job naming no --cwd runs in a directory of its own under DIR, on this host's disk "
                         "(default: $XDG_CACHE_HOME/coreflow/work, else ~/.cache/coreflow/work)")
    ru.add_argument("--keep-workdir", action="store_true",
                    help="keep each job's own directory after it ends (a type's keep_workdir wins)")
