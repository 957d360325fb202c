"""Lost runners told as such (issue 10 item 11): a late heartbeat shows on its jobs; a lost
runner whose jobs were taken over leaves the panes after a few leases; no stale busy count."""

from __future__ import annotations

from pathlib import Path

from coreflow_tui.tui.widgets.detail_pane import DetailPane
from coreflow_tui.tui.widgets.job_list import JobList
from coreflow_tui.tui.widgets.runner_list import RunnerList
from coreflow_tui.tui.widgets.spool_header import SpoolHeader
from store import Spool

from .conftest import settle, started
from .sample import build, heartbeat
from .test_keys import press
from .test_layout import lines_of


async def test_a_job_of_a_silent_runner_says_so(sample: Spool) -> None:
    """Within the lease (30 s) but 12 s without a beat: "silent 12s on build-01" where the row
    has room for no more, "on build-01 (runner silent for 12s)" where it has."""
    heartbeat(sample, "build-01", 4242, ["default", "docs"], 2, [], ago=12)
    async with started(sample, size=(120, 40)) as (app, pilot):
        rows = [line for line in lines_of(app.screen.query_one(JobList)) if "▶ run" in line]
        assert rows and all("silent 12s on build-01" in line for line in rows), rows
        assert "LOST" not in "\n".join(lines_of(app.screen.query_one(RunnerList)))
    async with started(sample, size=(160, 40)) as (app, pilot):
        rows = [line for line in lines_of(app.screen.query_one(JobList)) if "▶ run" in line]
        assert all("on build-01 (runner silent for 12s)" in line for line in rows), rows
        await press(pilot, "home")
        await settle(pilot)
        detail = "\n".join(lines_of(app.screen.query_one(DetailPane).query_one("#detail-body")))
        assert "silent for 12s" in detail


async def test_a_lost_runner_with_jobs_says_how_many_are_left_not_a_stale_busy_count(sample: Spool) -> None:
    heartbeat(sample, "build-01", 4242, ["default", "docs"], 2, [], ago=45)
    async with started(sample, size=(120, 40)) as (app, pilot):
        runners = "\n".join(lines_of(app.screen.query_one(RunnerList)))
        assert "LOST" in runners and "holds 2 jobs" in runners and "busy" not in runners
        assert "1 runner lost" in "".join(lines_of(app.screen.query_one(SpoolHeader)))


async def test_a_lost_runner_leaves_the_panes_once_its_jobs_are_taken_over(tmp_path: Path) -> None:
    spool = build(tmp_path / "spool", lost_runner=True)
    async with started(spool, size=(120, 40)) as (app, pilot):  # build-02: lost 60 s ago, no jobs left
        assert "build-02" in "\n".join(lines_of(app.screen.query_one(RunnerList)))
        assert "holds no job" in "\n".join(lines_of(app.screen.query_one(RunnerList)))
    heartbeat(spool, "build-02", 5151, ["deploy"], 1, [], ago=200)  # several leases later
    async with started(spool, size=(120, 40)) as (app, pilot):
        assert "build-02" not in "\n".join(lines_of(app.screen.query_one(RunnerList)))
        assert "lost" not in "".join(lines_of(app.screen.query_one(SpoolHeader)))
