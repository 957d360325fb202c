"""Pictures of the TUI at 80x24 and 120x40, from the sample spool with a fixed clock.

Each test's docstring says what the picture must show. Update with
`pytest tests/tui/test_snapshots.py --snapshot-update` only after looking at them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from store import Spool

from .conftest import app_on, settle
from .sample import build

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def shoot(snap_compare, spool: Spool, size: tuple[int, int], keys: tuple[str, ...] = ()) -> bool:
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return snap_compare(app_on(spool), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare, sample: Spool, size) -> None:
    """default: two running jobs (elapsed, progress against the type's typical time) first,
    then waiting jobs in run order with why each waits, the held one in italics marked held;
    the cursor on the first pending job; deploy marked PAUSED; the runner build-01."""
    assert shoot(snap_compare, sample, size)


@pytest.mark.parametrize("size", SIZES)
def test_detail(snap_compare, sample: Spool, size) -> None:
    """enter on the hotfix job: every field, the type's description and history, why it
    waits and when it should start; focus in the detail pane."""
    assert shoot(snap_compare, sample, size, ("enter",))


@pytest.mark.parametrize("size", SIZES)
def test_log(snap_compare, sample: Spool, size) -> None:
    """l on the first running job: its log, followed to the end ("linking build/app")."""
    assert shoot(snap_compare, sample, size, ("home", "l"))


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, sample: Spool, size) -> None:
    """?: the keys, by where they work."""
    assert shoot(snap_compare, sample, size, ("question_mark",))


@pytest.mark.parametrize("size", SIZES)
def test_cancel_dialog(snap_compare, sample: Spool, size) -> None:
    """two jobs marked, then c: the dialog names both, with y/enter and n/escape."""
    assert shoot(snap_compare, sample, size, ("space", "space", "c"))


@pytest.mark.parametrize("size", SIZES)
def test_finished(snap_compare, sample: Spool, size) -> None:
    """f: finished jobs newest first with state, exit code, age and run time; the failed one red."""
    assert shoot(snap_compare, sample, size, ("f",))


@pytest.mark.parametrize("size", SIZES)
def test_empty_spool(snap_compare, spool: Spool, size) -> None:
    """A new spool: the default queue, no jobs, a hint to submit one, no runner."""
    assert shoot(snap_compare, spool, size)


@pytest.mark.parametrize("size", SIZES)
def test_corrupt_file_warning(snap_compare, tmp_path: Path, size) -> None:
    """A corrupt job file moved aside and a lost runner: the header's warning badge names both."""
    assert shoot(snap_compare, build(tmp_path / "spool", corrupt=True, lost_runner=True), size)


def test_main_screen_60x20(snap_compare, sample: Spool) -> None:
    """60x20: each queue on one line with its counts ("default 5 wait 1 held ▶2/2",
    "deploy 2 wait ▶0/1 PAUSED"), the runner build-01 beside them, the jobs below with short
    reasons; the footer starts with "? help" and "q quit"."""
    assert shoot(snap_compare, sample, (60, 20))


def test_resized_after_adding_a_queue(snap_compare, sample: Spool) -> None:
    """120x40, queue nightly added, then 80x24, 60x20 and back to 120x40: all four queues
    in the queues pane with no scrollbar, the runners pane under it taking the rest."""
    async def run_before(pilot) -> None:
        await settle(pilot)
        sample.add_queue("nightly", slots=1)
        pilot.app.screen.request_load("overview")
        await settle(pilot)
        for size in ((80, 24), (60, 20), (120, 40)):
            await pilot.resize_terminal(*size)
            await settle(pilot)

    assert snap_compare(app_on(sample), terminal_size=(120, 40), run_before=run_before)


def test_log_with_escape_laden_output(snap_compare, sample: Spool) -> None:
    """l on a job whose output clears the screen, sets the title, writes the clipboard and
    rings the bell: header, panes and footer intact; "red" in red, then "end", each once."""
    async def run_before(pilot) -> None:
        await settle(pilot)
        jid = pilot.app.screen.jobs.rows.job_id(0)
        sample.layout.log(jid).write_text("\x1b[2J\x1b[Hcompiling\n\x1b]0;pwned\x07\x1b]52;c;ZWNobyBoaQ==\x07"
                                          "\x1bP1$qm\x1b\\\x9b5A\x07\x1b[31mred\x1b[0m\nend\n")
        for key in ("home", "l"):
            await pilot.press(key)
            await settle(pilot)

    assert snap_compare(app_on(sample), terminal_size=(80, 24), run_before=run_before)


def test_edit_form(snap_compare, sample: Spool) -> None:
    """e on the hotfix job: its name, priority 20, no labels, no required labels, timeout
    1800s, the cursor in the priority field."""
    assert shoot(snap_compare, sample, (80, 24), ("e",))
