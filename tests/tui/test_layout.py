"""Layout (issue 10 item 9): usable at 60x20, panes that re-balance, rows that never wrap,
aligned columns, fields that never run together, short reasons where long ones do not fit."""

from __future__ import annotations

from store import QueueInfo, Spool

from .conftest import settle, started
from .sample import NOW, finish, heartbeat, make, start


def lines_of(widget) -> list[str]:  # noqa: ANN001
    return ["".join(s.text for s in widget.render_line(y)) for y in range(widget.size.height)]


async def test_help_and_quit_always_in_the_footer_at_60x20(sample: Spool) -> None:
    async with started(sample, size=(60, 20)) as (app, pilot):
        keys = {k.action: k.region for k in app.screen.query("FooterKey")}
        for action in ("help", "app.quit"):
            region = keys[action]
            assert region.width and region.right <= 60, (action, region)


async def test_queue_rows_never_wrap_at_60x20(sample: Spool) -> None:
    from coreflow_tui.tui.widgets.queue_list import QueueList

    async with started(sample, size=(60, 20)) as (app, pilot):
        shown = lines_of(app.screen.query_one(QueueList))
        assert any("deploy" in line and "PAUSED" in line and "▶0/1" in line for line in shown), shown
        assert any("default" in line and "▶2/2" in line and "1 held" in line for line in shown), shown


async def test_panes_rebalance_on_resize_and_when_queues_are_added(sample: Spool) -> None:
    """120x40, two queues added, then 80x24, 60x20, 120x40: every queue stays in sight."""
    from coreflow_tui.tui.widgets.queue_list import QueueList

    async with started(sample, size=(120, 40)) as (app, pilot):
        sample.add_queue("nightly")
        sample.add_queue("release")
        app.screen.request_load("overview")
        await settle(pilot)
        for size in ((80, 24), (60, 20), (120, 40)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            queues = app.screen.query_one(QueueList)
            assert queues.size.height >= 5, (size, queues.size)  # five queues, no scrolling
            assert queues.max_scroll_y == 0, size
            text = "\n".join(lines_of(queues))
            assert "nightly" in text and "release" in text


async def test_running_rows_align_with_and_without_a_progress_bar(spool: Spool) -> None:
    """Before, a running row without a bar (no history) was one column off."""
    from coreflow_tui.tui.widgets.job_list import JobList

    old = make(spool, "default", ["make"], "earlier", "build", ago=900)
    start(spool, old, ago=800)
    finish(spool, old, "succeeded", 0, 200, 600)
    a = make(spool, "default", ["make"], "typed", "build", ago=100)
    b = make(spool, "default", ["true"], "untyped", None, ago=100)
    start(spool, a, ago=12)
    start(spool, b, ago=12)
    heartbeat(spool, "build-01", 4242, ["default"], 2, [a, b], ago=1)
    async with started(spool, size=(120, 40)) as (app, pilot):
        shown = [line for line in lines_of(app.screen.query_one(JobList)) if " 12s" in line]
        assert len(shown) == 2 and any("█" in line or "░" in line for line in shown), shown
        assert len({line.index(" 12s") for line in shown}) == 1, shown


def test_no_fields_run_together() -> None:
    from store import QueueConfig

    from coreflow_tui.tui.widgets.queue_list import prompt

    q = QueueInfo("default", QueueConfig(slots=4, paused=True), 5, 1, 0)
    for width in (20, 26, 40):
        text = prompt(q, width).plain
        assert "waiting1" not in text and "wait1" not in text and "PAUSED" in text
        assert "5" in text and "1" in text


async def test_header_and_runner_fields_are_separated(sample: Spool) -> None:
    from coreflow_tui.tui.widgets.runner_list import RunnerList
    from coreflow_tui.tui.widgets.spool_header import SpoolHeader

    async with started(sample, size=(120, 40)) as (app, pilot):
        header = "".join(lines_of(app.screen.query_one(SpoolHeader)))
        assert "/srv/ci/spool  on build-01" in header
        runners = "\n".join(lines_of(app.screen.query_one(RunnerList)))
        assert "build-01  pid 4242" in runners


async def test_long_reasons_have_a_short_form_at_80_columns(sample: Spool) -> None:
    from coreflow_tui.tui.widgets.job_list import JobList

    heartbeat_file = sample.layout.runner("build-01-4242-ab12")
    heartbeat_file.unlink()  # nobody serves default: the long reason
    async with started(sample, size=(80, 24)) as (app, pilot):
        shown = "\n".join(lines_of(app.screen.query_one(JobList)))
        assert "no runner serves it" in shown and "no live runner serves qu…" not in shown
    async with started(sample, size=(120, 40)) as (app, pilot):
        assert NOW  # the wide screen has room for the long one
