"""The spool commands of the CLI that change it: each a thin layer over one store function.

Only what these commands use is imported: a `coreflow submit` starts in about the time
Python takes to import msgspec and the store (the listings are in `listing.py`)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import msgspec

import store
from store import Spool, SpoolError

from ..safetext import inert
from ..exits import EXIT_FAIL, EXIT_OK, EXIT_USAGE


def open_spool(args: argparse.Namespace) -> Spool:
    return Spool.open(args.spool)


def print_json(obj: Any) -> None:
    import json

    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def say_error(msg: str) -> None:
    print(f"coreflow: {inert(msg)}", file=sys.stderr)


def cmd_init(args: argparse.Namespace) -> int:
    spool = Spool.init(args.spool)
    print(spool.root)
    return EXIT_OK


# -- submit ------------------------------------------------------------------------


def cmd_submit(args: argparse.Namespace) -> int:
    spool = open_spool(args)
    if args.jsonl:
        if args.cmd:
            say_error("submit: give either --jsonl FILE or -- CMD, not both")
            return EXIT_USAGE
        return _submit_jsonl(spool, args.jsonl)
    argv = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not argv:
        say_error("submit: no command given: coreflow submit [OPTIONS] -- CMD [ARG...]")
        return EXIT_USAGE
    spec = store.JobSpec(
        command=" ".join(argv) if args.shell else argv, queue=args.queue, type=args.type, name=args.name or "",
        priority=args.priority, labels=dict(args.label), requires=args.requires, timeout=args.timeout,
        retries=args.retries, cwd=os.path.abspath(args.cwd) if args.cwd else None, env=dict(args.env),
        shell=args.shell, **_pipeline(spool, args),
    )
    (job_id,) = store.submit(spool, [spec])
    if args.json:
        from store.views import job_json

        print_json(job_json(spool.show(job_id)))
    else:
        print(job_id)
    return EXIT_OK


def _pipeline(spool: Spool, args: argparse.Namespace) -> dict[str, Any]:
    """The spec's dependency and start fields: ids found as other commands find them (an
    unknown or ambiguous one is refused naming the option), --at/--in as epoch seconds."""
    out: dict[str, Any] = {}
    for option, refs in (("--after", args.after), ("--after-finished", args.after_finished)):
        ids = []
        for ref in refs:
            try:
                ids.append(spool.find(ref).id)
            except SpoolError as exc:
                raise SpoolError(f"submit {option}: {exc}") from None
        if ids:
            out[option[2:].replace("-", "_")] = list(dict.fromkeys(ids))
    now = time.time()
    start = args.at if args.at is not None else (now + args.start_in if args.start_in is not None else None)
    if start is not None and start > now:  # a time already past means no delay (documented in --help)
        out["not_before"] = start
    return out


def _submit_jsonl(spool: Spool, source: str) -> int:
    try:
        data = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()
    except OSError as exc:
        raise SpoolError(f"cannot read {source}: {exc.strerror}") from None
    decoder = msgspec.json.Decoder(store.JobSpec)
    where = "stdin" if source == "-" else source
    specs = []  # (line number in the input, spec): blank lines are skipped but counted
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            specs.append((n, decoder.decode(line)))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise SpoolError(f"{where} line {n}: {exc}; nothing was queued") from None
    jobs = []
    now = time.time()
    for n, spec in specs:
        try:
            jobs.append(store.build_job(spool, spec, now=now, earlier=jobs))
        except SpoolError as exc:
            raise SpoolError(f"{where} line {n}: {exc}; nothing was queued") from None
    ids = store.place(spool, jobs)
    sys.stdout.write("".join(i + "\n" for i in ids))
    return EXIT_OK


# -- changes -----------------------------------------------------------------------


def cmd_move(args: argparse.Namespace) -> int:
    spool = open_spool(args)
    if args.top:
        where = store.Where("top")
    elif args.bottom:
        where = store.Where("bottom")
    elif args.up is not None:
        where = store.Where("up", args.up)
    elif args.down is not None:
        where = store.Where("down", args.down)
    elif args.before:
        where = store.Where("before", other=args.before)
    elif args.after:
        where = store.Where("after", other=args.after)
    else:
        where = store.Where("queue", other=args.queue)
    pos = store.move(spool, args.id, where)
    print(f"position {pos}", file=sys.stderr)
    return EXIT_OK


def cmd_change(args: argparse.Namespace) -> int:
    spool = open_spool(args)
    rc = EXIT_OK
    for ref in args.ids:
        try:
            if args.command == "cancel":
                msg = _cancel(spool, ref)
            elif args.command == "hold":
                msg = "held" if store.hold(spool, ref) else "already held"
            elif args.command == "release":
                msg = "released" if store.release(spool, ref) else "not held"
            elif getattr(args, "with_dependents", False):
                msg = f"queued again at position {store.retry(spool, ref, with_dependents=True)}, with its dependents"
            else:
                msg = f"queued again at position {store.retry(spool, ref)}"
        except SpoolError as exc:
            say_error(str(exc))
            rc = EXIT_FAIL
            continue
        print(f"{inert(ref)}: {msg}", file=sys.stderr)
    return rc


def _cancel(spool: Spool, ref: str) -> str:
    """Cancel one job; say how many waiting jobs go with it (now, or when a running one ends)."""
    from store.chain import cancelled_with

    with_it = len(cancelled_with(spool, [spool.find(ref).id]))
    requested = store.cancel(spool, ref) == "requested"
    msg = "cancel requested (running)" if requested else "cancelled"
    if with_it:
        jobs = f"{with_it} waiting job{'s' if with_it > 1 else ''} that depend{'s' if with_it == 1 else ''} on it"
        msg += f"; {jobs} {'will be cancelled when it ends' if requested else 'cancelled with it'}"
    return msg


def cmd_prune(args: argparse.Namespace) -> int:
    spool = open_spool(args)
    if args.older_than is None and args.keep is None:
        say_error("prune: give --older-than DURATION and/or --keep N")
        return EXIT_USAGE
    n = store.prune(spool, older_than=args.older_than, keep=args.keep)
    print(f"pruned {n} finished job(s)", file=sys.stderr)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from store.doctor import diagnose, needs_attention

    findings = diagnose(args.spool)
    for f in findings:
        print(f"{f.level:5}  {inert(f.what)}" + (f"\n       -> {inert(f.advice)}" if f.advice else ""))
    # A script trusts the exit status: 0 only when every check is ok.
    return EXIT_FAIL if needs_attention(findings) else EXIT_OK
