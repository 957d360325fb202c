"""The terminal UI: one app factory, `make_app`, used by the CLI, the tests and the screenshots."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.screen import Screen

from store import Spool

from .keyorder import KeysInOrder
from .keys import KEYS
from .screens.main_screen import MainScreen
from .settings import Settings


class CoreflowApp(KeysInOrder):
    CSS_PATH = "coreflow.tcss"
    TITLE = "CoreFlow"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),  # as in every other terminal tool
    ]

    def __init__(self, spool: Spool, settings: Settings) -> None:
        super().__init__()
        self.spool = spool
        self.settings = settings

    def on_mount(self) -> None:
        self.push_screen(MainScreen(self.spool, self.settings))

    def get_driver_class(self) -> type[Driver]:
        # Glyphs this terminal can draw: ASCII on a non-UTF-8 output, CP437 on the Linux console.
        from .glyphs import driver_class

        return driver_class(super().get_driver_class())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):
            return
        for k in KEYS:
            if k.action is None:
                continue
            target, _, name = k.action.partition(":")
            if target == "jobs":
                run = partial(screen.job_action, name)
            elif target == "screen":
                run = partial(screen.run_action, name)
            else:
                run = partial(self.run_action, name)
            yield SystemCommand(k.what[0].upper() + k.what[1:], f"key: {k.keys}", run)


def make_app(spool: Spool | str | Path, settings: Settings | None = None) -> CoreflowApp:
    return CoreflowApp(spool if isinstance(spool, Spool) else Spool.open(spool), settings or Settings())


def cmd_tui(args: argparse.Namespace) -> int:
    spool = Spool.open(args.spool)
    queue = getattr(args, "queue", None)
    if queue:
        spool.check_queue(queue)
    make_app(spool, Settings(queue=queue)).run()
    return 0
