"""Regenerate screenshots/*.svg: `python screenshots/make.py`.

Builds the tests' sample spool (every state the TUI shows, fixed ids and times) in a
temporary directory through the store, opens the app on it with `make_app` — the
same factory the CLI and the tests use — and saves one picture per view.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from coreflow_tui.tui.app import Settings, make_app
from tests.tui.sample import NOW, build

# name -> (size, keys pressed first, build options)
SHOTS: dict[str, tuple[tuple[int, int], tuple[str, ...], dict[str, bool]]] = {
    "main": ((120, 40), (), {}),
    "main-80x24": ((80, 24), (), {}),
    "main-60x20": ((60, 20), (), {}),
    "edit": ((80, 24), ("e",), {}),
    "detail-80x24": ((80, 24), ("enter",), {}),
    "log": ((120, 40), ("home", "l"), {}),
    "cancel": ((120, 40), ("space", "space", "c"), {}),
    "finished": ((120, 40), ("f",), {}),
    "help": ((120, 40), ("question_mark",), {}),
    "warning-80x24": ((80, 24), (), {"corrupt": True, "lost_runner": True}),
}


async def shoot(root: Path, name: str, size: tuple[int, int], keys: tuple[str, ...]) -> None:
    app = make_app(root, Settings(clock=lambda: NOW, follow=False, watch="inotify", spool_label="/srv/ci/spool",
                                  host="build-01"))
    async with app.run_test(size=size) as pilot:
        for key in ("", *keys):
            if key:
                await pilot.press(key)
            for _ in range(4):
                await pilot.pause()
                await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot(str(HERE / f"{name}.svg"))


def main() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    with tempfile.TemporaryDirectory() as tmp:
        for name, (size, keys, opts) in SHOTS.items():
            root = Path(tmp) / name
            build(root, **opts)
            asyncio.run(shoot(root, name, size, keys))
            print(HERE / f"{name}.svg")


if __name__ == "__main__":
    main()
