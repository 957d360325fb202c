"""Changes made by other processes show up without a key; big queues stay cheap."""

from __future__ import annotations

from store import JobSpec, Spool, Where, move, place
from tests.conftest import run_cf

from .conftest import app_on, settle, started, wait_until
from .sample import NOW, finish, make, start
from .test_keys import current_name, jobs_of


def names(app: object) -> list[str]:
    jl = jobs_of(app)
    out = []
    for i in range(len(jl.rows)):
        job = jl.job(i)
        out.append(job.name if job else "?")
    return out


async def test_a_submit_by_another_process_shows_up(sample: Spool) -> None:
    app = app_on(sample, follow=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)  # the feed worker runs for ever; settle's rounds return once loads are done
        out = run_cf(sample, "submit", "--name", "from-the-cli", "--", "true", check=True)
        job_id = out.stdout.strip()
        await wait_until(pilot, lambda: jobs_of(app).rows is not None and jobs_of(app).rows.index_of(job_id))
        assert current_name(app) == "hotfix CVE-2026-1234"  # the cursor did not move


async def test_cursor_stays_on_its_job_when_the_order_changes(sample: Spool) -> None:
    async with started(sample, follow=True) as (app, pilot):
        await pilot.press("j", "j", "j")  # feature/login lint, position 4
        await settle(pilot)
        watched = jobs_of(app).current_id
        top = jobs_of(app).rows.job_id(2)  # hotfix, above the cursor
        move(sample, top, Where("bottom"))  # as `coreflow move --bottom` from another shell
        await wait_until(pilot, lambda: jobs_of(app).rows.position(jobs_of(app).rows.index_of(top)) == 6)
        assert jobs_of(app).current_id == watched
        assert jobs_of(app).rows.position(jobs_of(app).cursor) == 3


async def test_a_big_queue_decodes_only_what_is_on_screen(tmp_path) -> None:
    spool = Spool.init(tmp_path / "spool")
    from store import build_job

    jobs = [build_job(spool, JobSpec(command=["true"], name=f"job-{n}"), now=NOW - 60) for n in range(3000)]
    place(spool, jobs)
    async with started(spool) as (app, pilot):
        jl = jobs_of(app)
        assert len(jl.rows) == 3000
        assert len(jl._jobs) < 40  # a screenful, not 3,000
        assert names(app)[0] == "job-0"
        await pilot.press("end")
        await settle(pilot)
        assert len(jl._jobs) < 80
        assert jl.job(jl.cursor).name == "job-2999"
        await pilot.press("K")
        await settle(pilot)
        views, _ = spool.jobs("default", {"pending"})
        assert views[-2].job.name == "job-2999"
        assert jl.job(jl.cursor).name == "job-2999"


async def test_empty_queue_says_so(spool: Spool) -> None:
    async with started(spool) as (app, pilot):
        assert len(jobs_of(app).rows) == 0
        await pilot.press("c", "h", "K", "enter", "space")  # nothing to act on: no dialog, no error
        await settle(pilot)
        assert app.screen.__class__.__name__ == "MainScreen"
        make(spool, "default", ["true"], "first", ago=1)
        await pilot.press("f", "f")
        await settle(pilot)
        assert names(app) == ["first"]


async def test_header_names_the_watch_mode_and_no_color_is_respected(sample: Spool, monkeypatch) -> None:
    """Polling (an NFS spool) says so in the header; NO_COLOR turns colour off."""
    from coreflow_tui.tui.widgets.spool_header import SpoolHeader

    monkeypatch.setenv("NO_COLOR", "1")
    async with started(sample, watch="poll") as (app, pilot):
        header = str(app.screen.query_one(SpoolHeader).render())
        assert "polling 1 s" in header
        assert app.no_color


async def test_a_job_seen_waiting_shows_its_result_once_finished(sample: Spool) -> None:
    """The list's decode cache is per state: a job decoded while it waited is read again
    when it runs and when it finishes, so the finished view shows its exit code."""
    jid = make(sample, "default", ["make"], "seen-then-done", ago=5)
    async with started(sample, follow=True, size=(120, 40)) as (app, pilot):
        jl = jobs_of(app)
        await wait_until(pilot, lambda: jl.rows.index_of(jid) is not None and jl.job(jl.rows.index_of(jid)))
        start(sample, jid, ago=3)
        finish(sample, jid, "failed", 7, ran=2, ago=1)
        await pilot.press("f")
        await wait_until(pilot, lambda: jl.rows.index_of(jid) is not None
                         and (j := jl.job(jl.rows.index_of(jid))) is not None and j.result is not None)
        assert jl.job(jl.rows.index_of(jid)).result.exit_code == 7


async def test_reasons_follow_the_runners(spool: Spool) -> None:
    """A runner starting elsewhere changes why jobs wait, without a key press."""
    import os
    import socket

    from store.model import Heartbeat
    from store.runners import beat

    jid = make(spool, "default", ["make"], "waits-for-a-runner", ago=5)
    async with started(spool, follow=True) as (app, pilot):
        jl = jobs_of(app)

        def reason() -> str:
            i = jl.rows.index_of(jid)
            return jl.rows.why(jl.job(i), False).reason if i is not None and jl.job(i) else ""

        await wait_until(pilot, lambda: reason() == "no live runner serves queue default")
        beat(spool, Heartbeat(id="r1", host=socket.gethostname(), pid=os.getpid(), queues=["default"], slots=1,
                              busy=["x" * 26], lease=30.0))
        await wait_until(pilot, lambda: reason() == "its runner is busy")


async def test_a_heartbeat_reloads_the_queue_only_when_what_the_runners_serve_changed(sample: Spool) -> None:
    """Runners rewrite their heartbeat every few seconds: a big queue must not be listed
    again each time, only the runners pane. When a runner starts serving differently
    (busy, slots, queues...), why jobs wait changes: then the queue is loaded again."""
    from store.feed import Change

    from coreflow_tui.tui.messages import SpoolChanged

    from .sample import heartbeat

    async with started(sample) as (app, pilot):
        screen = app.screen
        before = screen.base
        r1, r2 = [v.job.id for v in sample.jobs("default", {"running"})[0]]
        heartbeat(sample, "build-01", 4242, ["default", "docs"], 2, [r1, r2], ago=1)  # a new beat, same runner
        screen.post_message(SpoolChanged(Change(runners=True)))
        await settle(pilot)
        assert screen.base is before  # not listed again
        heartbeat(sample, "build-01", 4242, ["default", "docs"], 3, [r1, r2], ago=1)  # now it has 3 slots
        screen.post_message(SpoolChanged(Change(runners=True)))
        await settle(pilot)
        assert screen.base is not before
