"""Reading a TOML file people write (types.toml, triggers/NAME.toml), within limits.

The file is read with safeio (no FIFO, no symlink, at most MAX_TOML_BYTES) and may be
nested at most MAX_TOML_DEPTH deep; any failure is one ConfigError naming the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from . import safeio
from .errors import ConfigError, StorageError, UnsafeFile
from .limits import MAX_TOML_BYTES, check_toml_depth


def read_toml_text(path: Path, where: str | None = None) -> str:
    """The file's text; FileNotFoundError if it is missing (callers decide what that means)."""
    where = where or str(path)
    try:
        return safeio.read_file(path, MAX_TOML_BYTES, where).decode("utf-8")
    except (UnsafeFile, StorageError) as exc:
        raise ConfigError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """Parse TOML text, refusing more than MAX_TOML_BYTES or MAX_TOML_DEPTH levels."""
    if len(text) > MAX_TOML_BYTES:
        raise ConfigError(f"{where}: {len(text)} characters, more than the limit of {MAX_TOML_BYTES}: shorten it")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{where}: nested too deeply to read: flatten it") from None
    check_toml_depth(raw, where)
    return raw


def load_toml(path: Path, where: str | None = None) -> dict[str, Any]:
    where = where or str(path)
    return parse_toml(read_toml_text(path, where), where)
