"""Issue 15 item 2: a submit finds its place from the queue's tail hint, without listing
pending/, and lands exactly where a full listing would put it, whatever else changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storehelp import check_order, fill

from store import Spool, Where, hold, move, release, submit
from store.jobs.submit import JobSpec
from store.layout import PendingName, pending_name
from store.names import RANK_GAP, RANK_MAX, RANK_START, new_job_id
from store.ordering import deciding, insert_index
from store.tailhint import Tail

ROOT = Path(__file__).resolve().parents[2]


def _submit(spool: Spool, priority: int = 0, queue: str = "default") -> str:
    (job_id,) = submit(spool, [JobSpec(command=["true"], priority=priority, queue=queue)])
    return job_id


def _prios(spool: Spool) -> list[tuple[str, int]]:
    return [(p.id, p.priority) for p in spool.pending("default")]


def _expected(before: list[tuple[str, int]], job_id: str, priority: int) -> list[tuple[str, int]]:
    """The contract: behind every waiting job of the same or higher priority."""
    idx = len(before)
    while idx > 0 and before[idx - 1][1] < priority:
        idx -= 1
    return before[:idx] + [(job_id, priority)] + before[idx:]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-2, 2), max_size=30), st.integers(-3, 3))
def test_the_deciding_names_give_the_spot_the_whole_order_gives(prios: list[int], new: int) -> None:
    order = [PendingName(pending_name(RANK_START + i * RANK_GAP, p, new_job_id())) for i, p in enumerate(prios)]
    short = deciding(order)
    i, j = insert_index(order, new), insert_index(short, new)
    assert (order[i - 1].name if i else None) == (short[j - 1].name if j else None)
    assert (order[i].name if i < len(order) else None) == (short[j].name if j < len(short) else None)
    placed = PendingName(pending_name(0, new, new_job_id()))  # its rank does not matter here
    assert deciding(order[:i] + [placed] + order[i:]) == deciding(short[:j] + [placed] + short[j:])


def test_submits_of_mixed_priorities_use_the_hint_and_land_where_the_contract_says(spool: Spool) -> None:
    fill(spool, "default", 5)
    for prio in (0, 10, 0, 20, -5, 10, 0, 20, -5, 30, 0):
        before = _prios(spool)
        job_id = _submit(spool, prio)
        assert _prios(spool) == _expected(before, job_id, prio)
        assert Tail(spool, "default").full is False  # the next submit will not list pending/
    check_order(spool, "default")


def test_a_ten_thousand_job_queue_is_not_listed_by_a_submit(spool: Spool) -> None:
    fill(spool, "default", 10_000)
    _submit(spool)  # lists once (no hint yet), and leaves one
    tail = Tail(spool, "default")
    assert tail.full is False and len(tail.order) <= 3
    before = _prios(spool)
    job_id = _submit(spool, 0)
    assert _prios(spool) == before + [(job_id, 0)]


def _drop_in_behind(spool: Spool) -> str:
    """A job put last by someone who does not keep the hint (a person's mv, an older
    coreflow): a rename straight into pending/, in the same clock tick as the submit."""
    last = spool.pending("default")[-1]
    job_id = new_job_id()
    src = spool.layout.pending("default") / last.name
    (spool.layout.tmp / "x").write_bytes(src.read_bytes().replace(last.id.encode(), job_id.encode()))
    os.rename(spool.layout.tmp / "x", spool.layout.pending("default") / pending_name(last.rank + 5, 0, job_id))
    return job_id


def _cli_move_bottom(spool: Spool) -> str:
    first = spool.pending("default")[0].id
    subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "move", first, "--bottom"],
                   check=True, capture_output=True, cwd=ROOT)
    return first


def _hold_release_last(spool: Spool) -> str:
    last = spool.pending("default")[-1].id
    hold(spool, last)
    release(spool, last)
    return last


def _move_top(spool: Spool) -> str:
    last = spool.pending("default")[-1].id
    move(spool, last, Where("top"))
    return spool.pending("default")[-1].id


@pytest.mark.parametrize("change", [_drop_in_behind, _cli_move_bottom, _hold_release_last, _move_top])
def test_a_change_made_without_the_hint_is_seen(spool: Spool, change) -> None:  # type: ignore[no-untyped-def]
    fill(spool, "default", 3)
    _submit(spool)
    _submit(spool)  # the hint is now in use
    assert Tail(spool, "default").full is False
    change(spool)
    assert Tail(spool, "default").full is True  # pending/ moved on: the hint is not trusted
    before = _prios(spool)
    job_id = _submit(spool, 0)
    assert _prios(spool) == before + [(job_id, 0)]
    check_order(spool, "default")


@pytest.mark.parametrize("damage", ["empty", "torn", "garbage", "missing-name", "symlink", "stamp"])
def test_a_damaged_hint_is_not_trusted(spool: Spool, damage: str) -> None:
    fill(spool, "default", 4)
    _submit(spool)
    hint = spool.layout.tail_hint("default")
    text = hint.read_text()
    lines = text.splitlines()
    if damage == "empty":
        hint.write_text("")
    elif damage == "torn":  # the last name lost, the trailer too: a crash in mid-write
        hint.write_text("\n".join(lines[:-2]) + "\n")
    elif damage == "garbage":
        hint.write_text("hello\n1 1\n")
    elif damage == "missing-name":  # a name that is not there (the trailer still counts right)
        gone = pending_name(RANK_START, 0, new_job_id())
        hint.write_text("\n".join([gone, *lines[1:]]) + "\n")
    elif damage == "symlink":
        hint.unlink()
        hint.symlink_to(spool.root / "elsewhere")
    else:  # the stamp of another moment
        stamp, count = lines[-1].split()
        hint.write_text("\n".join([*lines[:-1], f"{int(stamp) + 1} {count}"]) + "\n")
    if damage in ("torn", "missing-name", "stamp"):
        # these keep pending/'s stamp, so only the hint's own checks can refuse them
        os.utime(spool.layout.pending("default"), ns=(0, int(text.split()[-2])))
    assert Tail(spool, "default").full is True
    before = _prios(spool)
    job_id = _submit(spool, 0)
    assert _prios(spool) == before + [(job_id, 0)]


def test_no_room_behind_the_hinted_tail_respaces_from_a_listing(spool: Spool) -> None:
    fill(spool, "default", 3, start=RANK_MAX - 2, gap=1)  # the last job has the highest rank there is
    a = _submit(spool)
    b = _submit(spool)
    ids = check_order(spool, "default")
    assert ids[-2:] == [a, b]


def test_no_hint_where_other_hosts_changes_are_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """COREFLOW_WATCH=poll says: other hosts write here (NFS); a directory's mtime read
    here may be stale, so every placement lists."""
    monkeypatch.setenv("COREFLOW_WATCH", "poll")
    polled = Spool.init(tmp_path / "polled")
    fill(polled, "default", 2)
    for prio in (0, 5, 0):
        before = _prios(polled)
        job_id = _submit(polled, prio)
        assert _prios(polled) == _expected(before, job_id, prio)
    assert not polled.layout.tail_hint("default").exists()
    assert Tail(polled, "default").full is True


_LOOP = """
import sys
from store import Spool, submit
from store.jobs.submit import JobSpec
spool = Spool.open(sys.argv[1])
for i in range(int(sys.argv[3])):
    submit(spool, [JobSpec(command=["true"], name=f"{sys.argv[2]}-{i}", priority=int(sys.argv[4]))])
"""


def test_concurrent_submitters_each_keep_their_own_order(spool: Spool) -> None:
    """Three processes submitting at once (one at a higher priority) through the hint:
    every job is there once, each process's jobs in the order it submitted them, and
    the urgent ones ahead of all the others."""
    fill(spool, "default", 20)
    procs = [subprocess.Popen([sys.executable, "-c", _LOOP, str(spool.root), who, "40", prio], cwd=ROOT)
             for who, prio in (("a", "0"), ("b", "0"), ("u", "10"))]
    for p in procs:
        assert p.wait(timeout=120) == 0
    ids = check_order(spool, "default")
    names = [spool.read(spool.pending_ref("default", p)).name for p in spool.pending("default")]
    assert len(ids) == 20 + 120
    for who in "abu":
        mine = [n for n in names if n.startswith(f"{who}-")]
        assert mine == [f"{who}-{i}" for i in range(40)]
    assert all(n.startswith("u-") for n in names[:40])


def test_two_hosts_submitting_in_turn_each_land_last(two_hosts: tuple[Path, Path]) -> None:
    """Through two NFS-like views (FUSE) no hint is kept: each host's submit sees the
    other's last job, so jobs land in the order they were submitted."""
    host_a, host_b = two_hosts
    views = [Spool.init(host_a / "spool"), Spool.open(host_b / "spool")]
    ids = [_submit(views[i % 2]) for i in range(8)]
    assert check_order(views[0], "default") == ids
    assert not views[0].layout.tail_hint("default").exists()
