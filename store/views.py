"""The contract's JSON shape of a job and a queue (`ls --json`, `show --json`)."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable
from typing import IO, Any

import msgspec

from .refs import JobView, QueueInfo
from .states import State
from .waiting import Waiting


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return _iso_second(int(t)) + f".{int(t * 1000) % 1000:03d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_second(t: int) -> str:
    """Cached: a listing of 50,000 jobs submitted in bursts formats few distinct seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))


def job_json(v: JobView, waiting: Waiting | None = None, blocks: list[str] | None = None) -> dict[str, Any]:
    """The contract's fields; `blocks`: ids of the jobs waiting for this one (the caller
    looks them up: a plain listing need not)."""
    job = v.job
    res = job.result
    claim = job.claim
    result = None
    if res is not None:
        result = {
            "state": res.state, "exit_code": res.exit_code, "signal": res.signal, "reason": res.reason,
            "started_at": iso(res.started_at), "finished_at": iso(res.finished_at),
            "host": res.host, "runner": res.runner, "by": res.by, "message": res.message or None,
        }
    elif v.state == State.CANCELLED:
        result = {"state": State.CANCELLED, "reason": "cancelled", "exit_code": None, "started_at": None,
                  "finished_at": None, "host": None, "runner": None}
    elif claim is not None and v.state == State.RUNNING:
        result = {"state": State.RUNNING, "exit_code": None, "reason": None, "started_at": iso(claim.claimed_at),
                  "finished_at": None, "host": claim.host, "runner": claim.runner}
    out: dict[str, Any] = {
        "id": job.id,
        "queue": v.queue,
        "state": v.state,
        "position": v.position,
        "type": job.type,
        "name": job.name,
        "priority": job.priority,
        "command": job.command,
        "shell": job.shell,
        "labels": job.labels,
        "requires": job.requires,
        "submitted_at": iso(job.submitted_at),
        "submitted_by": job.submitted_by,
        "trigger": None if job.trigger is None else {
            "name": job.trigger.name, "kind": job.trigger.kind, "detail": job.trigger.detail,
            "fired_at": iso(job.trigger.fired_at)},
        "attempt": job.attempt,
        "max_attempts": job.max_attempts,
        "timeout": job.timeout,
        "result": result,
        "hook": None if job.hook is None else {
            "command": job.hook.command, "exit_code": job.hook.exit_code, "signal": job.hook.signal,
            "error": job.hook.error or None, "started_at": iso(job.hook.started_at),
            "finished_at": iso(job.hook.finished_at), "output": job.hook.output},
        "step": job.step or None,
        "params": job.params,
        "superseded_by": job.superseded_by,
        "after": job.after,
        "after_finished": job.after_finished,
        "not_before": iso(job.not_before),
        "blocks": blocks or [],
    }
    if claim is not None and v.state == State.RUNNING:
        out["host"] = claim.host
        out["runner"] = claim.runner
    if waiting is not None:
        out["reason"] = waiting.reason
        out["ahead"] = waiting.ahead
        out["expected_start"] = iso(time.time() + waiting.eta) if waiting.eta is not None else None
    return out


def queue_json(q: QueueInfo) -> dict[str, Any]:
    return {
        "name": q.name,
        "slots": q.config.slots,
        "paused": q.config.paused,
        State.PENDING: q.pending,
        State.HELD: q.held,
        State.RUNNING: q.running,
        "description": q.config.description,
        "on_finish": q.config.on_finish or None,
        "on_finish_timeout": q.config.on_finish_timeout,
    }


def write_json_list(items: Iterable[Any], out: IO[bytes]) -> None:
    """Write a JSON array one item at a time, byte for byte as json.dumps(list(items),
    indent=2) would (ASCII only: other characters escaped), in memory for one item."""
    first = True
    for item in items:
        text = msgspec.json.format(msgspec.json.encode(item), indent=2)
        if not text.isascii():
            text = _NON_ASCII.sub(_escape, text.decode()).encode()
        out.write((b"[\n  " if first else b",\n  ") + text.replace(b"\n", b"\n  "))
        first = False
    out.write(b"[]\n" if first else b"\n]\n")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _escape(m: re.Match[str]) -> str:
    n = ord(m[0])
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xd800 + (n >> 10):04x}\\u{0xdc00 + (n & 0x3ff):04x}"
