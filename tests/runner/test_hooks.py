"""Issue 11 item 7: finish hooks (queue on_finish, type on_finish) with real runners and
real hook commands: what they get, when they run, and what is recorded when they fail,
time out, cannot start, or their runner stops."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from store import JobSpec, Spool, submit
from tests.conftest import run_cf
from tests.runner.conftest import job_of, pid_gone, wait_for


def _hook_of(spool: Spool, jid: str, timeout: float = 20):  # type: ignore[no-untyped-def]
    return wait_for(f"the hook outcome of {jid}", lambda: job_of(spool, jid).hook, timeout=timeout)


def test_a_queue_hook_runs_after_the_result_is_recorded_with_the_job_in_its_environment(
        spool: Spool, start_runner, tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    hook = ('echo "$COREFLOW_JOB_ID|$COREFLOW_JOB_STATE|$COREFLOW_EXIT_CODE|$COREFLOW_QUEUE|$COREFLOW_JOB_NAME|'
            f'$COREFLOW_SPOOL|${{SECRET-unset}}"; {_cf()} show "$COREFLOW_JOB_ID" --json > {seen}; echo to-stderr >&2')
    run_cf(spool, "queue", "set", "default", "--on-finish", hook, check=True)
    assert "on finish" in run_cf(spool, "queue", "show", "default", check=True).stdout
    assert json.loads(run_cf(spool, "queue", "ls", "--json", check=True).stdout)[0]["on_finish"] == hook
    (jid,) = submit(spool, [JobSpec(command=["sh", "-c", "exit 3"], name="build x", env={"SECRET": "s3"})])
    r = start_runner(spool)
    h = _hook_of(spool, jid)
    assert h.exit_code == 0 and not h.error
    assert h.output == f"{jid}|failed|3|default|build x|{spool.root}|unset\nto-stderr\n"  # not the job's env
    # When the hook ran, the job's result was already recorded (and the hook changed nothing of it).
    assert json.loads(seen.read_text())["state"] == "failed"
    job = job_of(spool, jid)
    assert job.result.state == "failed" and job.result.exit_code == 3
    shown = run_cf(spool, "show", jid, check=True).stdout
    assert any(line.split()[:3] == ["hook", "exit", "0"] for line in shown.splitlines()), shown
    from tests.cli.test_annotate import detail_facts

    assert detail_facts(spool, jid)["hook"].startswith("exit 0")  # the TUI's detail pane
    out = json.loads(run_cf(spool, "show", jid, "--json", check=True).stdout)
    assert out["hook"]["exit_code"] == 0 and out["hook"]["command"] == hook and out["state"] == "failed"
    r.stop()
    run_cf(spool, "queue", "set", "default", "--on-finish", "", check=True)
    assert json.loads(run_cf(spool, "queue", "ls", "--json", check=True).stdout)[0]["on_finish"] is None


def _cf() -> str:
    import shlex
    import sys

    return f"{shlex.quote(sys.executable)} -m coreflow_tui"


def test_a_hook_runs_in_the_runners_directory_never_in_a_jobs(spool: Spool, start_runner, tmp_path: Path) -> None:
    """The loop steps into each job's directory to spawn it; a hook started by its thread
    meanwhile must not start there."""
    from tests.runner.conftest import ROOT

    run_cf(spool, "queue", "set", "default", "--on-finish", "pwd", check=True)
    ids = submit(spool, [JobSpec(command=["true"]) for _ in range(60)])
    r = start_runner(spool, "--slots", "2", "--work-root", str(tmp_path / "work"))
    try:
        outs = {_hook_of(spool, jid).output for jid in ids}
    finally:
        r.stop()
    assert outs == {f"{ROOT}\n"}


def test_a_hook_holds_no_slot(spool: Spool, start_runner, tmp_path: Path) -> None:
    run_cf(spool, "queue", "set", "default", "--on-finish", "sleep 2", check=True)
    first, second = submit(spool, [JobSpec(command=["true"]), JobSpec(command=["true"])])
    start_runner(spool, "--slots", "1")
    h = _hook_of(spool, first)
    second_started = job_of(spool, second).result.started_at
    assert second_started < h.finished_at - 1, "the second job waited for the first one's hook"


def test_a_failing_hook_never_changes_its_job_and_its_output_is_kept_cut_and_shown_inert(
        spool: Spool, start_runner) -> None:
    run_cf(spool, "queue", "set", "default", "--on-finish",
           "head -c 10000 /dev/zero | tr '\\0' x; printf '\\033]0;pwned\\007 tail'; exit 5", check=True)
    (jid,) = submit(spool, [JobSpec(command=["true"])])
    start_runner(spool)
    h = _hook_of(spool, jid)
    assert h.exit_code == 5 and job_of(spool, jid).result.state == "succeeded"
    assert h.output.endswith("\x1b]0;pwned\x07 tail") and len(h.output) < 4200 and "bytes before this cut" in h.output
    shown = run_cf(spool, "show", jid, check=True).stdout
    assert "hook" in shown and "exit 5" in shown and "\x1b" not in shown and "\\x1b]0;pwned" in shown


def test_a_hook_past_its_time_limit_is_killed_with_what_it_started(spool: Spool, start_runner,
                                                                  tmp_path: Path) -> None:
    pid_file = tmp_path / "bg.pid"
    (spool.root / "types.toml").write_text(
        f'[slow]\non_finish = "sleep 60 & echo $! > {pid_file}; wait"\non_finish_timeout = 0.5\n')
    (jid,) = submit(spool, [JobSpec(command=["true"], type="slow")])
    start_runner(spool)
    h = _hook_of(spool, jid)
    assert h.error == "timed out after 0.5s: killed" and h.signal == signal.SIGKILL
    assert h.finished_at - h.started_at < 5
    wait_for("the hook's background process to be gone", lambda: pid_gone(int(pid_file.read_text())), timeout=5)
    assert "timed out after 0.5s: killed" in run_cf(spool, "show", jid, check=True).stdout


def test_a_hook_that_cannot_start_says_so_and_the_type_hook_wins_over_the_queue(spool: Spool, start_runner,
                                                                              tmp_path: Path) -> None:
    marker = tmp_path / "queue-hook-ran"
    run_cf(spool, "queue", "set", "default", "--on-finish", f"touch {marker}", check=True)
    (spool.root / "types.toml").write_text('[deploy]\non_finish = "/nonexistent/notify-chat --now"\n')
    typed, plain = submit(spool, [JobSpec(command=["true"], type="deploy"), JobSpec(command=["false"])])
    start_runner(spool)
    h = _hook_of(spool, typed)
    assert h.error == "could not start: command not found (exit 127)" and h.command.startswith("/nonexistent")
    assert "/nonexistent/notify-chat" in h.output  # the shell's own words
    assert _hook_of(spool, plain).exit_code == 0 and marker.exists()
    assert job_of(spool, typed).result.state == "succeeded"


def test_a_stopping_runner_gives_its_hooks_a_moment_then_kills_them(spool: Spool, start_runner,
                                                                    tmp_path: Path) -> None:
    started = tmp_path / "started"
    run_cf(spool, "queue", "set", "default", "--on-finish", f"touch {started}; sleep 60",
           "--on-finish-timeout", "120", check=True)
    (jid,) = submit(spool, [JobSpec(command=["true"])])
    r = start_runner(spool)
    wait_for("the hook to start", started.exists)
    t0 = time.monotonic()
    r.signal(signal.SIGTERM)
    assert r.wait(20) == 0
    assert time.monotonic() - t0 < 8  # the tests' COREFLOW_STOP_GRACE is 0.5 s
    h = job_of(spool, jid).hook
    assert h is not None and h.error == "killed: the runner stopped", h


def test_a_draining_runner_lets_its_hooks_finish_within_their_time_limit(spool: Spool, start_runner) -> None:
    run_cf(spool, "queue", "set", "default", "--on-finish", "sleep 1.5; echo late", check=True)
    a, b = submit(spool, [JobSpec(command=["true"]), JobSpec(command=["true"])])
    assert start_runner(spool, "--drain", "--slots", "1").wait() == 0  # its stop grace (0.5 s) is shorter
    for jid in (a, b):
        h = job_of(spool, jid).hook
        assert h is not None and h.exit_code == 0 and h.output == "late\n", h


def test_no_hook_no_outcome(spool: Spool, start_runner) -> None:
    (jid,) = submit(spool, [JobSpec(command=["true"])])
    assert start_runner(spool, "--drain").wait() == 0
    assert job_of(spool, jid).hook is None
    assert json.loads(run_cf(spool, "show", jid, "--json", check=True).stdout)["hook"] is None
    assert not os.environ.get("COREFLOW_JOB_ID")


def test_the_runner_that_takes_a_dead_runners_job_over_runs_its_hook(spool: Spool, start_runner,
                                                                      tmp_path: Path) -> None:
    run_cf(spool, "queue", "set", "default", "--on-finish", 'echo "$COREFLOW_JOB_STATE"', check=True)
    started = tmp_path / "started"
    (jid,) = submit(spool, [JobSpec(command=["sh", "-c", f"touch {started}; sleep 30"])])
    a = start_runner(spool)
    wait_for("the job to start", started.exists)
    a.signal(signal.SIGKILL)
    a.wait()
    assert run_cf(spool, "cancel", jid).returncode == 0  # asked while nobody runs it
    assert job_of(spool, jid).hook is None
    b = start_runner(spool, "--drain")  # same host, pid gone: takes it over at once
    assert b.wait(20) == 0, b.stderr
    job = job_of(spool, jid)
    assert job.result.state == "cancelled" and job.hook is not None and job.hook.output == "cancelled\n", job.hook
