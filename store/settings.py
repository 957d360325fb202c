"""The spool's housekeeping settings, kept in spool.json under "settings".

    {"format": 1, ..., "settings": {"keep_finished": 1209600.0, "max_log_size": 104857600}}

`keep_finished` (seconds): `serve` prunes finished jobs, with their logs and audit,
older than this, hourly. `max_log_size` (bytes): a runner stops writing a job's log at
this size, with a last line saying so; the job keeps running. Absent: no pruning, and
the runner's own default. Other keys of spool.json are kept as they are when a setting
changes.
"""

from __future__ import annotations

import re

import msgspec

from . import atomic, safeio
from .errors import ConfigError, CorruptJob, InvalidValue, StorageError
from .limits import MAX_META_BYTES
from .locks import locked
from .model import decode, encode
from .names import parse_duration
from .spool import Spool

MIN_KEEP_FINISHED = 3600.0  # shorter is a typo ("14" for "14d") that would prune everything
MIN_LOG_SIZE = 1024
OFF = ("off", "none", "")

_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*", re.I)


class Settings(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True, frozen=True):
    keep_finished: float | None = None
    max_log_size: int | None = None


class _Meta(msgspec.Struct):
    settings: Settings = Settings()


def parse_size(text: str, what: str) -> int:
    """'100MiB', '100M' (both binary), '100MB' (decimal), '2G', '65536': bytes. InvalidValue names `what`."""
    m = _SIZE_RE.fullmatch(text)
    if not m:
        raise InvalidValue(f"{what} {text!r} is not a size: use e.g. 100MiB, 512KiB, 2GiB")
    power = " kmgt".index(m[2].lower() or " ")
    base = 1000 if m[4] and not m[3] and power else 1024
    return int(float(m[1]) * base**power)


def format_size(n: int) -> str:
    """Bytes as the shortest exact size a person would type: 100MiB, 1.5KiB, 1000B."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n * 100 % size == 0:
            return f"{n / size:g}{unit}"
    return f"{n}B"


def check_keep_finished(text: str) -> float | None:
    if text.strip().lower() in OFF:
        return None
    seconds = parse_duration(text, "--keep-finished")  # InvalidValue: a ConfigError
    if seconds < MIN_KEEP_FINISHED:
        raise ConfigError(f"--keep-finished {text} is less than an hour: give a duration such as 14d or 12h "
                          "(or off)")
    return seconds


def check_max_log_size(text: str) -> int | None:
    if text.strip().lower() in OFF:
        return None
    size = parse_size(text, "--max-log-size")  # InvalidValue: a ConfigError
    if size < MIN_LOG_SIZE:
        raise ConfigError(f"--max-log-size {text} is less than 1KiB: give a size such as 100MiB (or off)")
    return size


def load_settings(spool: Spool) -> Settings:
    try:
        data = safeio.read_file(spool.layout.meta, MAX_META_BYTES)
    except OSError as exc:
        raise StorageError.wrap(exc, f"cannot read {spool.layout.meta}") from exc
    try:
        return decode(data, _Meta, f"{spool.layout.meta}").settings
    except CorruptJob as exc:
        raise ConfigError(f"{exc}; fix or remove its \"settings\" (`coreflow spool set` rewrites them)") from None


_UNSET = object()


def update_settings(spool: Spool, keep_finished: object = _UNSET, max_log_size: object = _UNSET) -> Settings:
    """Change the given settings (None removes one), keeping the rest of spool.json."""
    lay = spool.layout
    with locked(lay.meta_lock, "spool.json", spool.lock_timeout):
        raw = msgspec.json.decode(safeio.read_file(lay.meta, MAX_META_BYTES))
        current = load_settings(spool)
        changes = {k: v for k, v in (("keep_finished", keep_finished), ("max_log_size", max_log_size))
                   if v is not _UNSET}
        new = msgspec.structs.replace(current, **changes)
        raw["settings"] = msgspec.to_builtins(new)
        atomic.publish(lay.tmp, lay.meta, encode(raw))
    return new
