"""`coreflow serve --systemd-unit`: a service unit that runs this very serve command.

The unit is Type=notify (serve says READY once its runner and triggers are up, and pings
the watchdog); KillMode=mixed sends the stop's SIGTERM to serve alone, which drains its
runner, and TimeoutStopSec bounds that drain before systemd kills what is left. The
hardening keeps the runner working: NoNewPrivileges and ProtectSystem=strict leave jobs
the spool, a private /tmp and the directories named with --writable to write to.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

WATCHDOG_SEC = 60


def coreflow_command() -> list[str]:
    """How this coreflow was started: its console script, else `python -m coreflow_tui`."""
    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script) == "coreflow" and os.path.isfile(script):
        return [os.path.abspath(script)]
    return [sys.executable, "-m", "coreflow_tui"]


def quote(word: str) -> str:
    """A word for a unit file's command line or path list: specifiers (%) and variables ($)
    kept literal, quoted when it holds spaces, quotes or backslashes."""
    word = word.replace("%", "%%")
    if any(c in word for c in " \t\"'\\;") or not word:
        word = '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


def exec_quote(word: str) -> str:
    return quote(word).replace("$", "$$")


def unit_text(spool: Path, serve_args: list[str], *, user: str | None, writable: list[Path],
              stop_timeout: float) -> str:
    argv = [*coreflow_command(), "--spool", str(spool), "serve", *serve_args]
    rw = [spool, *writable]
    # A private /tmp would hide a spool (or workspace) that lives in the real one.
    in_tmp = any(p == t or t in p.parents for p in rw for t in (Path("/tmp"), Path("/var/tmp")))
    lines = [
        "# coreflow serve: a runner and the triggers on " + str(spool).replace("\n", " "),
        "# Install: save as /etc/systemd/system/coreflow.service, then",
        "#   systemctl daemon-reload && systemctl enable --now coreflow",
        "[Unit]",
        f"Description=CoreFlow runner and triggers on {quote(str(spool))}",
        "Wants=network-online.target",
        "After=network-online.target remote-fs.target",
        f"RequiresMountsFor={' '.join(quote(str(p)) for p in rw)}",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={' '.join(exec_quote(w) for w in argv)}",
        *([f"User={user}"] if user else []),
        "Environment=PYTHONUNBUFFERED=1",
        "SyslogIdentifier=coreflow",
        "Restart=on-failure",
        "RestartSec=5s",
        "# SIGTERM to serve alone: it drains the runner (running jobs finish), then exits.",
        "KillMode=mixed",
        f"TimeoutStopSec={int(stop_timeout)}s",
        f"WatchdogSec={WATCHDOG_SEC}s",
        "LimitNOFILE=65536",
        "# Hardening that leaves the runner working: jobs may write only the spool, a private",
        "# /tmp and the directories given with --writable (their workspaces).",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ReadWritePaths={' '.join(quote(str(p)) for p in rw)}",
        *(["# No PrivateTmp: the spool or a workspace is in /tmp.", "PrivateTmp=no"] if in_tmp else
          ["PrivateTmp=yes"]),
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectControlGroups=yes",
        "RestrictSUIDSGID=yes",
        "RestrictRealtime=yes",
        "LockPersonality=yes",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def serve_command_args(args: argparse.Namespace, runner_args: list[str]) -> list[str]:
    """The serve options the unit's command line repeats (not the unit-making ones)."""
    out = list(runner_args)
    if args.metrics_textfile is not None:
        out += ["--metrics-textfile", str(args.metrics_textfile.absolute()), "--metrics-every",
                f"{args.metrics_every:g}s"]
    return out


def print_unit(args: argparse.Namespace, spool_root: Path, runner_args: list[str]) -> int:
    writable = [Path(d).absolute() for d in args.writable]
    if args.metrics_textfile is not None:
        writable.append(args.metrics_textfile.absolute())
    sys.stdout.write(unit_text(spool_root, serve_command_args(args, runner_args), user=args.user,
                               writable=writable, stop_timeout=args.stop_timeout))
    return 0
