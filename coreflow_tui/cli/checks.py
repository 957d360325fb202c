"""The argparse types of the `coreflow` command line: each checks one option's text and
turns a refusal into a usage error (exit 2) naming the option."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum` (and at most `maximum`)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{text} must be at most {maximum}")
        return value

    return parse


def text(limit: str, *, one_line: bool = True, empty: bool = True) -> Callable[[str], str]:
    """An argparse type: text of at most store.limits.<limit> characters (one line; not blank
    unless `empty`), so the store never refuses it after the parse."""

    def parse(value: str) -> str:
        from store import limits

        most = getattr(limits, limit)
        if len(value) > most or (one_line and "\n" in value) or (not empty and not value.strip()):
            shape = "one line" if one_line else "text"
            raise argparse.ArgumentTypeError(f"must be {shape} of {'at most' if empty else '1 to'} {most} characters")
        return value

    return parse


positive_int = whole(1)
count = whole(0)
queue_slots = whole(1, 10_000)  # store.limits.MAX_SLOTS (a test pins them equal)
description = text("MAX_DESCRIPTION_CHARS", one_line=False)
job_name = text("MAX_NAME_CHARS")
new_name = text("MAX_NAME_CHARS", empty=False)


def seconds(allow_zero: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        from store.names import parse_duration

        try:
            return parse_duration(text, "value", allow_zero)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


positive_seconds = seconds(False)
duration = seconds(True)


def checked(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a store check: its refusal becomes a usage error naming the option."""

    def parse(text: str) -> T:
        from store import SpoolError

        try:
            return check(text)
        except (SpoolError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def name_check(what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        from store.names import check_name

        return check_name(text, what)

    return checked(check)


def pair(what: str, key_check: Callable[[str], object] | None) -> Callable[[str], tuple[str, str]]:
    """KEY=VALUE, the key checked by `key_check`."""

    def check(text: str) -> tuple[str, str]:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise ValueError(f"{text!r} must be KEY=VALUE")
        if key_check is not None:
            key_check(key)
        return key, value

    return checked(check)


def env_name(key: str) -> None:
    if "\0" in key or not key.strip():
        raise ValueError(f"invalid environment variable name {key!r}")


def priority_check(text: str) -> int:
    from store.names import parse_priority

    return parse_priority(text)


queue = name_check("queue name")
jobtype = name_check("job type")
trigger = name_check("trigger name")
runner_label = name_check("label")
label = pair("label", name_check("label key"))
env = pair("environment variable", env_name)
priority = checked(priority_check)


def name_list(what: str) -> Callable[[str], str]:
    """A comma-separated list of names, each checked; the text itself is kept."""
    check = name_check(what)

    def parse(text: str) -> str:
        for part in text.split(","):
            if part.strip():
                check(part.strip())
        return text

    return parse


queue_list = name_list("queue name")
label_list = name_list("runner label")


def setting(text: str) -> str:
    if not pair("setting", None)(text)[0].strip():
        raise argparse.ArgumentTypeError(f"{text!r} must be KEY=VALUE")
    return text


# -- pipelines (issue 11): --after, --at, --in ----------------------------------------


def job_refs(text: str) -> list[str]:
    """ID[,ID...]: job ids or 4+ characters of their start or end; found in the spool later
    (an unknown one is a refusal, exit 1, not a usage error)."""
    refs = [part.strip().lower() for part in text.split(",")]
    for ref in refs:
        if len(ref) < 4 or not ref.isalnum():
            raise argparse.ArgumentTypeError(f"{ref!r} is not a job id (give an id or 4+ of its characters, "
                                             "comma-separated)")
    return refs


def span(text: str) -> float:
    """--in: '90s', '10m', '1h30m', '2d' (store.names.parse_duration): seconds from now."""
    seconds = duration(text)
    if seconds > 366 * 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is more than a year from now")
    return seconds


def moment(text: str) -> float:
    """--at: 'YYYY-MM-DD HH:MM[:SS]' in local time, or ISO 8601 with a zone
    ('2026-12-01T14:00:00+01:00', '...Z'): epoch seconds."""
    from datetime import datetime

    t = text.strip()
    try:
        dt = datetime.fromisoformat(t[:-1] + "+00:00" if t[-1:] in "zZ" and t else t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: use \"YYYY-MM-DD HH:MM\" (local time) or "
                                         "ISO 8601 with a zone, e.g. 2026-12-01T14:00+01:00") from None
    if dt.tzinfo is None and len(t) <= 10:
        raise argparse.ArgumentTypeError(f"{text!r} has no time of day: use \"YYYY-MM-DD HH:MM\"")
    return dt.timestamp()  # a naive time is local time
