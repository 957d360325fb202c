"""The runners: host, pid, busy slots, heartbeat age; a lost one says what is left of it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from store.runners import RunnerState

from ...fmt import duration
from ...safetext import inert


class RunnerList(Static):
    states: list[RunnerState] = []

    def lines_needed(self) -> int:
        return 2 * max(1, len(self.states))

    def show(self, states: list[RunnerState], orphans: dict[str, int], since_load: float = 0.0) -> None:
        self.states = states
        if not states:
            self.update(Text("No runner has a heartbeat.\nStart one: coreflow runner", style="dim", no_wrap=True,
                             overflow="ellipsis"))
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        for n, r in enumerate(states):
            b = r.beat
            if n:
                text.append("\n")
            # Blanks end a span, never start one (librsvg drops leading blanks in screenshots).
            text.append(inert(b.host) + "  ", "bold")
            text.append(f"pid {b.pid}" + ("  " if r.lost or b.stopping else ""))
            silent = duration(r.age + since_load)
            if r.lost:
                text.append("LOST", "bold reverse")
                left = orphans.get(b.id, 0)
                # Its last beat's busy count is stale: say what is still running under its name.
                text.append(f"\nsilent {silent}, holds " + (f"{left} job{'s' if left > 1 else ''}" if left
                                                             else "no job"), "italic")
                continue
            if b.stopping:
                text.append("draining", "italic")
            text.append(f"\n{len(b.busy)}/{b.slots} busy  ♥ {silent} ago  ")
            text.append(inert(",".join(b.queues)), "dim")
        self.update(text)
