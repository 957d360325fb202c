"""Shell completion through argcomplete: `coreflow completion bash|zsh|fish` prints the
script; the shell then runs `coreflow` itself with argcomplete's environment protocol
(`_ARGCOMPLETE=1`, `COMP_LINE`, `COMP_POINT`) and `cli.main` hands over to `autocomplete`.

argcomplete rather than a static generator (shtab): job ids and queue names come from
the spool in use (`--spool` on the line being completed, else COREFLOW_SPOOL), so the
completions have to be computed when TAB is pressed. Candidates come from directory
listings alone; names are read from job files only for the shells that show them
(zsh, fish), and only for the first few candidates that match.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable

import argcomplete

from store import JobRef, Spool, SpoolError

from ..safetext import inert

DESCRIBE_MAX = 40  # job files read per TAB for their names: a menu of more is not read by anyone
Completer = Callable[..., Iterable[str] | dict[str, str]]


def cmd_completion(args: argparse.Namespace) -> int:
    sys.stdout.write(argcomplete.shellcode(["coreflow"], shell=args.shell))
    return 0


class _Finder(argcomplete.CompletionFinder):
    def filter_completions(self, completions: list[str]) -> list[str]:
        # argcomplete's own de-duplicates through a list (quadratic: 0.5 s for 10,000 ids)
        return list(dict.fromkeys(completions))


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request and exit (argcomplete's protocol)."""
    attach(parser)
    _Finder()(parser, always_complete_options=False)


def attach(parser: argparse.ArgumentParser) -> None:
    """Give each spool-valued argument of every command its completer."""
    for command, sub in _commands(parser):
        for action in sub._actions:
            completer = _completer_for(command, action)
            if completer is not None:
                action.completer = completer  # type: ignore[attr-defined]


def _commands(parser: argparse.ArgumentParser, path: str = "") -> Iterable[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}".strip())


def _completer_for(command: str, action: argparse.Action) -> Completer | None:
    dest = action.dest
    if dest in ("queue", "queues") or (command.startswith("queue ") and dest == "name"):
        return _queues
    if command == "triggers fire" and dest == "name":
        return _triggers
    if command == "submit" and dest == "type":
        return _types
    states = _ID_STATES.get(command)
    if states and dest in ("id", "ids", "before", "after"):
        return _jobs(states)
    return None


_WAITING_OR_RUNNING = ("running", "pending", "held")
_ID_STATES = {
    "show": _WAITING_OR_RUNNING, "logs": _WAITING_OR_RUNNING, "cancel": _WAITING_OR_RUNNING,
    "move": ("pending", "held"), "hold": ("pending",), "release": ("held",),
}


def _spool(parsed_args: argparse.Namespace) -> Spool | None:
    from coreflow_tui.cli import default_spool

    try:
        return Spool.open(getattr(parsed_args, "spool", None) or default_spool())
    except SpoolError:
        return None


def _queues(prefix: str, parsed_args: argparse.Namespace, action: argparse.Action, **_: object) -> list[str]:
    spool = _spool(parsed_args)
    if spool is None:
        return []
    if action.dest == "queues":  # Q1,Q2,...: complete the last one
        head, _sep, last = prefix.rpartition(",")
        done = set(head.split(","))
        return [f"{head},{q}" if head else q for q in spool.queue_names() if q.startswith(last) and q not in done]
    return [q for q in spool.queue_names() if q.startswith(prefix)]


def _triggers(prefix: str, parsed_args: argparse.Namespace, **_: object) -> list[str]:
    from store.triggers import trigger_files  # croniter and zoneinfo: only when triggers are completed

    spool = _spool(parsed_args)
    return [] if spool is None else [t for t in trigger_files(spool) if t.startswith(prefix)]


def _types(prefix: str, parsed_args: argparse.Namespace, **_: object) -> dict[str, str]:
    from store.jobtypes import load_types

    spool = _spool(parsed_args)
    try:
        types = load_types(spool.layout.types) if spool else {}
    except SpoolError:
        return {}
    return {name: inert(t.description) for name, t in types.items() if name.startswith(prefix)}


def _jobs(states: tuple[str, ...]) -> Completer:
    def complete(prefix: str, parsed_args: argparse.Namespace, **_: object) -> dict[str, str]:
        spool = _spool(parsed_args)
        if spool is None:
            return {}
        prefix = prefix.lower()
        out: dict[str, str] = {}
        describe = DESCRIBE_MAX if os.environ.get("_ARGCOMPLETE_SHELL") in ("zsh", "fish") else 0
        for q in spool.queue_names():
            # From names alone (10,000 refs with their paths would cost 0.1 s); refs only to describe.
            if "running" in states:
                for r in spool.refs(q, {"running"}):
                    if r.id.startswith(prefix):
                        out[r.id] = _describe(spool, r) if len(out) < describe else ""
            for p in spool.pending(q):
                if p.state in states and p.id.startswith(prefix):
                    out[p.id] = _describe(spool, spool.pending_ref(q, p)) if len(out) < describe else ""
        return out
    return complete


def _describe(spool: Spool, ref: JobRef) -> str:
    """`name (queue, state)` of a job, inert: names are chosen by whoever submitted."""
    try:
        job = spool.read(ref, cache=False)
    except SpoolError:
        return ""
    what = job.name or " ".join(job.command)
    return inert(f"{what[:60]} ({ref.queue}, {ref.state})")
