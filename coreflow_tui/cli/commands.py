"""The spool commands of the CLI: each a thin layer over one store function."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import msgspec

import store
from store import JobSpec, Spool, SpoolError, Where
from store.views import job_json, queue_json, write_json_list

from .. import present, wording
from ..fmt import age, duration, fancy_ok, short_id, table
from ..safetext import inert
from ..exits import EXIT_FAIL, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from store.history import History, TypeStats
    from store.waiting import QueueContext, Waiting


STATE_SETS = {
    None: {"pending", "held", "running"},
    "finished": {"succeeded", "failed", "cancelled"},
    "all": {"pending", "held", "running", "succeeded", "failed", "cancelled"},
}


def _open(args: argparse.Namespace) -> Spool:
    return Spool.open(args.spool)


def _dump(obj: Any) -> None:
    import json

    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _err(msg: str) -> None:
    print(f"coreflow: {inert(msg)}", file=sys.stderr)


def _dash() -> str:
    return "—" if fancy_ok() else "-"


def cmd_init(args: argparse.Namespace) -> int:
    spool = Spool.init(args.spool)
    print(spool.root)
    return EXIT_OK


# -- queues ------------------------------------------------------------------------


def cmd_queue(args: argparse.Namespace) -> int:
    spool = _open(args)
    qc = args.queue_command
    if qc == "add":
        spool.add_queue(args.name, slots=args.slots, description=args.description)
        spool.record_queue(args.name, "add", f"slots={args.slots}")
    elif qc == "ls":
        infos = spool.queues()
        if args.json:
            _dump([queue_json(q) for q in infos])
            return EXIT_OK
        rows = [[q.name, str(q.config.slots), "paused" if q.config.paused else "", str(q.pending), str(q.held),
                 str(q.running), q.config.description] for q in infos]
        print(table(["QUEUE", "SLOTS", "PAUSED", "PENDING", "HELD", "RUNNING", "DESCRIPTION"], rows,
                    flex=[6, 0], right=[1, 3, 4, 5]))
    elif qc in ("pause", "resume"):
        spool.update_queue(args.name, qc, paused=qc == "pause")
    elif qc == "set":
        changes = {k: v for k, v in (("slots", args.slots), ("description", args.description)) if v is not None}
        if not changes:
            _err("queue set: give --slots N and/or --description T")
            return EXIT_USAGE
        spool.update_queue(args.name, "set", **changes)
    elif qc == "rm":
        n = spool.remove_queue(args.name, force=args.force)
        print(f"removed queue {args.name}" + (f" and {n} job(s)" if n else ""), file=sys.stderr)
    return EXIT_OK


# -- submit ------------------------------------------------------------------------


def cmd_submit(args: argparse.Namespace) -> int:
    spool = _open(args)
    if args.jsonl:
        if args.cmd:
            _err("submit: give either --jsonl FILE or -- CMD, not both")
            return EXIT_USAGE
        return _submit_jsonl(spool, args.jsonl)
    argv = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not argv:
        _err("submit: no command given: coreflow submit [OPTIONS] -- CMD [ARG...]")
        return EXIT_USAGE
    spec = JobSpec(
        command=" ".join(argv) if args.shell else argv, queue=args.queue, type=args.type, name=args.name or "",
        priority=args.priority, labels=dict(args.label), requires=args.requires, timeout=args.timeout,
        retries=args.retries, cwd=os.path.abspath(args.cwd) if args.cwd else None, env=dict(args.env),
        shell=args.shell,
    )
    (job_id,) = store.submit(spool, [spec])
    if args.json:
        _dump(job_json(spool.show(job_id)))
    else:
        print(job_id)
    return EXIT_OK


def _submit_jsonl(spool: Spool, source: str) -> int:
    try:
        data = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()
    except OSError as exc:
        raise SpoolError(f"cannot read {source}: {exc.strerror}") from None
    decoder = msgspec.json.Decoder(JobSpec)
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
            jobs.append(store.build_job(spool, spec, now=now))
        except SpoolError as exc:
            raise SpoolError(f"{where} line {n}: {exc}; nothing was queued") from None
    ids = store.place(spool, jobs)
    sys.stdout.write("".join(i + "\n" for i in ids))
    return EXIT_OK


# -- listing -----------------------------------------------------------------------


def _contexts(spool: Spool, queues: set[str], history: History | None) -> dict[str, QueueContext]:
    """Why jobs of these queues wait; `history` adds when they should start (it reads
    recent finished jobs of every queue: only for what shows it)."""
    # imported here: only listings need them, and every command's start-up counts
    from store.runners import runners
    from store.waiting import QueueContext

    live = runners(spool)
    return {q: QueueContext.load(spool, q, live, history) for q in queues}


def cmd_ls(args: argparse.Namespace) -> int:
    spool = _open(args)
    states = STATE_SETS.get(args.state) or {args.state}
    # Streamed, one job in memory at a time (50,000 jobs: the text keeps only its cells).
    views = spool.iter_jobs(args.queue, states, warn=lambda w: _err(f"warning: {w}"))
    ctx: dict[str, QueueContext] = {}
    history: list[History] = []  # read at the first waiting job, only for --json: text shows no eta

    def why(v: store.JobView) -> Any:
        if v.position is None:
            return None
        if v.queue not in ctx:
            if args.json and not history:
                from store.history import type_stats

                history.append(type_stats(spool))
            ctx[v.queue] = _contexts(spool, {v.queue}, history[0] if history else None)[v.queue]
        return ctx[v.queue].why(v.job, v.state == "held")

    if args.json:
        sys.stdout.flush()
        write_json_list((job_json(v, why(v)) for v in views), sys.stdout.buffer)
        return EXIT_OK
    rows = []
    now = time.time()
    for v in views:
        j = v.job
        if v.position is not None:
            info = why(v).reason
        elif v.state == "running" and j.claim:
            info = f"{j.claim.host} {duration(now - j.claim.claimed_at)}"
        elif j.result:
            r = j.result
            info = r.reason if r.exit_code is None else wording.code(r)
        else:
            info = ""
        rows.append([v.queue, str(v.position or ""), short_id(j.id), v.state, str(j.priority), j.type or "-",
                     j.name, age(j.submitted_at, now), info])
    if not rows:
        print("no jobs" + (f" in queue {args.queue}" if args.queue else ""), file=sys.stderr)
        return EXIT_OK
    print(table(["QUEUE", "POS", "ID", "STATE", "PRI", "TYPE", "NAME", "AGE", "INFO"], rows,
                flex=[6, 8, 5, 0], right=[1, 4, 7]))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    spool = _open(args)
    from store.history import type_stats

    v = spool.show(args.id)
    history = type_stats(spool)
    wait = None
    if v.position is not None:
        wait = _contexts(spool, {v.queue}, history)[v.queue].why(v.job, v.state == "held")
    if args.json:
        out = job_json(v, wait)
        out["audit"] = [msgspec.to_builtins(a) for a in spool.audit(v.job.id)]
        out["history"] = [msgspec.to_builtins(h) for h in v.job.history]
        _dump(out)
        return EXIT_OK
    print(_show_text(spool, v, wait, history.of(v.job)))
    return EXIT_OK


def _show_text(spool: Spool, v: store.JobView, wait: Waiting | None, stats: TypeStats | None) -> str:
    from store.jobtypes import load_types

    try:
        jt = load_types(spool.layout.types).get(v.job.type or "")
    except SpoolError:
        jt = None  # a broken types.toml (doctor says so) does not hide the job
    cancel = v.state == "running" and spool.cancel_requested(v.queue, v.job.id)
    d = present.JobDetail(v, wait, jt, stats, spool.audit(v.job.id), cancel, time.time())
    return present.text(present.facts(d, dash=_dash()))


# -- changes -----------------------------------------------------------------------


def cmd_move(args: argparse.Namespace) -> int:
    spool = _open(args)
    if args.top:
        where = Where("top")
    elif args.bottom:
        where = Where("bottom")
    elif args.up is not None:
        where = Where("up", args.up)
    elif args.down is not None:
        where = Where("down", args.down)
    elif args.before:
        where = Where("before", other=args.before)
    elif args.after:
        where = Where("after", other=args.after)
    else:
        where = Where("queue", other=args.queue)
    pos = store.move(spool, args.id, where)
    print(f"position {pos}", file=sys.stderr)
    return EXIT_OK


def cmd_change(args: argparse.Namespace) -> int:
    spool = _open(args)
    rc = EXIT_OK
    for ref in args.ids:
        try:
            if args.command == "cancel":
                what = store.cancel(spool, ref)
                msg = "cancel requested (running)" if what == "requested" else "cancelled"
            elif args.command == "hold":
                msg = "held" if store.hold(spool, ref) else "already held"
            elif args.command == "release":
                msg = "released" if store.release(spool, ref) else "not held"
            else:
                msg = f"queued again at position {store.retry(spool, ref)}"
        except SpoolError as exc:
            _err(str(exc))
            rc = EXIT_FAIL
            continue
        print(f"{inert(ref)}: {msg}", file=sys.stderr)
    return rc


def cmd_prune(args: argparse.Namespace) -> int:
    spool = _open(args)
    if args.older_than is None and args.keep is None:
        _err("prune: give --older-than DURATION and/or --keep N")
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
