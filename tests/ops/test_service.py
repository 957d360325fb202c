"""`coreflow serve` under systemd, without systemd: a test plays the notify socket and
journald's stream; the unit is checked as INI (and by systemd-analyze where it works)."""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from store import Spool
from store.runners import runners
from tests.conftest import ROOT, run_cf

pytestmark = pytest.mark.timeout(90)


def _serve(spool: Spool, env: dict[str, str], stderr: object = subprocess.DEVNULL,
           *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "serve",
                             "--slots", "1", "--requeue-on-stop", *extra], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=stderr,
                            start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _messages(sock: socket.socket, until: str, timeout: float = 30) -> list[str]:
    """Datagrams received until one containing `until` (inclusive)."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while not got or until not in got[-1]:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            raise AssertionError(f"no {until} within {timeout}s; got {got}") from None
    return got


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_then_watchdog_pings_then_stopping(spool: Spool, tmp_path: Path, abstract: bool) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"coreflow-test-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind("\0" + name)
        address = "@" + name
    else:
        address = str(tmp_path / "notify")
        sock.bind(address)
    serve = _serve(spool, {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "300000"})
    try:
        first = _messages(sock, "READY=1")
        assert all("WATCHDOG" not in m for m in first)  # pinged only once started
        assert "STATUS=" in first[-1]
        # When READY comes, the runner has beaten: it serves already.
        assert [r.beat.pid for r in runners(spool)]
        pings = _messages(sock, "WATCHDOG=1") + _messages(sock, "WATCHDOG=1") + _messages(sock, "WATCHDOG=1")
        assert all(m == "WATCHDOG=1" for m in pings)
        serve.send_signal(signal.SIGTERM)
        rest = _messages(sock, "STOPPING=1")
        assert all(m == "WATCHDOG=1" for m in rest[:-1])
        assert serve.wait(30) == 0
    finally:
        _stop(serve)
        sock.close()


def test_watchdog_usec_for_another_pid_is_ignored(spool: Spool, tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    serve = _serve(spool, {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    try:
        _messages(sock, "READY=1")
        sock.settimeout(0.6)
        with pytest.raises(TimeoutError):
            sock.recv(4096)
        serve.send_signal(signal.SIGTERM)
        assert _messages(sock, "STOPPING=1")[-1].startswith("STOPPING=1")
        serve.wait(30)
    finally:
        _stop(serve)
        sock.close()


def test_under_journald_lines_carry_priorities_not_timestamps(spool: Spool, tmp_path: Path) -> None:
    log = tmp_path / "journal"
    with open(log, "wb") as f:
        st = os.fstat(f.fileno())
        serve = _serve(spool, {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, f)
        try:
            deadline = time.monotonic() + 30
            while "coreflow runner:" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            runner_pid = next(r.beat.pid for r in runners(spool))
            os.kill(runner_pid, signal.SIGKILL)  # a crash: logged as a warning
            deadline = time.monotonic() + 10
            while "was killed" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            serve.send_signal(signal.SIGTERM)
            serve.wait(30)
        finally:
            _stop(serve)
    lines = log.read_text().splitlines()
    assert lines and all(line[:1] == "<" and line[2:3] == ">" for line in lines), lines
    assert not [line for line in lines if line[3:5].isdigit()]  # no timestamp after the prefix
    assert any(line.startswith("<4>serve: runner (pid") and "was killed by SIGKILL" in line for line in lines)
    assert any(line.startswith("<6>serve: serving ") for line in lines)


def test_a_stream_that_is_not_journald_keeps_timestamps(spool: Spool, tmp_path: Path) -> None:
    """JOURNAL_STREAM inherited by a process whose stderr went elsewhere is not believed."""
    log = tmp_path / "log"
    with open(log, "wb") as f:
        serve = _serve(spool, {"JOURNAL_STREAM": "1:1"}, f)
        try:
            deadline = time.monotonic() + 30
            while "serving" not in log.read_text():
                assert time.monotonic() < deadline
                time.sleep(0.05)
            serve.send_signal(signal.SIGTERM)
            serve.wait(30)
        finally:
            _stop(serve)
    first = log.read_text().splitlines()[0]
    assert first[:4].isdigit() and "serve: serving" in first


def _unit(spool: Spool, *args: str) -> configparser.ConfigParser:
    out = run_cf(spool, "serve", "--systemd-unit", *args, check=True).stdout
    ini = configparser.ConfigParser(interpolation=None, strict=True)
    ini.optionxform = str  # type: ignore[assignment,method-assign]
    ini.read_string(out)
    return ini


def test_the_unit_runs_serve_as_the_user_with_hardening_that_leaves_the_spool_writable(
        spool: Spool, tmp_path: Path) -> None:
    work = tmp_path / "work space"
    ini = _unit(spool, "--user", "ci", "--queues", "default", "--slots", "3", "--writable", str(work),
                "--stop-timeout", "2h", "--metrics-textfile", str(tmp_path / "prom"))
    svc = ini["Service"]
    assert svc["Type"] == "notify" and svc["User"] == "ci"
    assert svc["Restart"] == "on-failure"
    assert svc["KillMode"] == "mixed" and svc["TimeoutStopSec"] == "7200s"
    assert svc["NoNewPrivileges"] == "yes" and svc["ProtectSystem"] == "strict"
    assert svc["PrivateTmp"] == "no"  # this spool is in /tmp: a private one would hide it
    assert int(svc["WatchdogSec"].rstrip("s")) > 0
    rw = svc["ReadWritePaths"]
    assert str(spool.root) in rw and f'"{work}"' in rw and str(tmp_path / "prom") in rw
    cmd = svc["ExecStart"]
    assert f"--spool {spool.root} serve" in cmd and "--slots 3" in cmd
    assert f"--metrics-textfile {tmp_path / 'prom'}" in cmd
    assert ini["Install"]["WantedBy"] == "multi-user.target"
    assert str(spool.root) in ini["Unit"]["RequiresMountsFor"]


def test_a_spool_outside_tmp_gets_a_private_tmp() -> None:
    from coreflow_tui.ops.unit import unit_text

    text = unit_text(Path("/srv/ci/spool"), [], user="ci", writable=[Path("/srv/ci/work")], stop_timeout=60)
    ini = configparser.ConfigParser(interpolation=None)
    ini.read_string(text)
    assert ini["Service"]["PrivateTmp"] == "yes"
    assert ini["Service"]["ReadWritePaths"] == "/srv/ci/spool /srv/ci/work"


def test_the_unit_command_actually_serves(spool: Spool) -> None:
    """ExecStart, run as it is written (the quoting undone by a shell), starts serve."""
    import shlex

    cmd = shlex.split(_unit(spool)["Service"]["ExecStart"])
    assert cmd[-4:-2] == ["--queues", "default"] or "serve" in cmd
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, start_new_session=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not runners(spool):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        _stop(proc)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_finds_nothing_wrong(spool: Spool, tmp_path: Path) -> None:
    unit = tmp_path / "coreflow-test.service"
    unit.write_text(run_cf(spool, "serve", "--systemd-unit", check=True).stdout)
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    relevant = [line for line in (out.stdout + out.stderr).splitlines() if unit.name in line]
    if out.returncode != 0 and not relevant:
        pytest.skip(f"systemd-analyze cannot run here: {(out.stderr or out.stdout).strip()[:200]}")
    assert not relevant, relevant


def test_watchdog_pings_go_on_while_the_runner_drains(spool: Spool, tmp_path: Path) -> None:
    """A stop waits for running jobs; systemd must not take the wait for a hang."""
    import store
    from store import JobSpec

    address = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    (job_id,) = store.submit(spool, [JobSpec(command=["sleep", "1.5"])])
    serve = subprocess.Popen([sys.executable, "-m", "coreflow_tui", "--spool", str(spool.root), "serve"], cwd=ROOT,
                             env={**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "300000"},
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _messages(sock, "READY=1")
        deadline = time.monotonic() + 20
        while spool.find(job_id).state != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        serve.send_signal(signal.SIGTERM)
        _messages(sock, "STOPPING=1")
        assert _messages(sock, "WATCHDOG=1") and _messages(sock, "WATCHDOG=1")
        assert spool.find(job_id).state == "running"  # still draining while it pings
        assert serve.wait(30) == 0
        assert spool.find(job_id).state == "succeeded"
    finally:
        _stop(serve)
        sock.close()


def test_unit_options_without_systemd_unit_are_a_usage_error(spool: Spool) -> None:
    r = run_cf(spool, "serve", "--user", "ci")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--systemd-unit" in r.stderr
