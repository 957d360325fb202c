"""Keys typed in one burst (a paste, a fast typist, a laggy link) land where the screen says.

`burst` posts every key to the app before it handles the first, as a terminal's one write
delivers them; the tmux test sends one string through a real terminal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual import events
from textual.command import CommandInput
from textual.keys import _character_to_key
from textual.widgets import Input

from coreflow_tui.tui.screens.cancel_modal import CancelModal
from coreflow_tui.tui.screens.main_screen import MainScreen
from coreflow_tui.tui.widgets.filter_bar import FilterBar
from store import Spool

from .conftest import settle, started
from .test_keys import WAITING, order, press, state_of

NAMED = {"\r": "enter", "\x1b": "escape", "\x7f": "backspace", "\t": "tab"}


def burst(app: object, keys: str | list[str]) -> None:
    """Every key posted at once: none is handled before the last has arrived."""
    for k in keys:
        if k in NAMED:
            key, char = NAMED[k], None
        elif len(k) == 1:
            key, char = _character_to_key(k) if not k.isalnum() else k, k
        else:
            key, char = k, None
        app.post_message(events.Key(key, char))  # type: ignore[attr-defined]


def fields(app: object) -> dict[str, str]:
    return {i.id or "": i.value for i in app.screen.query(Input)}  # type: ignore[attr-defined]


async def test_slash_then_a_letter_filters_and_moves_nothing(sample: Spool) -> None:
    """`/b` in one write: the filter gets "b"; before, `b` moved the job to the bottom."""
    async with started(sample) as (app, pilot):
        burst(app, "/b")
        await settle(pilot)
        assert app.screen.query_one(FilterBar).value == "b"
        assert isinstance(app.focused, FilterBar)
        assert order(sample) == WAITING


async def test_pilot_press_without_pause(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        await pilot.press("slash", "b", "u", "g")
        await settle(pilot)
        assert app.screen.query_one(FilterBar).value == "bug"
        assert order(sample) == WAITING


async def test_filter_typed_on_a_paused_queue_never_resumes_it(sample: Spool) -> None:
    """`/appp` on the paused deploy queue: three `p`s are text, not three resumes."""
    async with started(sample, queue="deploy") as (app, pilot):
        burst(app, "/appp")
        await settle(pilot)
        assert sample.queue_config("deploy").paused
        assert not [a for a in sample.queue_audit("deploy") if a.action == "resume"]
        assert app.screen.query_one(FilterBar).value == "appp"


async def test_submit_dialog_gets_every_key(sample: Spool) -> None:
    """`sxyz`: the command field gets "xyz" and the queue stays "default"."""
    async with started(sample) as (app, pilot):
        burst(app, "sxyz")
        await settle(pilot)
        assert fields(app)["command"] == "xyz"
        assert fields(app)["queue"] == "default"


async def test_a_whole_submit_in_one_write_then_keys_for_the_list(sample: Spool) -> None:
    """The dialog closes on enter before the next key is routed: `j` moves the cursor again."""
    async with started(sample) as (app, pilot):
        burst(app, "smake docs\rj")
        await settle(pilot)
        views, _ = sample.jobs("default", {"pending"})
        assert views[-1].job.command == ["make", "docs"]
        assert isinstance(app.screen, MainScreen)
        assert app.screen.jobs.rows is not None and app.screen.jobs.cursor == 3  # hotfix row + 1


async def test_tab_in_a_dialog_moves_the_following_keys_along(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        burst(app, ["n", *"weekly", "tab", "backspace", "2", "enter"])
        await settle(pilot)
        assert sample.queue_config("weekly").slots == 2


async def test_cancel_and_confirm_in_one_write(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        burst(app, "cy")
        await settle(pilot)
        assert state_of(sample, "hotfix CVE-2026-1234") == "cancelled"
        assert not isinstance(app.screen, CancelModal)


async def test_colon_opens_the_palette_and_keeps_what_follows(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        burst(app, ":hold")
        await settle(pilot)
        assert app.screen.query_one(CommandInput).value == "hold"
        await press(pilot, "escape")


async def test_edit_form_gets_the_keys_after_e(sample: Spool) -> None:
    async with started(sample) as (app, pilot):
        burst(app, ["e", "ctrl+u", *"urgent", "enter", "enter", "enter", "enter", "enter"])
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        views, _ = sample.jobs("default", {"pending", "held"})
        assert views[0].job.name == "hotfix CVE-2026-1234" and views[0].job.priority == 20


@pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")
def test_one_tmux_write_lands_in_the_filter(sample: Spool, tmp_path: Path) -> None:
    """Through a real terminal: `/b` and `/appp` sent as one string each."""
    session = f"tui-typeahead-{os.getpid()}"
    cmd = f"{sys.executable} -m coreflow_tui --spool {sample.root} tui"
    env = {**os.environ, "TERM": "xterm-256color", "COREFLOW_WATCH": "poll"}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", cmd], check=True, env=env)
    try:
        def screen() -> str:
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True).stdout

        def wait_for(text: str) -> str:
            end = time.monotonic() + 20
            while text not in (shown := screen()):
                assert time.monotonic() < end, f"{text!r} not on screen:\n{shown}"
                time.sleep(0.1)
            return shown

        wait_for("hotfix CVE")
        subprocess.run(["tmux", "send-keys", "-t", session, "-l", "/b"], check=True)
        wait_for("[filter")
        assert order(sample) == WAITING
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
        subprocess.run(["tmux", "send-keys", "-t", session, "-l", "sxyz"], check=True)
        shown = wait_for("xyz")
        assert "Queue" in shown
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
        time.sleep(0.3)
        subprocess.run(["tmux", "send-keys", "-t", session, "-l", "q"], check=True)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert order(sample) == WAITING
    assert not sample.jobs("default", {"pending"})[0][-1].job.command == ["xyz"]
