"""What a runner (or the trigger daemon) checks before it takes commands from a spool."""

from __future__ import annotations

from .errors import SpoolError
from .names import check_name
from .spool import Spool


class UnsafeSpool(SpoolError):
    """The spool is writable by anyone: a runner must not take commands from it."""


def check_safe(spool: Spool, queues: list[str], refusing: str = "to run jobs") -> None:
    """Refuse a spool whose directories anyone may write (Spool.world_writable): whoever
    can put a file in pending/ or triggers/ chooses the commands that run."""
    loose = spool.world_writable(queues)
    if loose:
        more = f" (and {len(loose) - 1} more)" if len(loose) > 1 else ""
        raise UnsafeSpool(
            f"refusing {refusing}: {loose[0]}{more} is world-writable, so anyone could queue commands "
            f"that run as you; fix it with `chmod -R o-w {spool.root}` and start again")


def check_labels(labels: list[str]) -> frozenset[str]:
    return frozenset(check_name(label, "runner label") for label in labels)
