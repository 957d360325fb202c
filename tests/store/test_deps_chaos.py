"""The dependency checks of bench.chaos catch what they claim to (a check that cannot
fail proves nothing)."""

from __future__ import annotations

import time

import pytest

from bench.chaos_deps import check_deps
from store import Spool, deps
from store.jobs.submit import JobSpec, submit
from store.states import State
from tests.store.test_deps import claims, run


def test_check_deps_flags_an_early_start_a_start_before_its_time_and_a_stuck_job(
        spool: Spool, monkeypatch: pytest.MonkeyPatch) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    (b,) = submit(spool, [JobSpec(command=["true"], after=[a])])
    at = time.time() + 3600
    (c,) = submit(spool, [JobSpec(command=["true"], not_before=at)])
    _, ok = check_deps(spool, {a: [500]}, {a: 1_000})
    assert all(v is None for v in ok.values())
    _, bad = check_deps(spool, {b: [500], c: [int(time.time() * 1e9)]}, {a: 1_000})
    assert bad["no dependent started before its dependencies"] and bad["no delayed job started before its time"]
    monkeypatch.setattr(deps, "on_final", lambda *args: None)  # a's end never releases b
    run(spool, claims(spool))
    _, stuck = check_deps(spool, {}, {})
    assert stuck["none left waiting on a job that ended"] == f"['{b}']"
    assert spool.find(b).pending.blocked and spool.find(a).state == State.SUCCEEDED
