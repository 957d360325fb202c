"""Packaging: the wheel and the sdist build cleanly and carry the stylesheet; the wheel,
installed on its own, gives a working `coreflow` that names its version and spool format."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from coreflow_tui import __version__
from store.layout import FORMAT
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                       capture_output=True, text=True, timeout=280)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "deprecated" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    return out


def test_wheel_and_sdist_carry_the_stylesheet_and_every_package(dist: Path) -> None:
    (whl,) = dist.glob(f"coreflow-{__version__}-*.whl")
    (sdist,) = dist.glob(f"coreflow-{__version__}.tar.gz")
    names = set(zipfile.ZipFile(whl).namelist())
    for pkg in ("store", "coreflow_tui", "coreflow_tui/ops", "coreflow_tui/runner", "coreflow_tui/triggers",
                "coreflow_tui/tui", "coreflow_tui/tui/screens", "coreflow_tui/tui/widgets"):
        assert f"{pkg}/__init__.py" in names, pkg
    assert "coreflow_tui/tui/coreflow.tcss" in names
    entry = zipfile.ZipFile(whl).read(f"coreflow-{__version__}.dist-info/entry_points.txt").decode()
    assert "coreflow = coreflow_tui.cli:main" in entry
    with tarfile.open(sdist) as tar:
        assert f"coreflow-{__version__}/coreflow_tui/tui/coreflow.tcss" in tar.getnames()


def test_the_installed_wheel_runs(dist: Path, tmp_path: Path) -> None:
    """Installed alone (not this checkout), it answers --version and finds its stylesheet."""
    (whl,) = dist.glob("*.whl")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(whl)],
                   check=True, capture_output=True, timeout=120)
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import coreflow_tui, sys, pathlib; from coreflow_tui.cli import main; "
            "print(coreflow_tui.__file__); print((pathlib.Path(coreflow_tui.__file__).parent / 'tui' / 'coreflow.tcss').is_file()); "
            "main(['--version'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    where, has_css, version = out.stdout.splitlines()
    assert where.startswith(str(target)) and has_css == "True"
    assert version == f"coreflow {__version__} (spool format {FORMAT})"


def test_version_names_the_spool_format(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "coreflow_tui", "--version"], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout == f"coreflow {__version__} (spool format {FORMAT})\n"
