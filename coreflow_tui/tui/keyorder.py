"""Keys act in the order typed, each on what the screen shows after the keys before it.

Textual routes a key to the widget focused when the key *arrives* and runs its binding
only when the key has bubbled back up to the app; focus changes and pushed screens land
later still (`Widget.focus` and screen mounting are deferred). So `/b` typed in one burst
sent both keys to the jobs list, and `b` moved a job instead of reaching the filter.

Here: where no text input has the focus, a key's binding runs the moment the key arrives
(as Textual does for priority bindings) and screens change focus synchronously
(`Screen.set_focus`); while a pushed screen is being mounted, or a key travels through a
text input, later keys wait and are then replayed in order.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import App
from textual.timer import Timer
from textual.widgets import Input, TextArea

HOLD_LIMIT = 2.0  # seconds: something that never gets ready must not swallow the keyboard


class KeysInOrder(App[Any]):
    _held: list[events.Key] | None = None
    _holds: set[object]
    _hold_timer: Timer | None = None
    _in_flight: events.Key | None = None

    def hold_keys(self, why: object) -> None:
        """Keys arriving from now on wait until `release_keys(why)` (something is being opened)."""
        if not hasattr(self, "_holds"):
            self._holds = set()
        self._holds.add(why)
        if self._held is None:
            self._held = []
            self._hold_timer = self.set_timer(HOLD_LIMIT, self._release_all)

    def release_keys(self, why: object) -> None:
        """Once nothing holds them, replay the held keys in order, after what is queued (the new focus)."""
        holds = getattr(self, "_holds", set())
        holds.discard(why)
        if not holds and self._held is not None:
            self.call_later(self._replay)

    def _release_all(self) -> None:
        self._holds.clear()
        self.call_later(self._replay)

    async def _replay(self) -> None:
        if self._holds or self._held is None:
            return
        keys, self._held = self._held, None
        if self._hold_timer is not None:
            self._hold_timer.stop()
        while keys:
            await self._route_key(keys.pop(0))
            if self._held is not None:  # that key opened something too: the rest wait again
                self._held[:0] = keys
                return

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._held is not None:
                self._held.append(event)
            else:
                await self._route_key(event)
            return
        await super().on_event(event)

    async def _route_key(self, event: events.Key) -> None:
        """Run the key's binding now unless a text input takes the key; else route it as Textual does."""
        self.app_focus = True
        if await self._check_bindings(event.key, priority=True):
            return
        focused = self.focused
        if isinstance(focused, (Input, TextArea)):
            # The input takes the key in its own time: later keys (an enter acting at once) wait
            # for it; a character is done when the input has read it, any other key once its
            # binding ran at the app.
            self.hold_keys(event)
            if event.is_printable:
                focused.call_later(self.release_keys, event)
            else:
                self._in_flight = event
        elif self.screen.maximized is None and await self._check_bindings(event.key):
            return
        await super().on_event(event)

    def on_key(self, event: events.Key) -> None:
        # Runs just before App._on_key's bindings; the replay is queued after them.
        if event is self._in_flight:
            self._in_flight = None
            self.release_keys(event)

    def push_screen(self, screen: Any, *args: Any, **kw: Any) -> Any:
        result = super().push_screen(screen, *args, **kw)
        pushed = self.screen
        self.hold_keys(pushed)
        # processed by the new screen after its mount and focus: then the held keys are its
        pushed.call_after_refresh(self.release_keys, pushed)
        return result
