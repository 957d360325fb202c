"""The CLI's listings: `coreflow queue`, `ls` and `show` (tables, JSON, the job's facts)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

import msgspec

import store
from store import Spool, SpoolError
from store.views import job_json, queue_json, write_json_list

from .. import present, wording
from ..fmt import age, duration, fancy_ok, short_id, table
from ..exits import EXIT_OK, EXIT_USAGE
from .commands import open_spool, print_json, say_error

if TYPE_CHECKING:
    from store.history import History, TypeStats
    from store.waiting import Blocker, QueueContext, Waiting


STATE_SETS = {
    None: {"pending", "held", "running"},
    "finished": {"succeeded", "failed", "cancelled"},
    "all": {"pending", "held", "running", "succeeded", "failed", "cancelled"},
}


def _dash() -> str:
    return "—" if fancy_ok() else "-"


def cmd_queue(args: argparse.Namespace) -> int:
    spool = open_spool(args)
    qc = args.queue_command
    if qc == "add":
        spool.add_queue(args.name, slots=args.slots, description=args.description)
        spool.record_queue(args.name, "add", f"slots={args.slots}")
    elif qc == "ls":
        infos = spool.queues()
        if args.json:
            print_json([queue_json(q) for q in infos])
            return EXIT_OK
        rows = [[q.name, str(q.config.slots), "paused" if q.config.paused else "", str(q.pending), str(q.held),
                 str(q.running), q.config.description] for q in infos]
        head = ["QUEUE", "SLOTS", "PAUSED", "PENDING", "HELD", "RUNNING", "DESCRIPTION"]
        if any(q.config.on_finish for q in infos):  # a column only where a queue has a hook
            head.append("ON FINISH")
            for row, q in zip(rows, infos):
                row.append(q.config.on_finish)
        print(table(head, rows, flex=[6, 0] if len(head) == 7 else [7, 6, 0], right=[1, 3, 4, 5]))
    elif qc == "show":
        _show_queue(spool.queue_info(args.name))
    elif qc in ("pause", "resume"):
        spool.update_queue(args.name, qc, paused=qc == "pause")
    elif qc == "set":
        changes = {k: v for k, v in (("slots", args.slots), ("description", args.description),
                                     ("on_finish", args.on_finish), ("on_finish_timeout", args.on_finish_timeout))
                   if v is not None}
        if not changes:
            say_error("queue set: give --slots N, --description T, --on-finish CMD or --on-finish-timeout D")
            return EXIT_USAGE
        spool.update_queue(args.name, "set", **changes)
    elif qc == "rm":
        n = spool.remove_queue(args.name, force=args.force)
        print(f"removed queue {args.name}" + (f" and {n} job(s)" if n else ""), file=sys.stderr)
    return EXIT_OK


def _show_queue(q: store.QueueInfo) -> None:
    """`queue show`: a queue's settings and counts, one fact a line (values inert)."""
    from store.limits import HOOK_TIMEOUT

    from ..safetext import inert

    c = q.config
    hook = f"{c.on_finish} (killed after {duration(c.on_finish_timeout or HOOK_TIMEOUT)})" \
        if c.on_finish else "none"
    for key, value in (("queue", q.name), ("slots", str(c.slots)), ("paused", "yes" if c.paused else "no"),
                       ("description", c.description or "-"), ("pending", str(q.pending)), ("held", str(q.held)),
                       ("running", str(q.running)), ("on finish", hook)):
        print(f"{key:<12} {inert(value)}")


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
    spool = open_spool(args)
    states = STATE_SETS.get(args.state) or {args.state}
    # Streamed, one job in memory at a time (50,000 jobs: the text keeps only its cells).
    views = spool.iter_jobs(args.queue, states, warn=lambda w: say_error(f"warning: {w}"))
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

    now = time.time()
    if args.json:
        from store.chain import Waiters

        waiters = Waiters(spool)
        sys.stdout.flush()
        write_json_list((_json(v, why(v), waiters.ids(v.job.id), now) for v in views),
                        sys.stdout.buffer)
        return EXIT_OK
    rows = []
    for v in views:
        j = v.job
        if v.position is not None:
            info = wording.reason(why(v), now)
        elif v.state == "running" and j.claim:
            info = f"{j.claim.host} {duration(now - j.claim.claimed_at)}"
        elif j.result:
            r = j.result
            info = wording.ended_info(r)
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


def _json(v: store.JobView, wait: Waiting | None, blocks: list[str], now: float) -> dict[str, Any]:
    """The contract's JSON of a job, its reason in the words `ls` and `show` print."""
    out = job_json(v, wait, blocks)
    if wait is not None:
        out["reason"] = wording.reason(wait, now)
    return out


def cmd_show(args: argparse.Namespace) -> int:
    spool = open_spool(args)
    from store.history import type_stats

    v = spool.show(args.id)
    history = type_stats(spool)
    wait = None
    if v.position is not None:
        wait = _contexts(spool, {v.queue}, history)[v.queue].why(v.job, v.state == "held")
    if args.json:
        from store.chain import Waiters

        out = _json(v, wait, Waiters(spool).ids(v.job.id), time.time())
        out["audit"] = [msgspec.to_builtins(a) for a in spool.audit(v.job.id)]
        out["history"] = [msgspec.to_builtins(h) for h in v.job.history]
        print_json(out)
        return EXIT_OK
    from store.chain import chain

    print(_show_text(spool, v, wait, history.of(v.job), chain(spool, v.job)))
    return EXIT_OK


def _show_text(spool: Spool, v: store.JobView, wait: Waiting | None, stats: TypeStats | None,
               links: tuple[list[Blocker], list[Blocker], int]) -> str:
    from store.jobtypes import load_types

    try:
        jt = load_types(spool.layout.types).get(v.job.type or "")
    except SpoolError:
        jt = None  # a broken types.toml (doctor says so) does not hide the job
    cancel = v.state == "running" and spool.cancel_requested(v.queue, v.job.id)
    d = present.JobDetail(v, wait, jt, stats, spool.audit(v.job.id), cancel, time.time(), *links)
    return present.text(present.facts(d, dash=_dash()))
