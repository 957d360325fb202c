"""edit (`coreflow set`, the TUI's `e`): change the fields of a waiting job."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from .. import atomic
from ..errors import SpoolError
from .commit import commit_rewritten, pending_ref, waiting_now
from ..layout import pending_name
from ..model import encode_job
from ..names import check_name, parse_priority
from ..ordering import index_of, insert_rank
from ..spool import Spool


@dataclass(frozen=True)
class Edit:
    """What to change of a waiting job; None leaves a field as it is. Labels are merged
    into the job's (an empty value removes that label); `requires` replaces the list."""

    priority: int | str | None = None
    name: str | None = None
    labels: dict[str, str] | None = None
    requires: list[str] | None = None
    timeout: float | None = None


def edit(spool: Spool, ref: str, change: Edit) -> int:
    """Change a pending or held job, recorded in its audit trail. A new priority places it
    behind every waiting job of the same or higher priority, as a submit would. Returns its
    new 1-based position; a running or finished job is refused (JobAlreadyStarted/JobStateError)."""
    r = pending_ref(spool, ref, "edit")
    fields = _edit_fields(change)
    d = spool.layout.pending(r.queue)
    with spool.lock(r.queue):
        order, me = waiting_now(spool, r, "edit")
        p = order[me]
        job, original = spool.load(d / p.name, p.id, r.queue, p.state)
        if "labels" in fields:
            merged = {**job.labels, **fields["labels"]}
            fields["labels"] = {k: v for k, v in merged.items() if v != ""}
        said = [f"{k}: {getattr(job, k)!r} -> {v!r}" for k, v in fields.items() if getattr(job, k) != v]
        if not said:
            return me + 1
        new = msgspec.structs.replace(job, **fields)
        dest = d / p.name
        if new.priority != job.priority:
            rest = order[:me] + order[me + 1:]
            dest = d / pending_name(insert_rank(spool, r.queue, rest, new.priority), new.priority, p.id, kind=p.kind)
            commit_rewritten(spool, r, "edit", d / p.name, dest, encode_job(new, original), sync=(d,))
        else:  # same name: a rewrite in place, no commit rename
            atomic.publish(spool.layout.tmp, dest, encode_job(new, original))
        spool.record(r.id, "set", "; ".join(said))
    return (index_of(spool.pending(r.queue), r.id) or 0) + 1


def _edit_fields(change: Edit) -> dict[str, object]:
    """The fields an edit sets, checked as a submit checks them."""
    fields: dict[str, object] = {}
    if change.priority is not None:
        fields["priority"] = parse_priority(change.priority)
    if change.name is not None:
        if not change.name.strip() or len(change.name) > 200 or "\n" in change.name:
            raise SpoolError("name must be one line of 1 to 200 characters")
        fields["name"] = change.name
    if change.labels is not None:
        for key in change.labels:
            check_name(key, "label")
        fields["labels"] = dict(change.labels)
    if change.requires is not None:
        for label in change.requires:
            check_name(label, "label")
        fields["requires"] = list(change.requires)
    if change.timeout is not None:
        if change.timeout <= 0:
            raise SpoolError(f"timeout must be positive, not {change.timeout}")
        fields["timeout"] = change.timeout
    return fields
