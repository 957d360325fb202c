"""Fixtures of the TUI tests: the sample spool, an app on it with a fixed clock, waiting helpers."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot

from coreflow_tui.tui.app import CoreflowApp, Settings, make_app
from store import Spool

from .sample import NOW, build


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dates in the detail pane are local time: pin the zone for repeatable pictures."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("COREFLOW_WATCH", raising=False)


@pytest.fixture
def sample(tmp_path: Path) -> Spool:
    return build(tmp_path / "spool")


def app_on(spool: Spool, follow: bool = False, watch: str = "inotify", **kw: object) -> CoreflowApp:
    settings = Settings(clock=lambda: NOW, follow=follow, watch=watch, spool_label="/srv/ci/spool",
                        host="build-01", **kw)  # type: ignore[arg-type]
    return make_app(spool, settings)


@asynccontextmanager
async def started(spool: Spool, size: tuple[int, int] = (80, 24),
                  **kw: object) -> AsyncIterator[tuple[CoreflowApp, Pilot]]:
    """The app on `spool`, running headless at `size`, once its first loads have landed."""
    app = app_on(spool, **kw)  # type: ignore[arg-type]
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        yield app, pilot


async def settle(pilot: object, rounds: int = 4) -> None:
    """Let workers finish and their messages land (loads, decodes, detail, changes)."""
    app = pilot.app  # type: ignore[attr-defined]
    for _ in range(rounds):
        await pilot.pause()  # type: ignore[attr-defined]
        # the feed's worker follows the spool for ever: wait for the others
        others = [w for w in app.workers if w.group != "feed"]
        if others:  # (an empty list would mean "all of them")
            await app.workers.wait_for_complete(others)
    await pilot.pause()  # type: ignore[attr-defined]


async def wait_until(pilot: object, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """For tests with the live feed running (its worker never completes)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no asyncio plugin needed)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {k: pyfuncitem.funcargs[k] for k in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**args))
    return True
