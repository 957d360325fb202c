"""Job types from `types.toml`: what kind of job this is, who owns it, its defaults."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from .errors import ConfigError, InvalidName
from .limits import check_hook
from .names import check_name, parse_priority

EXAMPLE = '''\
# Job types: one table each. Every key is optional.
# [build]
# description = "Compile and unit-test a branch"
# owner = "ci-team@example.com"
# queue = "build"        # default queue for jobs of this type
# timeout = 1800         # seconds
# priority = 0
# on_finish = "notify-chat"  # a shell command run after each job of this type ends
#                            # (wins over the queue's `queue set --on-finish`)
# on_finish_timeout = 30     # seconds before the hook is killed (30)
# keep_workdir = false       # keep the job's own working directory after it ends
'''


class JobType(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    description: str = ""
    owner: str = ""
    queue: str | None = None
    timeout: float | None = None
    priority: int | None = None
    requires: list[str] = []
    on_finish: str = ""  # finish hook: see coreflow_tui/runner/hooks.py
    on_finish_timeout: float | None = None
    keep_workdir: bool | None = None  # None: the runner's --keep-workdir decides


_cache: dict[Path, tuple[tuple[int, int, int], dict[str, JobType]]] = {}


def load_types(path: Path) -> dict[str, JobType]:
    """Parse types.toml (cached by mtime, size and inode; read with the limits of
    tomlfile). A missing file means no types."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {}
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    hit = _cache.get(path)
    if hit and hit[0] == key:
        return hit[1]
    from .tomlfile import load_toml  # here: a spool without types.toml needs no TOML parser

    try:
        raw = load_toml(path)
    except FileNotFoundError:
        return {}
    types: dict[str, JobType] = {}
    for name, table in raw.items():
        try:
            check_name(name, "job type name")
        except InvalidName as exc:
            raise ConfigError(f"{path}: [{name}]: {exc}") from None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {name} must be a table ([{name}]), not a {type(table).__name__}")
        try:
            types[name] = msgspec.convert(table, JobType)
            if types[name].priority is not None:
                parse_priority(types[name].priority)  # the same range as a submit's
            check_hook(types[name].on_finish, types[name].on_finish_timeout, f"{path}: [{name}]")
        except (msgspec.ValidationError, InvalidName) as exc:
            raise ConfigError(f"{path}: [{name}]: {exc}") from None
    _cache[path] = (key, types)
    return types
