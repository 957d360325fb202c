"""How a job's facts read, in the one wording `coreflow show` and the TUI's detail pane share:
"attempt 2 (requeued: runner stopped)", "failed (exit 2)", "cancelled by alice@host",
"cannot start: queue paused". Headless: plain strings, no Textual."""

from __future__ import annotations

import signal

from store.history import TypeStats
from store.model import HookOutcome, Job, Result
from store.waiting import Waiting

from .fmt import duration, when

# Reasons a job went back to its queue that are not its own doing.
REQUEUED = {"runner-lost": "runner lost", "runner-stopped": "runner stopped"}
REASONS = {"timeout": "timed out", "spawn-error": "could not start", "runner-lost": "runner lost",
           "runner-stopped": "runner stopped", "superseded": "superseded by a newer firing"}


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


def outcome(r: Result) -> str:
    """'succeeded (exit 0)', 'failed (exit 2)', 'failed (timed out, signal 15 (SIGTERM))',
    'cancelled by alice@host'."""
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
