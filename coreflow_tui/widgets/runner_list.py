"""The runners: host, pid, busy slots, heartbeat age, and a lost mark."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from store.runners import RunnerState

from ..safetext import inert
from ..fmt import duration


class RunnerList(Static):
    def show(self, states: list[RunnerState], since_load: float = 0.0) -> None:
        if not states:
            self.update(Text("No runner has a heartbeat.\nStart one: coreflow runner", style="dim"))
            return
        text = Text()
        for n, r in enumerate(states):
            b = r.beat
            if n:
                text.append("\n")
            text.append(inert(b.host), "bold")
            text.append(f" pid {b.pid}")
            if r.lost:
                text.append("  ")
                text.append("LOST", "bold reverse")
            elif b.stopping:
                text.append("  draining", "italic")
            text.append(f"\n  {len(b.busy)}/{b.slots} busy  ♥ {duration(r.age + since_load)} ago  ")
            text.append(inert(",".join(b.queues)), "dim")
        self.update(text)
