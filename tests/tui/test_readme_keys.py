"""README's key table and the action registry (keys.py) say the same."""

from __future__ import annotations

import re
from pathlib import Path

from coreflow_tui.tui.keys import KEYS

README = Path(__file__).resolve().parents[2] / "README.md"


def _split(text: str) -> set[str]:
    """Key names in "c / delete", "up down, k j", "ctrl+p / :", "`K`/`J`" ("/" alone is the key)."""
    return {k for k in re.split(r"(?<=\S)/(?=\S)|[ ,]+/[ ,]+|[ ,]+", text.strip()) if k and k != "or"}


def _keys(text: str) -> set[str]:
    return _split(text)


def _readme_keys() -> set[str]:
    table = [line for line in README.read_text().splitlines() if line.startswith("| `")]
    assert table, "README has no key table"
    return {k for line in table for cell in re.findall(r"`([^`]+)`", line.split("|")[1]) for k in _split(cell)}


def test_readme_names_every_key_that_does_something() -> None:
    """Every key the registry binds to an action the palette offers is in README's key table."""
    readme = _readme_keys()
    wanted = {k for row in KEYS if row.action for k in _keys(row.keys)}
    assert not wanted - readme


def test_readme_names_no_key_the_registry_lacks() -> None:
    """No key in README's table that the registry (help, bindings, palette) does not know."""
    known = {k for row in KEYS for k in _keys(row.keys)}
    assert not _readme_keys() - known
