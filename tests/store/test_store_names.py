"""Rank keys, the name grammar, job ids and name validation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from storehelp import check_order, fill, places

from store import InvalidName, Spool, Where, move, submit
from store.jobs.submit import JobSpec
from store.layout import DONE_RE, PENDING_RE, RUNNING_RE, done_name, parse_pending, pending_name
from store.names import (
    ID_RE,
    RANK_GAP,
    RANK_MAX,
    RANK_START,
    check_job_id,
    check_name,
    id_time,
    new_job_id,
    parse_priority,
    rank_between,
    spread_ranks,
)

# -- rank keys -----------------------------------------------------------------------


@pytest.mark.parametrize("before, after", [
    (None, None), (None, RANK_START), (RANK_START, None), (0, 2), (10, 1000), (RANK_START, RANK_START + RANK_GAP),
    (None, 5), (None, 2), (RANK_MAX - 3, None), (RANK_MAX - 1, None), (RANK_MAX - 2, RANK_MAX),
])
def test_rank_between_is_strictly_between(before: int | None, after: int | None) -> None:
    r = rank_between(before, after)
    assert r is not None
    assert 0 <= r <= RANK_MAX
    assert before is None or r > before
    assert after is None or r < after


@pytest.mark.parametrize("before, after", [(5, 6), (5, 5), (None, 1), (None, 0), (RANK_MAX, None)])
def test_rank_between_says_when_there_is_no_room(before: int | None, after: int | None) -> None:
    assert rank_between(before, after) is None


def test_rank_between_has_room_for_many_inserts_at_one_spot() -> None:
    """Gap-based keys: ~32 inserts at the same spot before a rebalance is needed."""
    lo, hi = RANK_START, RANK_START + RANK_GAP
    n = 0
    while (r := rank_between(lo, hi)) is not None:
        hi = r
        n += 1
    assert n >= 31


def test_spread_ranks_are_increasing_and_in_range() -> None:
    for count in (0, 1, 2, 1000, 100_000):
        ranks = spread_ranks(count)
        assert len(ranks) == count
        assert ranks == sorted(set(ranks))
        assert all(0 <= r <= RANK_MAX for r in ranks)


def test_rank_names_sort_as_numbers() -> None:
    """Fixed-width hex: string order of names is numeric order of ranks."""
    ranks = [0, 1, 15, 16, 255, RANK_START - 1, RANK_START, RANK_MAX]
    names = [pending_name(r, 0, new_job_id()) for r in ranks]
    assert sorted(names) == names


# -- rebalance -----------------------------------------------------------------------


@pytest.mark.parametrize("start", [1000, RANK_START, RANK_MAX - 5000])
def test_a_move_with_no_room_respaces_a_window_and_keeps_order(spool: Spool, start: int) -> None:
    ids = fill(spool, "default", 300, start=start, gap=1)  # no room anywhere between neighbours
    before = set(os.listdir(spool.layout.pending("default")))
    move(spool, ids[-1], Where("after", other=ids[0]))
    expect = [ids[0], ids[-1], *ids[1:-1]]
    assert check_order(spool, "default") == expect
    renamed = before - set(os.listdir(spool.layout.pending("default")))
    # a window reaching into the room below, not the whole queue; packed against rank 0
    # (start 1000) there is no room below, and only the whole queue has enough
    assert len(renamed) <= 8 or start == 1000 and len(renamed) == 300


def test_many_inserts_at_the_top_keep_order(spool: Spool) -> None:
    ids = fill(spool, "default", 50)
    for i in range(100):  # ~32 tops fit before a rebalance: this forces several
        move(spool, ids[i % 50], Where("after", other=ids[(i + 1) % 50]) if i % 3 else Where("top"))
        check_order(spool, "default")
    assert sorted(check_order(spool, "default")) == sorted(ids)


_KILLER = textwrap.dedent("""
    import os, signal, sys
    from store import Spool, Where, move, atomic
    spool, job, after, kill_at = Spool.open(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    real, done = atomic.commit_rename, [0]
    def dying_rename(src, dst):
        if done[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        done[0] += 1
        return real(src, dst)
    atomic.commit_rename = dying_rename
    print("go", flush=True)
    move(spool, job, Where("after", other=after))
""")


@pytest.mark.parametrize("start", [RANK_START, RANK_MAX - 5000])
@pytest.mark.parametrize("kill_at", [0, 1, 150, 298])
def test_a_respace_killed_half_way_keeps_order(spool: Spool, start: int, kill_at: int) -> None:
    """SIGKILL after `kill_at` renames of a 300-job respace (ranks packed solid, so the
    window is the whole queue): the order is unchanged."""
    ids = fill(spool, "default", 300, start=start, gap=1)
    before = set(os.listdir(spool.layout.pending("default")))
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(spool.root), ids[-1], ids[150], str(kill_at)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert check_order(spool, "default") == ids
    assert len(before - set(os.listdir(spool.layout.pending("default")))) == kill_at  # it really was half-way
    assert set(places(spool).values()) == {1}
    # and the next move still works, with a respace that starts from the half-done state
    move(spool, ids[-1], Where("after", other=ids[150]))
    assert check_order(spool, "default") == [*ids[:151], ids[-1], *ids[151:-1]]
