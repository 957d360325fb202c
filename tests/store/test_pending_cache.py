"""The runner's cached listing of pending/ follows other parties' renames in and out
without listing the directory again (a submit into a 10,000-job queue), and stays
exactly what a fresh listing would say."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from store import pending_cache
from store.pending_cache import PendingCache


def test_names_added_and_removed_by_others_are_followed_without_a_new_listing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pend = tmp_path / "pending"
    pend.mkdir()
    for i in range(5):
        (pend / f"{i:04d}.job").write_bytes(b"")
    cache = PendingCache()
    if not cache.inotify.ok:
        pytest.skip("no inotify here")
    try:
        assert cache.listing("q", str(pend)) == [f"{i:04d}.job" for i in range(5)]
        listings: list[str] = []
        real = pending_cache.list_names
        monkeypatch.setattr(pending_cache, "list_names", lambda p: listings.append(p) or real(p))
        (tmp_path / "new").write_bytes(b"")
        os.rename(tmp_path / "new", pend / "0002a.job")  # a submit's rename
        os.rename(pend / "0004.job", pend / "0004.held")  # a hold
        os.unlink(pend / "0000.job")  # someone's rm
        got = cache.listing("q", str(pend))
        assert got == sorted(os.listdir(pend)) == ["0001.job", "0002.job", "0002a.job", "0003.job", "0004.held"]
        assert listings == []
        cache.removed("q", "0001.job")  # our own claim: its event is expected
        os.rename(pend / "0001.job", tmp_path / "claimed")
        assert cache.listing("q", str(pend)) == sorted(os.listdir(pend)) and listings == []
    finally:
        cache.close()


def test_no_cache_where_coreflow_watch_says_poll(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """COREFLOW_WATCH=poll says inotify is not to be trusted here (a spool this host
    exports over NFS, say): a runner then lists pending/ at every claim, as on NFS."""
    from store import Spool
    from store.jobs.claims import Claimant, Claims

    spool = Spool.init(tmp_path / "spool")
    with_cache = Claims(spool, Claimant("r1", "h", os.getpid(), frozenset()))
    monkeypatch.setenv("COREFLOW_WATCH", "poll")
    without = Claims(spool, Claimant("r2", "h", os.getpid(), frozenset()))
    assert with_cache._pending is not None and without._pending is None
    with_cache.close()
    without.close()
