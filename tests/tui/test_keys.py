"""Every key of the TUI: keys in, spool state out (and the messages that said so)."""

from __future__ import annotations

import pytest
from textual.message import Message

from coreflow_tui.tui.messages import ChangeRefused, JobsChanged
from coreflow_tui.tui.screens.cancel_modal import CancelModal
from coreflow_tui.tui.keys import KEYS
from coreflow_tui.tui.screens.help_screen import HelpScreen
from coreflow_tui.tui.screens.main_screen import MainScreen
from coreflow_tui.tui.widgets.detail_pane import DetailPane
from coreflow_tui.tui.widgets.job_list import JobList
from coreflow_tui.tui.widgets.log_pane import LogPane
from coreflow_tui.tui.widgets.queue_list import QueueList
from store import Spool

from .conftest import app_on, settle, started
from .sample import start

WAITING = ["hotfix CVE-2026-1234", "feature/login@77ab0e1", "release/2.4 slow tests", "feature/login lint",
           "perf run on gpu", "fix/typo@0c1d2e3"]


def order(spool: Spool, queue: str = "default") -> list[str]:
    views, _ = spool.jobs(queue, {"pending", "held"})
    return [v.job.name for v in views]


def state_of(spool: Spool, name: str) -> str:
    views, _ = spool.jobs(None, {"pending", "held", "running", "succeeded", "failed", "cancelled"})
    return next(v.state for v in views if v.job.name == name)


def jobs_of(app: object) -> JobList:
    return app.screen.query_one(JobList)  # type: ignore[attr-defined]


def current_name(app: object) -> str:
    jl = jobs_of(app)
    job = jl.job(jl.cursor)
    assert job is not None
    return job.name


async def press(pilot: object, *keys: str) -> None:
    for k in keys:
        await pilot.press(k)  # type: ignore[attr-defined]
        await settle(pilot)


async def type_text(pilot: object, text: str) -> None:
    """Type into the focused input, key by key, then let it settle."""
    await pilot.press(*("space" if ch == " " else ch for ch in text))  # type: ignore[attr-defined]
    await settle(pilot)


async def test_start_focus_on_first_pending_job_of_default(sample: Spool) -> None:
    async with started(sample, size=(120, 40)) as (app, pilot):
        assert isinstance(app.focused, JobList)
        assert current_name(app) == "hotfix CVE-2026-1234"
        assert jobs_of(app).rows.queue == "default"


@pytest.mark.parametrize("down,up", [("down", "up"), ("j", "k")])
async def test_cursor_keys(sample: Spool, down: str, up: str) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, down, down)
        assert current_name(app) == "release/2.4 slow tests"
        await press(pilot, up)
        assert current_name(app) == "feature/login@77ab0e1"
        await press(pilot, "home")
        assert current_name(app) == "main@9f3c21a"
        await press(pilot, "end")
        assert current_name(app) == "fix/typo@0c1d2e3"


@pytest.mark.parametrize("key", ["K", "shift+up"])
async def test_move_up_keeps_cursor_on_the_job(sample: Spool, key: str) -> None:
    app = app_on(sample)
    seen: list[Message] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await settle(pilot)
        await press(pilot, "j", "j", "j")  # feature/login lint, position 4
        await press(pilot, key)
        assert order(sample)[2] == "feature/login lint"
        assert current_name(app) == "feature/login lint"
        assert any(isinstance(m, JobsChanged) and "moved up" in m.text for m in seen)


@pytest.mark.parametrize("key", ["J", "shift+down"])
async def test_move_down(sample: Spool, key: str) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, key)
        assert order(sample)[:2] == ["feature/login@77ab0e1", "hotfix CVE-2026-1234"]
        assert current_name(app) == "hotfix CVE-2026-1234"


async def test_top_and_bottom(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "end", "t")
        assert order(sample)[0] == "fix/typo@0c1d2e3"
        await press(pilot, "b")
        assert order(sample)[-1] == "fix/typo@0c1d2e3"
        assert order(sample) == WAITING


@pytest.mark.parametrize("key,confirm", [("c", "y"), ("delete", "enter")])
async def test_cancel_confirmed(sample: Spool, key: str, confirm: str) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, key)
        assert isinstance(app.screen, CancelModal)
        assert "p7vqwbz9" in app.screen.jobs[0][0] or app.screen.jobs[0][1] == "hotfix CVE-2026-1234"
        await press(pilot, confirm)
        assert isinstance(app.screen, MainScreen)
        assert state_of(sample, "hotfix CVE-2026-1234") == "cancelled"
        assert current_name(app) == "feature/login@77ab0e1"


@pytest.mark.parametrize("back", ["n", "escape"])
async def test_cancel_aborted(sample: Spool, back: str) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "c", back)
        assert isinstance(app.screen, MainScreen)
        assert order(sample) == WAITING


async def test_cancel_running_job_leaves_a_request(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "home", "c")
        assert app.screen.jobs[0][2] == "running"
        await press(pilot, "y")
        rows = jobs_of(app).rows
        assert sample.cancel_requested("default", rows.job_id(0))
        assert rows.job_id(0) in rows.cancelling


async def test_hold_and_release(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "h")
        assert state_of(sample, "hotfix CVE-2026-1234") == "held"
        assert order(sample) == WAITING  # a held job keeps its place
        await press(pilot, "h")
        assert state_of(sample, "hotfix CVE-2026-1234") == "pending"


async def test_marks_apply_to_hold_move_and_cancel(sample: Spool) -> None:
    async with started(sample, size=(120, 40)) as (app, pilot):
        await press(pilot, "j", "space", "j", "space")  # mark feature/login@.. and feature/login lint
        assert len(jobs_of(app).marked) == 2
        await press(pilot, "t")
        assert order(sample)[:2] == ["feature/login@77ab0e1", "feature/login lint"]
        await press(pilot, "K")  # both already at the top: nothing swaps
        assert order(sample)[:2] == ["feature/login@77ab0e1", "feature/login lint"]
        await press(pilot, "h")
        assert state_of(sample, "feature/login lint") == "held"
        assert state_of(sample, "feature/login@77ab0e1") == "held"
        await press(pilot, "c")
        assert [j[1] for j in app.screen.jobs] == ["feature/login@77ab0e1", "feature/login lint"]
        await press(pilot, "y")
        assert state_of(sample, "feature/login lint") == "cancelled"
        assert state_of(sample, "feature/login@77ab0e1") == "cancelled"
        assert not jobs_of(app).marked


async def test_refused_change_is_a_notification(sample: Spool) -> None:
    """The job starts (another process) between the look and the key: a notification, no traceback."""
    app = app_on(sample)
    seen: list[Message] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await settle(pilot)
        start(sample, jobs_of(app).current_id)  # the app has not seen this yet (no feed here)
        await press(pilot, "J")
        refused = [m for m in seen if isinstance(m, ChangeRefused)]
        assert refused and "already started" in refused[0].text
        assert any("already started" in n.message for n in app._notifications)
        assert isinstance(app.screen, MainScreen)


async def test_retry_in_finished_view(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        assert jobs_of(app).check_action("change", ("retry",)) is False  # not offered among waiting jobs
        await press(pilot, "f")
        rows = jobs_of(app).rows
        assert rows.state(0) in ("succeeded", "failed", "cancelled")
        failed = next(i for i in range(len(rows)) if rows.state(i) == "failed")
        for _ in range(failed):
            await press(pilot, "j")
        assert jobs_of(app).check_action("change", ("cancel",)) is False  # not offered: c says why instead
        await press(pilot, "r")
        assert state_of(sample, "main@3ea") == "pending"
        await press(pilot, "f")
        assert jobs_of(app).rows.__class__.__name__ == "QueueRows"


async def test_pause_and_resume(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "p")
        assert sample.queue_config("default").paused
        assert app.screen.query_one("#jobs-pane").has_class("-paused")
        await press(pilot, "p")
        assert not sample.queue_config("default").paused


async def test_filter(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "slash")
        await type_text(pilot, "login")
        rows = jobs_of(app).rows
        assert len(rows) == 2
        await press(pilot, "enter")
        assert isinstance(app.focused, JobList)
        await press(pilot, "J")  # moves act on the real positions
        assert order(sample).index("feature/login@77ab0e1") == 2
        await press(pilot, "escape")
        assert len(jobs_of(app).rows) == 8
        await press(pilot, "slash")
        await type_text(pilot, "nightly")  # trigger name
        assert [jobs_of(app).job(i).name for i in range(len(jobs_of(app).rows))] == ["feature/login lint"]
        await press(pilot, "escape")
        assert len(jobs_of(app).rows) == 8


async def test_log_toggle_shows_the_log(sample: Spool) -> None:
    async with started(sample, size=(120, 40)) as (app, pilot):
        await press(pilot, "home", "l")
        log = app.screen.query_one(LogPane)
        assert log.display
        await settle(pilot)
        assert "linking build/app" in log.text
        await press(pilot, "l")
        assert not log.display


async def test_enter_opens_detail_and_escape_returns(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "enter")
        detail = app.screen.query_one(DetailPane)
        assert detail.display and app.focused is detail
        assert detail.detail is not None and detail.detail.view.job.name == "hotfix CVE-2026-1234"
        await press(pilot, "escape")
        assert isinstance(app.focused, JobList)
        assert not detail.display  # at 80 columns the detail opens on demand


async def test_tab_switches_panes_and_queue_selection(sample: Spool) -> None:
    async with started(sample, size=(120, 40)) as (app, pilot):
        await press(pilot, "shift+tab")
        assert isinstance(app.focused, QueueList)
        await press(pilot, "j")
        assert jobs_of(app).rows.queue == "deploy"
        await press(pilot, "enter")
        assert isinstance(app.focused, JobList)
        await press(pilot, "tab")
        assert not isinstance(app.focused, JobList)


async def test_submit_form(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "s")
        await type_text(pilot, "make docs")
        await press(pilot, "enter")
        views, _ = sample.jobs("default", {"pending"})
        assert views[-1].job.command == ["make", "docs"]
        assert views[-1].job.name == "make"


async def test_add_queue(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "n")
        await type_text(pilot, "nightly")
        await press(pilot, "enter", "backspace", "3", "enter")
        assert sample.queue_config("nightly").slots == 3
        assert "nightly" in [o.id for o in app.screen.query_one(QueueList).options]


async def test_add_queue_with_slots_that_are_no_number_asks_again(sample: Spool) -> None:
    from coreflow_tui.tui.screens.queue_modal import QueueModal

    async with started(sample) as (app, pilot):
        await press(pilot, "n")
        await type_text(pilot, "weekly")
        await press(pilot, "enter", "backspace", "minus", "enter")  # the integer input lets "-" through
        assert isinstance(app.screen, QueueModal) and "weekly" not in sample.queue_names()
        await press(pilot, "backspace", "2", "enter")
        assert sample.queue_config("weekly").slots == 2


async def test_help_and_quit(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await press(pilot, "escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_palette_has_every_action(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        titles = {c.title.lower() for c in app.get_system_commands(app.screen)}
        for k in KEYS:
            if k.action:
                assert k.what.lower() in titles
        hold = next(c for c in app.get_system_commands(app.screen) if c.title.startswith("Hold"))
        hold.callback()
        await settle(pilot)
        assert state_of(sample, "hotfix CVE-2026-1234") == "held"


async def test_every_listed_key_is_bound(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        bound = set()
        for node in (app.screen, jobs_of(app), app.screen.query_one(QueueList)):
            for key in node._bindings.key_to_bindings:
                bound.add(key)
        needed = {"up", "down", "k", "j", "tab", "shift+tab", "enter", "K", "J", "shift+up", "shift+down", "t",
                  "b", "c", "delete", "h", "r", "p", "space", "slash", "l", "s", "n", "f", "q", "question_mark"}
        missing = needed - bound - {"tab", "shift+tab", "up", "down"}  # those are Textual's own
        assert not missing
