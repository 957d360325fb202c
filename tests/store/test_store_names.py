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
from store.changes import JobSpec
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
def test_a_move_with_no_room_rebalances_and_keeps_order(spool: Spool, start: int) -> None:
    ids = fill(spool, "default", 300, start=start, gap=1)  # no room anywhere between neighbours
    move(spool, ids[-1], Where("after", other=ids[0]))
    expect = [ids[0], ids[-1], *ids[1:-1]]
    assert check_order(spool, "default") == expect
    ranks = [p.rank for p in spool.pending("default")]
    assert min(b - a for a, b in zip(ranks, ranks[1:])) > 1  # respaced


def test_many_inserts_at_the_top_keep_order(spool: Spool) -> None:
    ids = fill(spool, "default", 50)
    for i in range(100):  # ~32 tops fit before a rebalance: this forces several
        move(spool, ids[i % 50], Where("after", other=ids[(i + 1) % 50]) if i % 3 else Where("top"))
        check_order(spool, "default")
    assert sorted(check_order(spool, "default")) == sorted(ids)


_KILLER = textwrap.dedent("""
    import os, signal, sys
    from store import Spool, Where, move, atomic, changes
    spool, job, after, kill_at = Spool.open(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    real, done = atomic.commit_rename, [0]
    def dying_rename(src, dst):
        if done[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        done[0] += 1
        return real(src, dst)
    changes.atomic.commit_rename = dying_rename
    print("go", flush=True)
    move(spool, job, Where("after", other=after))
""")


@pytest.mark.parametrize("start", [RANK_START, RANK_MAX - 5000])
@pytest.mark.parametrize("kill_at", [0, 1, 150, 298])
def test_a_rebalance_killed_half_way_keeps_order(spool: Spool, start: int, kill_at: int) -> None:
    """SIGKILL after `kill_at` renames of a 300-job rebalance: the order is unchanged."""
    ids = fill(spool, "default", 300, start=start, gap=1)
    proc = subprocess.run([sys.executable, "-c", _KILLER, str(spool.root), ids[-1], ids[0], str(kill_at)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert check_order(spool, "default") == ids
    moved = sum(1 for p in spool.pending("default") if p.rank >= start + 300 or p.rank < start)
    assert moved == kill_at  # it really was half-way
    assert set(places(spool).values()) == {1}
    # and the next move still works, with a rebalance that starts from the half-done state
    move(spool, ids[-1], Where("after", other=ids[0]))
    assert check_order(spool, "default") == [ids[0], ids[-1], *ids[1:-1]]


def test_a_rebalance_killed_at_a_random_moment_keeps_order(spool: Spool) -> None:
    """The same with a real process killed by the clock, not at a chosen rename."""
    ids = fill(spool, "default", 3000, gap=1)
    script = "import sys; from store import *; s = Spool.open(sys.argv[1]); print('go', flush=True); " \
             "move(s, sys.argv[2], Where('after', other=sys.argv[3]))"
    expect = ids
    for delay in (0.0, 0.005, 0.02, 0.05):
        proc = subprocess.Popen([sys.executable, "-c", script, str(spool.root), ids[-1], ids[0]],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "go\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        order = check_order(spool, "default")
        assert order in (expect, [ids[0], ids[-1], *ids[1:-1]])
        expect = order
        assert set(places(spool).values()) == {1}


# -- the name grammar (pinned) -----------------------------------------------------


def test_pending_name_round_trips() -> None:
    job_id = new_job_id()
    for prio in (-999, -10, 0, 5, 20, 999):
        for held in (False, True):
            name = pending_name(RANK_START + 7, prio, job_id, held)
            p = parse_pending(name)
            assert p is not None
            assert (p.rank, p.priority, p.id, p.held, p.name) == (RANK_START + 7, prio, job_id, held, name)
            assert p.state == ("held" if held else "pending")


def test_pending_grammar_is_pinned() -> None:
    assert pending_name(0x8000000000000000, 0, "01hzzzzzzzzzzzzzzzzzzzzzzz") == \
        "8000000000000000.+0.01hzzzzzzzzzzzzzzzzzzzzzzz.job"
    assert pending_name(1, -10, "01hzzzzzzzzzzzzzzzzzzzzzzz", True) == \
        "0000000000000001.-10.01hzzzzzzzzzzzzzzzzzzzzzzz.held"
    good = "8000000000000000.+0.01hzzzzzzzzzzzzzzzzzzzzzzz.job"
    assert PENDING_RE.fullmatch(good)
    bad = [
        "8000000000000000.0.01hzzzzzzzzzzzzzzzzzzzzzzz.job",  # unsigned priority
        "8000000000000000.+12345.01hzzzzzzzzzzzzzzzzzzzzzzz.job",  # 5 digits
        "800000000000000.+0.01hzzzzzzzzzzzzzzzzzzzzzzz.job",  # 15 hex digits
        "800000000000000G.+0.01hzzzzzzzzzzzzzzzzzzzzzzz.job",
        "8000000000000000.+0.01HZZZZZZZZZZZZZZZZZZZZZZZ.job",  # uppercase id
        "8000000000000000.+0.01hzzzzzzzzzzzzzzzzzzzzzz.job",  # 25-character id
        "8000000000000000.+0.01hzzzzzzzzzzzzzzzzzzzzzzz.jobx",
        "8000000000000000.+0.01hzzzzzzzzzzzzzzzzzzzzzzz.done",
        "8000000000000000.+\u0663.01hzzzzzzzzzzzzzzzzzzzzzzz.job",  # a non-ASCII digit
        ".nfs0000000000000001",
        ".fuse_hidden0000000100000001",
        "x" + good, good + "~", good + ".swp",
    ]
    for name in bad:
        assert parse_pending(name) is None, name


def test_running_and_done_grammar_is_pinned() -> None:
    job_id = new_job_id()
    assert RUNNING_RE.fullmatch(f"{job_id}.job")
    assert not RUNNING_RE.fullmatch(f"{job_id}.cancel")
    t = 1_700_000_000.123
    name = done_name(job_id, "succeeded", t)
    assert name == f"20231114T221320123Z.{job_id}.succeeded"
    m = DONE_RE.fullmatch(name)
    assert m and m["id"] == job_id and m["st"] == "succeeded" and m["stamp"] == "20231114T221320123Z"
    assert ":" not in name
    for st in ("failed", "cancelled"):
        assert DONE_RE.fullmatch(done_name(job_id, st, t))
    for bad in (f"20231114T221320Z.{job_id}.succeeded", f"20231114T221320123Z.{job_id}.running",
                f"2023-11-14T221320123Z.{job_id}.failed", f"20231114T22132012\u0663Z.{job_id}.failed"):
        assert not DONE_RE.fullmatch(bad), bad


def test_job_ids_are_time_ordered_and_pinned() -> None:
    ids = [new_job_id(1_700_000_000_000 + i) for i in range(200)]
    assert ids == sorted(ids)
    assert all(ID_RE.fullmatch(i) and len(i) == 26 for i in ids)
    assert id_time(ids[0]) == 1_700_000_000.0
    assert len({new_job_id(5) for _ in range(1000)}) == 1000  # same ms, still unique
    assert not set("ilou") & set("".join(ids))  # Crockford: no ambiguous letters
    for bad in ("", "x" * 25, "x" * 27, "0" * 25 + "I", "../" + "0" * 23, "0" * 25 + "u"):
        with pytest.raises(InvalidName):
            check_job_id(bad)


def test_priorities() -> None:
    assert [parse_priority(p) for p in ("low", "normal", "HIGH", " urgent ", "7", -3, "999")] == \
        [-10, 0, 10, 20, 7, -3, 999]
    for bad in ("1000", "-1000", "soon", "1.5", "", True):
        with pytest.raises(InvalidName):
            parse_priority(bad)


# -- validation ------------------------------------------------------------------------


BAD_NAMES = ["../x", "..", "a/b", "/etc", "x y", " x", "x\n", "Build", "BUILD", "a" * 200, "a" * 65,
             "", ".hidden", "-x", "_x", "é", "a\0b", "a:b"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_and_nothing_is_created(spool: Spool, tmp_path: Path, name: str) -> None:
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(InvalidName):
        check_name(name)
    with pytest.raises(InvalidName):
        spool.add_queue(name)
    if name:  # an empty --queue means the default queue
        with pytest.raises(InvalidName):
            submit(spool, [JobSpec(command=["true"], queue=name)])
    with pytest.raises(InvalidName):
        submit(spool, [JobSpec(command=["true"], type=name)])
    with pytest.raises(InvalidName):
        submit(spool, [JobSpec(command=["true"], labels={name: "v"})])
    with pytest.raises(InvalidName):
        submit(spool, [JobSpec(command=["true"], requires=[name])])
    assert sorted(tmp_path.rglob("*")) == before
    assert not any(os.listdir(spool.layout.tmp))


def test_good_names_are_accepted(spool: Spool) -> None:
    for name in ("a", "0", "build-x86_64", "v1.2", "a" * 64):
        assert check_name(name) == name
    spool.add_queue("a" * 64)
    assert "a" * 64 in spool.queue_names()
