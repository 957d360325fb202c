"""`e` edits a waiting job as `coreflow set` does; every refused key says why (issue 10 items 6, 12)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from coreflow_tui.tui.screens.edit_modal import EditModal
from coreflow_tui.tui.screens.main_screen import MainScreen
from store import Spool

from .conftest import settle, started
from .test_keys import WAITING, jobs_of, order, press, type_text


def notes(app) -> list[str]:  # noqa: ANN001
    return [n.message for n in app._notifications]


async def test_edit_form_changes_priority_and_name(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "end", "e")  # fix/typo@0c1d2e3, priority 0, last
        assert isinstance(app.screen, EditModal)
        assert app.focused is app.screen.query_one("#priority", Input)
        await press(pilot, "ctrl+u")
        await type_text(pilot, "high")
        await press(pilot, "shift+tab", "ctrl+u")
        await type_text(pilot, "typo fix")
        for _ in range(5):
            await press(pilot, "enter")
        assert isinstance(app.screen, MainScreen)
        assert order(sample)[:2] == ["hotfix CVE-2026-1234", "typo fix"]  # behind the urgent one
        jid = next(v.job.id for v in sample.jobs("default", {"pending"})[0] if v.job.name == "typo fix")
        assert any(a.action == "set" and "priority: 0 -> 10" in a.detail for a in sample.audit(jid))


async def test_edit_form_refuses_a_bad_priority_and_keeps_what_was_typed(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "e", "ctrl+u")
        await type_text(pilot, "soon")
        for _ in range(4):
            await press(pilot, "enter")
        assert isinstance(app.screen, EditModal)
        assert app.screen.query_one("#priority", Input).value == "soon"
        assert any("invalid priority" in n for n in notes(app))
        await press(pilot, "escape")
        assert order(sample) == WAITING


async def test_edit_of_a_running_job_says_it_already_started(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "home", "e")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert any("already started on build-01" in n for n in notes(app))


@pytest.mark.parametrize("key", ["J", "K", "t", "b", "h"])
async def test_changes_of_a_running_job_say_where_it_runs(sample: Spool, key: str) -> None:
    """Before, these keys did nothing at all on a running job."""
    async with started(sample) as (app, pilot):
        await press(pilot, "home", key)
        await settle(pilot)
        assert any("already started on build-01" in n for n in notes(app)), notes(app)
        assert order(sample) == WAITING


async def test_retry_among_waiting_jobs_says_where_it_works(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "r")
        assert any("finished" in n for n in notes(app))


async def test_finished_view_offers_only_what_works_and_says_why_for_the_rest(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "f")
        shown = {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}
        assert "r" in shown and not {"c,delete", "c", "h", "space"} & shown
        for key in ("c", "J", "h", "space"):
            await press(pilot, key)
        said = " ".join(notes(app))
        for what in ("cancelled", "moved", "held", "marked"):
            assert f"finished jobs cannot be {what}" in said


async def test_marks_are_counted_cleared_with_U_and_the_cancel_dialog_names_jobs_started_since(
        sample: Spool) -> None:
    from coreflow_tui.tui.screens.cancel_modal import CancelModal

    from .sample import start

    async with started(sample, size=(120, 40)) as (app, pilot):
        await press(pilot, "space", "space")
        assert "2 marked" in str(app.screen.query_one("#jobs-pane").border_title)
        await press(pilot, "U")
        assert not jobs_of(app).marked and "marked" not in str(app.screen.query_one("#jobs-pane").border_title)
        await press(pilot, "g", "j", "j", "space", "space")  # hotfix and feature/login@77ab0e1
        first = next(iter(jobs_of(app).marked))
        start(sample, first)
        app.screen.request_load("jobs")
        await settle(pilot)
        await press(pilot, "c")
        assert isinstance(app.screen, CancelModal)
        text = str(app.screen.query_one("Static").render())
        assert "1 of them started since you marked them" in text


async def test_g_and_G_and_ctrl_c(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await press(pilot, "G")
        assert jobs_of(app).cursor == len(jobs_of(app).rows) - 1
        await press(pilot, "g")
        assert jobs_of(app).cursor == 0
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 0
