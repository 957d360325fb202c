"""cancel: a waiting job is finished as cancelled at once; a running one gets a request
(running/ID.cancel), which its runner reads with cancel_request."""

from __future__ import annotations

import time

import msgspec

from .. import atomic, deps, safeio
from ..errors import CorruptJob, JobStateError, StorageError
from ..layout import cancel_name, done_name
from ..model import CancelRequest, Result, actor, decode, encode, encode_job
from ..ordering import locate
from ..refs import JobRef
from ..spool import Spool
from ..states import State
from .commit import commit_rewritten, gone


def cancel(spool: Spool, ref: str, reason: str = "cancelled", detail: str = "") -> str:
    """Cancel a job. A waiting job is finished as cancelled at once; a running one gets
    a cancel request its runner acts on. Returns "cancelled" or "requested"."""
    r = spool.find(ref)
    if r.state == State.RUNNING:
        return _request_cancel(spool, r)
    if r.pending is None:
        raise JobStateError(f"job {r.id} already finished ({r.state}); nothing to cancel")
    lay = spool.layout
    with spool.lock(r.queue):
        order = spool.pending(r.queue)
        me = locate(order, r)
        if me is None:
            now = spool.find(r.id)
            if now.state == State.RUNNING:
                return _request_cancel(spool, now)
            raise gone(spool, r, "cancel")
        p = order[me]
        src = lay.pending(r.queue) / p.name
        job, original = spool.load(src, p.id, r.queue, p.state)
        t = time.time()
        dest = lay.done(r.queue) / done_name(r.id, State.CANCELLED, t)
        job = msgspec.structs.replace(job, result=Result(
            state=State.CANCELLED, reason=reason, finished_at=t, by=actor(), attempt=job.attempt, message=detail))
        commit_rewritten(spool, r, "cancel", src, dest, encode_job(job, original),
                         sync=(lay.done(r.queue), lay.pending(r.queue)))
        spool.record(r.id, "cancel", detail)
    deps.on_final(spool, r.id, State.CANCELLED)
    return State.CANCELLED


def _request_cancel(spool: Spool, r: JobRef) -> str:
    lay = spool.layout
    req = lay.running(r.queue) / cancel_name(r.id)
    atomic.publish(lay.tmp, req, encode(CancelRequest(by=actor(), at=time.time())))
    if not r.path.exists():  # it finished meanwhile (or another runner took it over)
        now = spool.find(r.id)
        if now.state == State.CANCELLED:  # its runner acted on our request at once
            spool.record(r.id, "cancel-request", "stop the running job")
            return State.CANCELLED
        if now.state != State.RUNNING:
            atomic.unlink_quietly(req)
            raise JobStateError(f"job {r.id} already finished ({now.state}); nothing to cancel")
    spool.record(r.id, "cancel-request", "stop the running job")
    return "requested"


def cancel_request(spool: Spool, queue: str, job_id: str) -> CancelRequest | None:
    """The request to stop a running job (see cancel above), or None."""
    path = spool.layout.running(queue) / cancel_name(job_id)
    try:
        data = safeio.read_job(path)
    except FileNotFoundError:
        return None
    except (CorruptJob, StorageError):
        return CancelRequest(by="unknown", at=0.0)
    try:
        return decode(data, CancelRequest, f"cancel request of job {job_id}")  # type: ignore[no-any-return]
    except CorruptJob:
        return CancelRequest(by="unknown", at=0.0)  # a torn request still asks to stop
