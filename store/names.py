"""Names: validation of user-given names, job ids, rank keys, priorities, durations.

Everything that ends up in a path is validated here first, so nothing a user types
can reach outside the spool.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable

from .errors import InvalidName, InvalidValue

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
ID_RE = re.compile(r"[0-9a-hjkmnp-tv-z]{26}")

PRIORITY_NAMES = {"low": -10, "normal": 0, "high": 10, "urgent": 20}
PRIORITY_MIN, PRIORITY_MAX = -999, 999

# Rank keys: 16 hex digits. New keys go RANK_GAP apart, so a key between two
# neighbours exists ~32 times in a row at one spot before a rebalance is needed.
RANK_WIDTH = 16
RANK_MAX = 16**RANK_WIDTH - 1
RANK_START = 1 << 63
RANK_GAP = 1 << 32
# A respaced window leaves at least this between neighbours: ~20 more inserts at one
# spot before the next respace, which then takes a window of a few dozen jobs at most.
MIN_GAP = 1 << 20


def check_name(name: str, what: str = "name") -> str:
    """Return `name` if it is a valid queue/type/trigger name, else raise InvalidName."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        shown = name if isinstance(name, str) and len(name) <= 70 else f"{str(name)[:40]}…"
        raise InvalidName(
            f"invalid {what} {shown!r}: use 1-64 of a-z 0-9 . _ - starting with a letter or digit"
        )
    return name


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not ID_RE.fullmatch(job_id):
        raise InvalidName(f"invalid job id {job_id!r}: a job id is 26 characters of 0-9a-z")
    return job_id


def new_job_id(now_ms: int | None = None) -> str:
    """A ULID-style id: 48 bits of milliseconds then 80 random bits, lowercase Crockford.

    Sorts by creation time across hosts without coordination (to the ms; ties are
    broken by the random part, which is good enough for display order).
    """
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    out = []
    for _ in range(26):
        out.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


def id_time(job_id: str) -> float:
    """Seconds since the epoch encoded in a job id."""
    value = 0
    for ch in job_id[:10]:
        value = value * 32 + _CROCKFORD.index(ch)
    return value / 1000.0


def parse_priority(value: str | int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        prio = value
    else:
        text = str(value).strip().lower()
        if text in PRIORITY_NAMES:
            return PRIORITY_NAMES[text]
        try:
            prio = int(text)
        except ValueError:
            raise InvalidName(
                f"invalid priority {value!r}: use an integer or one of low, normal, high, urgent"
            ) from None
    if not PRIORITY_MIN <= prio <= PRIORITY_MAX:
        raise InvalidName(f"invalid priority {prio}: must be between {PRIORITY_MIN} and {PRIORITY_MAX}")
    return prio


def format_rank(rank: int) -> str:
    return f"{rank:0{RANK_WIDTH}x}"


def rank_between(before: int | None, after: int | None) -> int | None:
    """A rank strictly between two neighbours (None = open end); None if there is no room."""
    if before is None and after is None:
        return RANK_START
    if before is None:
        assert after is not None
        return after - RANK_GAP if after > RANK_GAP else (after // 2 if after > 1 else None)
    if after is None:
        return before + RANK_GAP if before + RANK_GAP <= RANK_MAX else (
            (before + RANK_MAX + 1) // 2 if before < RANK_MAX else None
        )
    if after - before < 2:
        return None
    return (before + after) // 2


def spread_ranks(count: int) -> list[int]:
    """Evenly spaced ranks for a rebalance of `count` jobs, centred on RANK_START."""
    first = RANK_START - (count // 2) * RANK_GAP
    return [first + i * RANK_GAP for i in range(count)]


def respace_window(rank_of: Callable[[int], int], count: int, idx: int) -> tuple[int, list[int]] | None:
    """Where to respace a run order of `count` ranks (rank_of(i) is the i-th) so that a
    new one fits before position `idx`: the smallest window around idx (doubling) whose
    jobs can be spread evenly between its outer neighbours with MIN_GAP to spare.
    Returns (lo, new ranks of positions lo, lo+1, ...); None if not even the whole
    order can (then only a full rebalance helps)."""
    half = 2
    while True:
        lo, hi = max(0, idx - half), min(count, idx + half)
        floor = rank_of(lo - 1) if lo > 0 else -1
        ceiling = rank_of(hi) if hi < count else RANK_MAX + 1
        gap = (ceiling - floor) // (hi - lo + 2)  # the window's jobs, and room for one more
        if gap >= MIN_GAP:
            return lo, [floor + (i + 1) * gap for i in range(hi - lo)]
        if lo == 0 and hi == count:
            return None
        half *= 2


_DURATION_RE = re.compile(r"\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+|\s*\d+(?:\.\d+)?\s*")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 1}


def parse_duration(value: str | int | float, what: str, allow_zero: bool = False) -> float:
    """'30s', '5m', '2h', '1d', '2w', '250ms', combined ('1h30m'), or a number of
    seconds: seconds, positive (or zero when `allow_zero`). Raises InvalidValue naming `what`."""
    if isinstance(value, bool):
        raise InvalidValue(f"{what} must be a duration like 30s, 5m, 2h, not {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        if not _DURATION_RE.fullmatch(value.lower()):
            raise InvalidValue(f"{what} {value!r} is not a duration: use e.g. 30s, 5m, 2h, 1d, 1h30m")
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(value.lower()))
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise InvalidValue(f"{what} must be {'0 or more' if allow_zero else 'positive'}, not {value!r}")
    return seconds
