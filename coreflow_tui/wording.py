"""How a job's facts read, in the one wording `coreflow show` and the TUI's detail pane share:
"attempt 2 (requeued: runner stopped)", "failed (exit 2)", "cancelled by alice@host",
"cannot start: queue paused". Headless: plain strings, no Textual."""

from __future__ import annotations

import math
import re
import signal
import time

from store.history import TypeStats
from store.model import HookOutcome, Job, Result
from store.refs import JobView
from store.waiting import Blocker, Waiting

from .fmt import duration, short_id, when

# Reasons a job went back to its queue that are not its own doing.
REQUEUED = {"runner-lost": "runner lost", "runner-stopped": "runner stopped"}
REASONS = {"timeout": "timed out", "spawn-error": "could not start", "runner-lost": "runner lost",
           "runner-stopped": "runner stopped", "superseded": "superseded by a newer firing"}


_LONG_ID = re.compile(r"\b[0-9a-z]{26}\b")


def _signal_name(sig: int) -> str:
    try:
        return f"signal {sig} ({signal.Signals(sig).name})"
    except ValueError:
        return f"signal {sig}"


def code(r: Result) -> str:
    """How the command ended, the one spelling: 'exit 2', 'signal 15 (SIGTERM)', or ''."""
    if r.exit_code is not None:
        return f"exit {r.exit_code}"
    return _signal_name(r.signal) if r.signal else ""


def ended_info(r: Result) -> str:
    """`ls`'s info of a finished job: 'exit 2', 'timeout', 'dependency 9x2kq7ab failed'."""
    if r.reason == "dependency":
        return outcome(r).partition(": ")[2]
    return r.reason if r.exit_code is None else code(r)


def outcome(r: Result) -> str:
    """'succeeded (exit 0)', 'failed (exit 2)', 'failed (timed out, signal 15 (SIGTERM))',
    'cancelled by alice@host'."""
    if r.reason == "dependency":  # the store's message names the dependency by its full id
        return f"{r.state}: " + _LONG_ID.sub(lambda m: short_id(m[0]), r.message or "dependency failed")
    details = []
    if r.reason not in ("exit", "cancelled"):
        details.append(REASONS.get(r.reason, r.reason))
    if code(r):
        details.append(code(r))
    text = r.state + (f" by {r.by}" if r.by else "")
    return text + (f" ({', '.join(details)})" if details else "")


def hook(h: HookOutcome) -> str:
    """What a finish hook did: 'exit 0', 'exit 3', 'timed out after 30s: killed',
    'could not start: command not found (exit 127)', 'signal 9 (SIGKILL)'."""
    if h.error:
        return h.error
    return f"exit {h.exit_code}" if h.exit_code is not None else _signal_name(h.signal or 0)


def attempt(job: Job) -> str:
    """'1', '2 of 3, after failed (exit 1)', '2 (requeued: runner stopped)'."""
    last = job.history[-1] if job.history and job.attempt > 1 else None
    if last is not None and last.reason in REQUEUED:
        return f"{job.attempt} (requeued: {REQUEUED[last.reason]})"
    text = f"{job.attempt} of {job.max_attempts}" if job.max_attempts >= job.attempt > 0 and \
        job.max_attempts > 1 else str(job.attempt)
    return text + (f", after {outcome(last)}" if last is not None else "")


def history(st: TypeStats) -> str:
    """'typically 4.4s, 80% of 5 runs succeeded'."""
    rate = st.success_rate
    typical = f"typically {duration(st.typical)}" if st.typical is not None else "no successful run yet"
    return f"{typical}, {'-' if rate is None else f'{rate:.0%}'} of {st.runs} runs succeeded"


def expected(w: Waiting, now: float) -> str:
    """When a waiting job should start, or what stops it, or why nobody can tell."""
    if w.blocked:
        return f"cannot start: {w.reason}"
    if w.eta is None:
        return f"unknown ({w.unknown})"
    if w.eta < 1:
        return "any moment"
    return f"to start in ~{duration(w.eta)} (about {when(now + w.eta)})"


# -- pipelines (issue 11): what a job waits for, when it starts, how it ended ------------


def dependency(b: Blocker) -> str:
    """'9x2kq7ab (build, running)': a job waited on, by its short id, name and state."""
    return f"{short_id(b.id)} ({b.name}, {b.state})" if b.state else f"{short_id(b.id)} (gone)"


def waits_for(blockers: list[Blocker]) -> str:
    """'waits for 9x2kq7ab (build, running)', 'waits for 3 jobs'."""
    if len(blockers) == 1:
        return f"waits for {dependency(blockers[0])}"
    return f"waits for {len(blockers)} jobs"


def starts_at(t: float, now: float) -> str:
    """'starts at 14:00 (in 9m)'; the date too when it is not today."""
    local, today = time.localtime(t), time.localtime(now)
    clock = time.strftime("%H:%M" if local[:3] == today[:3] else "%Y-%m-%d %H:%M", local)
    return f"starts at {clock} (in {span(t - now)})"


def span(seconds: float) -> str:
    """'9m', '1h30m', '2d3h', '40s': a wait in at most two units, rounded up to the minute
    past a minute (people read 'in 9m' at 8m20s left)."""
    s = max(0, math.ceil(seconds))
    if s < 60:
        return f"{s}s"
    m = math.ceil(s / 60)
    if m < 60:
        return f"{m}m"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m" if m else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d{h}h" if h else f"{d}d"


def reason(w: Waiting, now: float) -> str:
    """Why a waiting job has not started, the one wording of `ls`, `show` and the TUI:
    held first, then what it waits on (jobs, then a time), then its queue's reason."""
    return reasons(w, now)[0]


def reasons(w: Waiting, now: float) -> list[str]:
    """`reason` and its shorter forms, longest first, for a column that may be narrow:
    'waits for 9x2kq7ab (build, running)', 'waits for 9x2kq7ab (running)', '9x2kq7ab (running)'."""
    if w.deps is not None and w.reason != "held":
        if w.deps.waits_for:
            out = [waits_for(w.deps.waits_for)]
            if len(w.deps.waits_for) == 1 and (b := w.deps.waits_for[0]).state:
                out += [f"waits for {short_id(b.id)} ({b.state})", f"{short_id(b.id)} ({b.state})"]
            return out
        if w.deps.not_before:
            return [starts_at(w.deps.not_before, now)]
    return [w.reason, w.brief] if w.brief else [w.reason]


def ended(v: JobView) -> str:
    """How a finished job ended: 'failed (exit 2)', 'cancelled: dependency 9x2kq7ab failed'."""
    if v.job.result is not None:
        return outcome(v.job.result)
    return v.state
