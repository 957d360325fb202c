"""The data model: msgspec Structs for everything the spool stores, and their codec.

Job files are JSON (operators `cat`, `grep` and `jq` a spool at 3 a.m.). Fields a
newer minor version adds are kept when a job is rewritten (see `encode_job`).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import msgspec

from .errors import CorruptJob

JOB_VERSION = 1


class Trigger(msgspec.Struct, omit_defaults=True):
    name: str
    kind: str  # manual | schedule | watch | submit
    detail: str = ""  # what fired it: the time slot, changed paths, who fired it by hand
    fired_at: float | None = None


class Result(msgspec.Struct, omit_defaults=True):
    state: str  # succeeded | failed | cancelled
    reason: str  # exit | timeout | cancelled | runner-lost | spawn-error | superseded
    exit_code: int | None = None
    signal: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    host: str | None = None
    runner: str | None = None
    attempt: int = 1
    by: str | None = None  # who cancelled it
    message: str = ""


class HookOutcome(msgspec.Struct, omit_defaults=True):
    """What a finish hook (queue on_finish / type on_finish) did: never changes the job."""

    command: str
    exit_code: int | None = None
    signal: int | None = None
    error: str = ""  # could not start, or timed out
    started_at: float | None = None
    finished_at: float | None = None
    output: str = ""  # its combined output, cut to a few KiB (limits.MAX_HOOK_OUTPUT)
    attempt: int = 1  # the attempt whose end started it


class Claim(msgspec.Struct, omit_defaults=True):
    runner: str
    host: str
    pid: int
    claimed_at: float
    rank: str = ""  # the pending position it came from, to requeue it in place
    priority: int = 0
    held: bool = False


class Job(msgspec.Struct, omit_defaults=True):
    id: str
    queue: str
    command: list[str]
    name: str = ""
    type: str | None = None
    shell: bool = False
    cwd: str | None = None
    env: dict[str, str] = {}
    priority: int = 0
    labels: dict[str, str] = {}
    requires: list[str] = []
    timeout: float | None = None
    max_attempts: int = 1
    submitted_at: float = 0.0
    submitted_by: str = ""
    trigger: Trigger | None = None
    attempt: int = 1
    lost: int = 0  # times a lost runner gave it back
    claim: Claim | None = None
    result: Result | None = None
    history: list[Result] = []  # results of earlier attempts
    superseded_by: str | None = None
    # Pipelines (issue 11). A job with after/after_finished/not_before waits until they hold.
    after: list[str] = []  # job ids that must succeed first (any queue)
    after_finished: list[str] = []  # job ids that must end first, whatever the outcome
    not_before: float | None = None  # epoch seconds: not started before then
    step: str = ""  # its step name in a pipeline (a --jsonl batch or a trigger's [[jobs]])
    params: dict[str, str] = {}  # inputs (a trigger's {ref}, {new}...): COREFLOW_PARAM_* when run
    coalesce: str = ""  # coalescing key: a newer job with the same key supersedes it while waiting
    hook: HookOutcome | None = None  # the finish hook's outcome, once it ran
    v: int = JOB_VERSION


class Audit(msgspec.Struct, omit_defaults=True):
    at: float
    actor: str
    action: str
    detail: str = ""


class QueueConfig(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    slots: int = 4
    paused: bool = False
    description: str = ""
    created_at: float = 0.0
    on_finish: str = ""  # a shell command the runner starts after each job's result (finish hook)
    on_finish_timeout: float | None = None  # its time limit in seconds (limits.HOOK_TIMEOUT when unset)


class SpoolMeta(msgspec.Struct):
    format: int
    created_at: float = 0.0
    created_by: str = ""


class Heartbeat(msgspec.Struct, omit_defaults=True):
    id: str
    host: str
    pid: int
    queues: list[str]
    slots: int
    labels: list[str] = []
    every: bool = False  # serves every queue, including queues added after this beat...
    refused: list[str] = []  # ...but these, found unsafe (see claims.check_safe)
    lease: float = 30.0
    started_at: float = 0.0
    busy: list[str] = []
    stopping: bool = False
    scope: str = ""  # boot id/device (runners.lock_scope): with the same one, runners/ID.lock tells liveness


class CancelRequest(msgspec.Struct):
    by: str
    at: float


_encoder = msgspec.json.Encoder()


@functools.cache
def _job_decoder() -> msgspec.json.Decoder[Job]:
    """Made on first use: building it costs a fifth of a millisecond that a submit, which
    decodes no job, need not pay."""
    return msgspec.json.Decoder(Job)


_known = set(Job.__struct_fields__)


def encode_job(job: Job, original: bytes | None = None) -> bytes:
    """Encode a job; when rewriting, keep top-level fields a newer minor version added."""
    data = _encoder.encode(job)
    if original is None:
        return data
    try:
        raw = msgspec.json.decode(original)
    except msgspec.DecodeError:
        return data
    extra = {k: v for k, v in raw.items() if k not in _known} if isinstance(raw, dict) else {}
    if not extra:
        return data
    merged = msgspec.json.decode(data)
    merged.update(extra)
    return _encoder.encode(merged)


def decode_job(data: bytes, what: str = "job file") -> Job:
    try:
        job = _job_decoder().decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CorruptJob(f"{what} cannot be decoded: {exc}") from None
    if job.v > JOB_VERSION:
        raise CorruptJob(f"{what} is job format {job.v}, newer than this coreflow ({JOB_VERSION}): upgrade coreflow")
    return job


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def decode(data: bytes, type: Any, what: str) -> Any:
    try:
        return msgspec.json.decode(data, type=type)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CorruptJob(f"{what} cannot be decoded: {exc}") from None
    except RecursionError:  # an untyped field holding [[[[...]]]]: msgspec recurses in Python
        raise CorruptJob(f"{what} cannot be decoded: nested too deeply") from None


_actor: str | None = None


def actor() -> str:
    """user@host of this process: who did a change, for the audit trail."""
    global _actor
    if _actor is None:
        # getpass.getuser()'s order, without importing getpass (termios) and socket
        user = next((v for k in ("LOGNAME", "USER", "LNAME", "USERNAME") if (v := os.environ.get(k))), None)
        if user is None:
            try:
                import pwd

                user = pwd.getpwuid(os.getuid()).pw_name
            except (KeyError, OSError):
                user = "unknown"
        _actor = f"{user}@{os.uname().nodename}"
    return _actor
