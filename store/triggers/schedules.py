"""Schedule arithmetic: slots of `every` and `cron`, what is due, the next firing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from .definition import MAX_COUNT, TriggerDef, TriggerState


def _dt(t: float, tz: ZoneInfo | None) -> datetime:
    return datetime.fromtimestamp(t, tz or timezone.utc)


def slot_at_or_before(d: TriggerDef, t: float) -> float:
    """The newest schedule slot at or before time `t`."""
    if d.interval:
        return math.floor(t / d.interval) * d.interval
    from croniter import croniter

    prev = croniter(d.cron, _dt(t, d.tz)).get_prev(float)
    nxt = croniter(d.cron, _dt(prev, d.tz)).get_next(float)
    return nxt if nxt <= t else prev


def slot_after(d: TriggerDef, t: float) -> float:
    """The first schedule slot strictly after time `t`."""
    if d.interval:
        return (math.floor(t / d.interval) + 1) * d.interval
    from croniter import croniter

    return float(croniter(d.cron, _dt(t, d.tz)).get_next(float))


def count_slots(d: TriggerDef, after: float, until: float) -> int:
    """How many slots lie in (after, until]."""
    if until <= after:
        return 0
    if d.interval:
        return int(math.floor(until / d.interval) - math.floor(after / d.interval))
    from croniter import croniter

    it = croniter(d.cron, _dt(after, d.tz))
    n = 0
    while n < MAX_COUNT and it.get_next(float) <= until:
        n += 1
    return n


@dataclass(frozen=True)
class Due:
    """What a schedule should do now."""

    slot: float | None  # fire for this slot; None: fire nothing
    account: float  # record this as the newest slot accounted for
    missed: int  # slots that passed without a firing of their own


def schedule_due(d: TriggerDef, state: TriggerState, now: float) -> Due | None:
    """None when nothing is due. A first look only arms the trigger (records the slot).

    One slot that passed moments ago is on time and fires. More than one, or one
    that passed more than half a period ago (capped at a minute), is a gap: with
    catch_up = "once" a single job fires for the newest of them, with "skip" none.
    """
    latest = slot_at_or_before(d, now)
    if state.last_slot is None:
        return Due(None, latest, 0)
    if latest <= state.last_slot:
        return None
    n = count_slots(d, state.last_slot, latest)
    period = slot_after(d, latest) - latest
    grace = min(60.0, max(1.0, period / 2))
    if n <= 1 and now - latest <= grace:
        return Due(latest, latest, 0)
    if d.catch_up == "once":
        return Due(latest, latest, max(0, n - 1))
    return Due(None, latest, n)


def next_firing(d: TriggerDef, state: TriggerState, now: float) -> float | None:
    if not d.by_clock or not d.enabled:
        return None
    base = now if state.last_slot is None else max(now, state.last_slot)
    return slot_after(d, base)


def fmt_time(t: float, tz: ZoneInfo | None = None) -> str:
    """ISO 8601 to the second; UTC as Z."""
    s = _dt(t, tz).isoformat(timespec="seconds")
    return s[:-6] + "Z" if s.endswith("+00:00") else s
