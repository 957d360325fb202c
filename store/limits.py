"""Every size limit of the spool, in one place, and the checks that enforce them.

A limit is checked where data enters (a submit, `queue set`, a config file read), so
nothing is accepted that a later reader would refuse.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from .errors import ConfigError, SpoolError

KiB = 1024
MiB = 1024 * KiB

# A job file larger than this is not a job (a reader quarantines it).
MAX_JOB_BYTES = 4 * MiB
# What a submit may write: well below MAX_JOB_BYTES, so results and retries still fit.
MAX_SUBMIT_BYTES = 1 * MiB
# argv and environment together must fit the kernel's exec limit (ARG_MAX, 2 MiB on Linux).
MAX_COMMAND_BYTES = 256 * KiB
MAX_ENV_BYTES = 256 * KiB
MAX_ENV_VARS = 1000
MAX_NAME_CHARS = 200
MAX_LABELS = 64
MAX_LABEL_VALUE_CHARS = 1000

# Small JSON files of the spool.
MAX_META_BYTES = 64 * KiB  # spool.json, queue.json, a cancel request
MAX_DESCRIPTION_CHARS = 1000
MIN_SLOTS, MAX_SLOTS = 1, 10_000

# TOML files people write: types.toml, triggers/NAME.toml.
MAX_TOML_BYTES = 1 * MiB
MAX_TOML_DEPTH = 8

# Finish hooks (queue.json on_finish, types.toml on_finish): the command, its time limit, what is kept of its output.
MAX_HOOK_COMMAND_CHARS = 4000
HOOK_TIMEOUT = 30.0
MAX_HOOK_TIMEOUT = 3600.0
MAX_HOOK_OUTPUT = 4 * KiB

# The part of an audit trail (or a log, per read) that is read at once.
MAX_AUDIT_BYTES = 1 * MiB


def _size(what: str, got: int, limit: int, unit: str, fix: str) -> None:
    if got > limit:
        raise SpoolError(f"{what} is {got} {unit}, more than the limit of {limit}: {fix}")


def check_job_fields(command: list[str], env: dict[str, str], name: str, labels: dict[str, str],
                     requires: list[str]) -> None:
    """The size limits of a job's parts, checked at submit (one clear error each)."""
    _size("the command", sum(len(a.encode("utf-8", "surrogatepass")) + 1 for a in command), MAX_COMMAND_BYTES,
          "bytes", "put long input in a file and pass its path")
    _size("the environment", len(env), MAX_ENV_VARS, "variables", "pass fewer variables")
    _size("the environment", sum(len(k.encode("utf-8", "surrogatepass")) + len(v.encode("utf-8", "surrogatepass"))
                                 + 2 for k, v in env.items()), MAX_ENV_BYTES, "bytes",
          "pass large values in a file instead")
    if len(name) > MAX_NAME_CHARS or "\n" in name:
        raise SpoolError(f"name must be one line of at most {MAX_NAME_CHARS} characters")
    _size("the label set", len(labels) + len(requires), MAX_LABELS, "labels", "use fewer labels")
    for key, value in labels.items():
        _size(f"the value of label {key}", len(value), MAX_LABEL_VALUE_CHARS, "characters", "shorten it")


def check_job_bytes(size: int) -> None:
    _size("the job", size, MAX_SUBMIT_BYTES, "bytes", "shorten its command, environment or labels")


def check_slots(value: object, where: str) -> int:
    """A queue's slots: a whole number MIN_SLOTS..MAX_SLOTS (not a bool, not a float)."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_SLOTS <= value <= MAX_SLOTS:
        raise ConfigError(f"{where}: slots must be a whole number from {MIN_SLOTS} to {MAX_SLOTS}, not {value!r}")
    return value


class _RawQueueConfig(msgspec.Struct, forbid_unknown_fields=False):
    slots: Any = 4
    paused: Any = False
    description: Any = ""
    created_at: Any = 0.0
    on_finish: Any = ""
    on_finish_timeout: Any = None


def check_queue_config(data: bytes, where: str) -> dict[str, Any]:
    """The fields of a queue.json, each checked, naming the file and the value at fault."""
    try:
        raw = msgspec.json.decode(data, type=_RawQueueConfig)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"{where} cannot be decoded: {exc}") from None
    except RecursionError:  # its fields are Any, so [[[[...]]]] is built in Python, one frame a level
        raise ConfigError(f"{where} cannot be decoded: nested too deeply") from None
    check_slots(raw.slots, where)
    if not isinstance(raw.paused, bool):
        raise ConfigError(f"{where}: paused must be true or false, not {raw.paused!r}")
    if not isinstance(raw.description, str) or len(raw.description) > MAX_DESCRIPTION_CHARS:
        raise ConfigError(f"{where}: description must be text of at most {MAX_DESCRIPTION_CHARS} characters")
    at = raw.created_at
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at):
        raise ConfigError(f"{where}: created_at must be a time in seconds, not {at!r}")
    check_hook(raw.on_finish, raw.on_finish_timeout, where)
    return {"slots": raw.slots, "paused": raw.paused, "description": raw.description, "created_at": float(at),
            "on_finish": raw.on_finish, "on_finish_timeout": raw.on_finish_timeout}


def check_hook(command: object, timeout: object, where: str) -> None:
    """A finish hook's command (text, one line, no NUL) and time limit (seconds, or unset)."""
    if not isinstance(command, str) or len(command) > MAX_HOOK_COMMAND_CHARS or "\0" in command \
            or "\n" in command:
        raise ConfigError(f"{where}: on_finish must be one line of at most {MAX_HOOK_COMMAND_CHARS} characters "
                          "(a shell command)")
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_HOOK_TIMEOUT:
        raise ConfigError(f"{where}: on_finish_timeout must be a number of seconds from 0 to {MAX_HOOK_TIMEOUT:g}, "
                          f"not {timeout!r}")


def check_toml_depth(value: object, where: str, depth: int = 0) -> None:
    """Refuse TOML nested deeper than MAX_TOML_DEPTH (tables and arrays), before any
    recursive code (msgspec.convert, our own walkers) meets it."""
    if depth > MAX_TOML_DEPTH:
        raise ConfigError(f"{where}: nested more than {MAX_TOML_DEPTH} levels deep: flatten it")
    if isinstance(value, dict):
        for v in value.values():
            check_toml_depth(v, where, depth + 1)
    elif isinstance(value, list):
        for v in value:
            check_toml_depth(v, where, depth + 1)
