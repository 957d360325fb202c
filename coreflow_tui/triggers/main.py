"""`coreflow triggers [run | ls [--json] | fire NAME [--set KEY=VALUE]...]`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import Any

from store import JobNotFound, Spool
from store.triggers import fire_by_hand, load_trigger, load_triggers, next_firing, read_state
from store.triggers.daemons import daemons
from store.views import iso

from ..fmt import age, duration, short_id, table
from ..safetext import inert
from ..exits import EXIT_FAIL, EXIT_OK



def cmd_triggers(args: argparse.Namespace) -> int:
    action = getattr(args, "triggers_command", None) or "run"
    spool = Spool.open(args.spool)
    if action == "ls":
        return _ls(spool, args.json)
    if action == "fire":
        return _fire(spool, args.name, args.set)
    return _run(spool)


def _run(spool: Spool) -> int:
    from store.preflight import check_safe

    from .daemon import TriggerDaemon

    check_safe(spool, [], refusing="to fire triggers")

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    TriggerDaemon(spool).run(stop)
    return EXIT_OK


def _fire(spool: Spool, name: str, sets: list[str]) -> int:
    d = load_trigger(spool, name)
    fired = fire_by_hand(spool, d, sets)
    print("\n".join(fired.job_ids or [str(fired.job_id)]))  # a pipeline: one id a line, in step order
    extra = f", replacing {fired.replaced} (coalesced)" if fired.replaced else ""
    print(f"fired {name}: job {fired.job_id}{extra}", file=sys.stderr)
    return EXIT_OK


def _job_state(spool: Spool, job_id: str | None) -> str | None:
    if not job_id:
        return None
    try:
        return spool.find(job_id).state
    except JobNotFound:
        return "gone"


def _ls(spool: Spool, as_json: bool) -> int:
    loaded = load_triggers(spool)
    now = time.time()
    rows: list[dict[str, Any]] = []
    for name in sorted({*loaded.triggers, *loaded.errors}):
        state = read_state(spool, name)
        d = loaded.triggers.get(name)
        row: dict[str, Any] = {
            "name": name, "kind": d.kind if d else None, "enabled": d.enabled if d else None,
            "schedule": d.describe() if d and d.by_clock else None,
            "path": str(d.watch_path) if d and d.watch_path else None,
            "patterns": list(d.patterns) if d and d.by_files else None,
            "coalesce": d.coalesce if d else None,
            "coalesce_key": d.coalesce_key or None if d else None,
            "repo": str(d.git_dir) if d and d.git_dir else None,
            "refs": list(d.ref_patterns) if d and d.by_refs else None,
            "description": d.spec.description if d else None,
            "last_fired_at": iso(state.last_fired_at), "next_at": iso(next_firing(d, state, now)) if d else None,
            "last_job": state.last_job, "last_job_state": _job_state(spool, state.last_job),
            "last_detail": state.last_detail or None, "fired": state.fired, "skipped": state.skipped,
            "error": loaded.errors.get(name),
        }
        row["_last"], row["_next"] = state.last_fired_at, next_firing(d, state, now) if d else None
        row["_what"] = d.describe() if d else ""
        rows.append(row)
    bad = [r["error"] for r in rows if r["error"]]
    if as_json:
        sys.stdout.write(json.dumps([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
                                    indent=2) + "\n")
    elif not rows:
        print(f"no triggers in {spool.layout.triggers}", file=sys.stderr)
    else:
        print(_table(rows, now))
        if any(d.needs_daemon for d in loaded.triggers.values()):
            print(inert(_daemon_line(spool)))
    # A broken trigger file makes the listing exit 1 (as `doctor` does): scripts notice.
    for error in bad:
        print(f"coreflow: {inert(error)}", file=sys.stderr)
    return EXIT_FAIL if bad else EXIT_OK


def _daemon_line(spool: Spool) -> str:
    """Whether anything fires these triggers: a trigger daemon running, or when one last did."""
    seen = daemons(spool)
    if seen and seen[0].alive:
        return f"trigger daemon: running {seen[0].describe()}"
    last = f" (last seen {duration(seen[0].age)} ago {seen[0].describe()})" if seen else ""
    return f"trigger daemon: none running{last}; start `coreflow triggers run` (or `coreflow serve`)"


def _table(rows: list[dict[str, Any]], now: float) -> str:
    lines = []
    for r in rows:
        nxt = r["_next"]
        lines.append([
            r["name"], r["kind"] or "ERROR", r["_what"] if not r["error"] else "(a bad file: see below)",
            f"{age(r['_last'], now)} ago" if r["_last"] else "never",
            ("in " + duration(nxt - now)) if nxt else ("-" if r["enabled"] is not False else "disabled"),
            short_id(r["last_job"]) if r["last_job"] else "-", r["last_job_state"] or "-",
        ])
    return table(["TRIGGER", "KIND", "SCHEDULE/PATHS", "LAST FIRED", "NEXT", "LAST JOB", "STATE"], lines,
                 flex=[2])
