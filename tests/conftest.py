"""Fixtures shared by every test package: a spool, the CLI as a real process, two hosts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from store import Spool

ROOT = Path(__file__).resolve().parents[1]
TWO_HOSTS = ROOT.parent / "shared" / "tools" / "two-hosts"


@pytest.fixture(autouse=True, scope="session")
def _work_root_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Runners the tests start keep jobs' working directories under the session's tmp, not ~/.cache."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool.init(tmp_path / "spool")


def run_cf(spool: Spool | Path, *args: str, input: bytes | None = None, check: bool = False,
           timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `coreflow --spool SPOOL ARGS...` as a real process (text output)."""
    root = spool.root if isinstance(spool, Spool) else spool
    proc = subprocess.run(
        [sys.executable, "-m", "coreflow_tui", "--spool", str(root), *args],
        input=input, capture_output=True, timeout=timeout, env={**os.environ, **(env or {})},
    )
    out = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    if check and out.returncode != 0:
        raise AssertionError(f"coreflow {' '.join(args)} exited {out.returncode}: {out.stderr}")
    return out


@pytest.fixture
def cf(spool: Spool):
    """cf(*args) runs the CLI against the test's spool."""
    return lambda *args, **kw: run_cf(spool, *args, **kw)


def fuse_usable() -> str | None:
    if not TWO_HOSTS.exists():
        return f"{TWO_HOSTS} not found (shared/ is missing)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse: FUSE is unavailable here"
    if os.geteuid() != 0 and not shutil.which("bindfs"):
        return "bindfs is not installed and we are not root to install it"
    return None


@contextmanager
def two_host_views(tmp_path: Path, *flags: str) -> Iterator[tuple[Path, Path]]:
    """Two NFS-like views (hostA, hostB) of one directory (`two-hosts up ... FLAGS`);
    skips the test where FUSE cannot mount."""
    why = fuse_usable()
    if why:
        pytest.skip(why)
    base = tmp_path / "hosts"
    base.mkdir()
    up = subprocess.run(["bash", str(TWO_HOSTS), "up", str(base), *flags], capture_output=True, text=True)
    if up.returncode != 0:
        pytest.skip(f"two-hosts could not mount (FUSE unavailable?): {up.stderr.strip()}")
    try:
        yield base / "hostA", base / "hostB"
    finally:
        subprocess.run(["bash", str(TWO_HOSTS), "down", str(base)], capture_output=True)


@pytest.fixture
def two_hosts(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Two NFS-like views (hostA, hostB) of one directory; yields their paths."""
    with two_host_views(tmp_path) as views:
        yield views
