"""The filter line under the jobs: text to match in name, type, labels, trigger and id."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input


class FilterBar(Input):
    # Priority, and on the screen: the jobs list has the focus back before the next key arrives.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "screen.filter_done", "Keep filter", priority=True),
        Binding("escape", "screen.filter_clear", "Clear filter", priority=True),
    ]
