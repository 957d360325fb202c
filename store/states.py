"""The job state machine: every state a job can be in, and which are waiting or final.

A state is where a job's file lies (pending/ held in pending/, running/, done/) and,
for a finished job, the last word of its done/ name. `State` is a `StrEnum`, so it is
the same string on disk, in JSON and in the CLI contract.
"""

from __future__ import annotations

import enum


class State(enum.StrEnum):
    PENDING = "pending"
    HELD = "held"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Waiting: the job lies in pending/ (held keeps its place and is skipped).
WAITING: frozenset[State] = frozenset({State.PENDING, State.HELD})
# Final: the job lies in done/ and the state is the last word of its name.
FINAL: frozenset[State] = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})
# Not finished: waiting or running.
LIVE: frozenset[State] = WAITING | {State.RUNNING}
ALL: frozenset[State] = frozenset(State)

# The state directories of a queue, in the order a job passes them.
PENDING_DIR, RUNNING_DIR, DONE_DIR = "pending", "running", "done"
STATE_DIRS = (PENDING_DIR, RUNNING_DIR, DONE_DIR)


def final_alternation() -> str:
    """The final states as a regex alternation, for the done/ name grammar."""
    return "|".join(s.value for s in State if s in FINAL)
