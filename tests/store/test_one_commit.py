"""Every transition stages its new content before its commit rename: a full disk stops
it before it starts. (supersede used to rename the old job into done/ first and write
its result after: a full disk left it finished without one.)"""

from __future__ import annotations

import errno

import pytest

from store import JobSpec, Spool, atomic, build_job, submit
from store.errors import StorageError
from store.jobs.supersede import supersede


def _disk_full_after(monkeypatch: pytest.MonkeyPatch, ok: int) -> None:
    real, calls = atomic.stage, [0]

    def stage(tmp_dir, data, hint="w"):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] > ok:
            raise StorageError.wrap(OSError(errno.ENOSPC, "No space left on device"), "cannot write in tmp/")
        return real(tmp_dir, data, hint)

    monkeypatch.setattr(atomic, "stage", stage)


def test_supersede_on_a_full_disk_leaves_the_old_job_waiting(spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    (old,) = submit(spool, [JobSpec(command=["old"])])
    new = build_job(spool, JobSpec(command=["new"]))
    _disk_full_after(monkeypatch, 1)  # the new job's file is written; the old one's result is not
    with pytest.raises(StorageError):
        supersede(spool, [old], [new])
    r = spool.find(old)
    assert r.state == "pending" and spool.read(r, cache=False).result is None
    assert spool.done_refs("default") == []


@pytest.mark.parametrize("change", ["cancel", "retry"])
def test_a_transition_on_a_full_disk_changes_nothing(spool: Spool, monkeypatch: pytest.MonkeyPatch,
                                                     change: str) -> None:
    from store import cancel, retry

    (jid,) = submit(spool, [JobSpec(command=["x"])])
    if change == "retry":
        cancel(spool, jid)
    before = spool.find(jid)
    _disk_full_after(monkeypatch, 0)
    with pytest.raises(StorageError):
        (cancel if change == "cancel" else retry)(spool, jid)
    assert spool.find(jid).path == before.path
