"""Scale without stalls (issue 14, defect 20): a respace renames a window around the
insert point, never the whole queue, and listings stream."""

from __future__ import annotations

import bisect
import io
import json
import os

import pytest
from storehelp import check_order, fill

from store import Spool, atomic
from store import ordering
from store.ordering import insert_rank
from store.layout import PendingName, pending_name
from store.names import RANK_GAP, RANK_START, new_job_id
from store.views import job_json, write_json_list

MAX_RENAMES = 64  # per insert; the whole queue here is 12,000 jobs


def test_2000_urgent_inserts_at_one_spot_of_a_10000_job_queue_rename_few_files_each(
        spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The spot is in the middle (behind 5,000 urgent jobs, before 5,000 normal ones),
    so neither end of the rank space is near. The old code respaced all ~10,000 jobs
    every ~32 inserts, under the queue's lock."""
    first = fill(spool, "default", 5000, start=RANK_START - 5000 * RANK_GAP, priority=20)
    rest = fill(spool, "default", 5000, start=RANK_START, priority=0)
    renames = [0]
    real = atomic.commit_rename

    def counting(src: str, dst: str) -> bool:
        renames[0] += 1
        return real(src, dst)

    monkeypatch.setattr(ordering.atomic, "commit_rename", counting)
    d = spool.layout.pending("default")
    order = spool.pending("default")
    added, worst = [], 0
    with spool.lock("default"):
        for _ in range(2000):
            renames[0] = 0
            rank = insert_rank(spool, "default", order, 20)
            job_id = new_job_id()
            name = pending_name(rank, 20, job_id)
            os.close(os.open(d / name, os.O_CREAT | os.O_WRONLY, 0o644))  # a placeholder: only names count
            bisect.insort(order, PendingName(name), key=_name)
            added.append(job_id)
            worst = max(worst, renames[0])
    assert worst <= MAX_RENAMES, f"one insert renamed {worst} files"
    assert [p.id for p in spool.pending("default")] == [*first, *added, *rest]


def _name(p: PendingName) -> str:
    return p.name


def test_a_listing_streams_and_caches_nothing(spool: Spool) -> None:
    ids = fill(spool, "default", 50)
    views = spool.iter_jobs()
    assert next(views).job.id == ids[0]
    assert [v.job.id for v in views] == ids[1:]
    assert spool._cache == {}  # a 50,000-job `ls` keeps one job in memory at a time
    out = io.BytesIO()
    write_json_list((job_json(v) for v in spool.iter_jobs()), out)
    assert [j["id"] for j in json.loads(out.getvalue())] == ids
    assert check_order(spool, "default") == ids
