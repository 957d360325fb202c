"""The CLI contract of DESIGN.md: commands, exit codes 0/1/2, --help, --json field names,
human output in 80 columns, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clihelp import one_line_error, run

from coreflow_tui import __version__
from store import Spool, Where, hold, move, submit
from store.jobs.submit import JobSpec
from store.layout import FORMAT, running_name

CONTRACT_JOB = {"id", "queue", "state", "position", "type", "name", "priority", "command", "labels",
                "submitted_at", "trigger", "attempt", "result"}
CONTRACT_RESULT = {"exit_code", "reason", "started_at", "finished_at", "host", "runner"}
CONTRACT_QUEUE = {"name", "slots", "paused", "pending", "running"}

COMMANDS = [
    ["init"], ["doctor"], ["queue"], ["queue", "add"], ["queue", "ls"], ["queue", "pause"], ["queue", "resume"],
    ["queue", "set"], ["queue", "rm"], ["submit"], ["ls"], ["show"], ["logs"], ["move"], ["cancel"], ["hold"],
    ["release"], ["retry"], ["prune"],
]


@pytest.fixture
def root(spool: Spool) -> Path:
    return spool.root


def test_version_and_help(root: Path) -> None:
    out = run(root, "--version")
    assert (out.returncode, out.stdout.strip()) == (0, f"coreflow {__version__} (spool format {FORMAT})")
    out = run(root, "--help")
    assert out.returncode == 0 and "Exit status: 0" in out.stdout
    for cmd in ("init", "queue", "submit", "ls", "show", "logs", "move", "cancel", "hold", "release", "retry",
                "prune", "doctor"):
        assert cmd in out.stdout


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_help_on_every_command(root: Path, cmd: list[str]) -> None:
    out = run(root, *cmd, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: coreflow " + " ".join(cmd))
    assert all(len(line) <= 80 for line in out.stdout.splitlines())


USAGE_ERRORS = [
    ["frobnicate"], ["queue"], ["queue", "add"], ["queue", "add", "x", "--slots", "0"], ["queue", "set", "default"],
    ["submit"], ["submit", "--jsonl", "-", "--", "true"], ["submit", "--timeout", "-1", "--", "true"],
    ["ls", "--state", "sleeping"], ["show"], ["move", "01abc"], ["move", "01abc", "--top", "--bottom"],
    ["move", "01abc", "--up", "0"], ["cancel"], ["hold"], ["prune"], ["prune", "--older-than", "soon"], ["prune", "--keep", "-1"],
    ["--no-such-option", "ls"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=" ".join)
def test_usage_errors_exit_2(root: Path, args: list[str]) -> None:
    out = run(root, *args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stdout == "" and "Traceback" not in out.stderr and out.stderr


def test_every_command_succeeds_with_0(root: Path, tmp_path: Path) -> None:
    ok = [
        ["init"], ["queue", "add", "build", "--slots", "2", "--description", "compile"], ["queue", "ls"],
        ["queue", "ls", "--json"], ["queue", "pause", "build"], ["queue", "resume", "build"],
        ["queue", "set", "build", "--slots", "3"], ["submit", "--", "true"], ["submit", "-q", "build", "--", "make"],
        ["ls"], ["ls", "--json"], ["ls", "--state", "all"], ["ls", "--queue", "build", "--state", "pending"],
        ["prune", "--keep", "10"], ["prune", "--older-than", "7d"],
    ]
    for args in ok:
        out = run(root, *args)
        assert out.returncode == 0, (args, out.stderr)
    job = run(root, "submit", "--", "sleep", "1").stdout.strip()
    other = run(root, "submit", "--", "sleep", "2").stdout.strip()
    for args in (["show", job], ["show", job[-8:], "--json"], ["move", job, "--bottom"], ["move", job, "--up"],
                 ["move", job, "--down", "2"], ["move", job, "--before", other], ["move", job, "--after", other],
                 ["move", job, "--top"], ["hold", job, other], ["release", job, other],
                 ["move", job, "--queue", "build"],
                 ["cancel", job], ["retry", job], ["cancel", job, other], ["queue", "rm", "build", "--force"]):
        out = run(root, *args)
        assert out.returncode == 0, (args, out.stderr)


def test_failures_exit_1_with_one_line(root: Path, spool: Spool) -> None:
    a, b = submit(spool, [JobSpec(command=["true"]), JobSpec(command=["true"])])
    missing = "0" * 26
    one_line_error(run(root, "show", missing), missing)
    one_line_error(run(root, "move", missing, "--top"), missing)
    one_line_error(run(root, "cancel", missing), missing)
    one_line_error(run(root, "move", a, "--queue", "nope"), "nope")
    one_line_error(run(root, "ls", "--queue", "nope"), "nope")
    one_line_error(run(root, "queue", "add", "default"), "already exists")
    one_line_error(run(root, "queue", "pause", "nope"), "nope")
    one_line_error(run(root, "queue", "rm", "default"), "default")
    one_line_error(run(root, "logs", a), a, "not started")
    assert run(root, "release", a).returncode == 0  # "not held" is not an error
    out = run(root, "ls", "--spool")  # --spool after the command is an unknown option there
    assert out.returncode == 2
    one_line_error(run(root / "nowhere", "ls"), "no spool", "coreflow init")
    spool.add_queue("busy")
    submit(spool, [JobSpec(command=["true"], queue="busy")])
    one_line_error(run(root, "queue", "rm", "busy"), "busy", "--force")
    assert [a, b] == [p.id for p in spool.pending("default")]


def test_a_move_of_a_job_that_just_started(root: Path, spool: Spool) -> None:
    a, b = submit(spool, [JobSpec(command=["true"]), JobSpec(command=["true"])])
    r = spool.find(b)
    os.rename(r.path, spool.layout.running("default") / running_name(b))  # a runner claimed it
    for args in (["move", b, "--top"], ["move", b, "--before", a], ["move", b, "--queue", "default"],
                 ["hold", b]):
        one_line_error(run(root, *args), b, "already started")
    one_line_error(run(root, "move", a, "--before", b), b, "not waiting")
    out = run(root, "cancel", b)
    assert out.returncode == 0 and "cancel requested" in out.stderr
    out = run(root, "hold", a, b)  # one fails, the other is done: exit 1, a line each
    assert out.returncode == 1 and "held" in out.stderr and "already started" in out.stderr
    assert spool.pending("default")[0].held


def test_submit_prints_the_id_alone(root: Path, spool: Spool) -> None:
    out = run(root, "submit", "--name", "n", "--", "echo", "hi")
    assert out.returncode == 0 and out.stderr == ""
    job_id = out.stdout.strip()
    assert out.stdout == job_id + "\n" and len(job_id) == 26
    assert spool.find(job_id).state == "pending"


def test_json_field_names_are_the_contract(root: Path, spool: Spool) -> None:
    spool.layout.types.write_text('[build]\ndescription = "compile"\n')
    out = run(root, "submit", "--json", "--type", "build", "--name", "b", "--priority", "high", "--label", "os=linux",
              "--", "make", "-j4")
    job = json.loads(out.stdout)
    assert CONTRACT_JOB <= set(job)
    assert (job["state"], job["position"], job["type"], job["name"], job["priority"], job["command"], job["labels"],
            job["attempt"], job["result"], job["trigger"]) == \
        ("pending", 1, "build", "b", 10, ["make", "-j4"], {"os": "linux"}, 1, None, None)
    assert job["submitted_at"].endswith("Z") and "T" in job["submitted_at"]
    other = run(root, "submit", "--", "true").stdout.strip()
    run(root, "cancel", other)
    listing = json.loads(run(root, "ls", "--json", "--state", "all").stdout)
    assert [j["id"] for j in listing] == [job["id"], other]
    for j in listing:
        assert CONTRACT_JOB <= set(j)
    cancelled = listing[1]
    assert cancelled["state"] == "cancelled" and cancelled["position"] is None
    assert CONTRACT_RESULT <= set(cancelled["result"]) and cancelled["result"]["reason"] == "cancelled"
    shown = json.loads(run(root, "show", job["id"], "--json").stdout)
    assert CONTRACT_JOB <= set(shown) and shown["reason"]  # why it waits
    assert json.loads(run(root, "ls", "--json", "--queue", "default", "--state", "failed").stdout) == []
    queues = json.loads(run(root, "queue", "ls", "--json").stdout)
    assert [q["name"] for q in queues] == ["default"]
    assert CONTRACT_QUEUE <= set(queues[0])
    assert (queues[0]["slots"], queues[0]["paused"], queues[0]["pending"], queues[0]["running"]) == (4, False, 1, 0)


def test_ls_json_gives_each_waiting_job_its_reason(root: Path, spool: Spool) -> None:
    a, b = submit(spool, [JobSpec(command=["true"]), JobSpec(command=["true"])])
    hold(spool, a)
    listing = json.loads(run(root, "ls", "--json").stdout)
    assert [(j["position"], j["state"], j["reason"]) for j in listing] == [
        (1, "held", "held"), (2, "pending", "no live runner serves queue default")]


def test_human_output_fits_80_columns(root: Path, spool: Spool) -> None:
    long = "x" * 64
    spool.add_queue(long, description="a very long description " * 5)
    spool.layout.types.write_text(f"[{long}]\ndescription = \"{'d' * 300}\"\n")
    specs = [JobSpec(command=["/usr/bin/" + "y" * 300, "--flag"], queue=long, type=long, name="n" * 200,
                     priority=-999, labels={long: "v" * 100}, requires=[long])] + \
        [JobSpec(command=["true"], priority=p) for p in (999, -10, 0)]
    ids = submit(spool, specs)
    spool.update_queue(long, "pause", paused=True)
    from store import cancel

    cancel(spool, ids[3])
    for args in (["ls"], ["ls", "--state", "all"], ["queue", "ls"], ["ls", "--queue", long]):
        out = run(root, *args)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines and all(len(line) <= 80 for line in lines), "\n".join(lines)
    out = run(root, "ls", env={"COLUMNS": "120"})
    assert max(len(line) for line in out.stdout.splitlines()) > 80  # it uses a wider terminal


def test_show_answers_who_moved_my_job_to_the_bottom(root: Path, spool: Spool) -> None:
    a, _b = submit(spool, [JobSpec(command=["true"], name="mine"), JobSpec(command=["true"])])
    assert run(root, "move", a, "--bottom").returncode == 0
    out = run(root, "show", a)
    assert out.returncode == 0
    trail = [line for line in out.stdout.splitlines() if line.startswith("audit")]
    assert len(trail) == 1
    assert "move" in trail[0] and "bottom: position 1 -> 2" in trail[0] and "@" in trail[0]
    assert time.strftime("%Y-%m-%d") in trail[0]
    shown = json.loads(run(root, "show", a, "--json").stdout)
    assert [(x["action"], x["detail"]) for x in shown["audit"]] == [("move", "bottom: position 1 -> 2")]
    assert "@" in shown["audit"][0]["actor"]


def test_logs_prints_a_long_log_whole(root: Path, spool: Spool) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    body = b"".join(b"line %07d of a long build\n" % i for i in range(100_000))  # 2.7 MB, read a MiB at a time
    spool.layout.log(a).write_bytes(body)
    out = subprocess.run([sys.executable, "-m", "coreflow_tui", "--spool", str(root), "logs", a],
                         capture_output=True, timeout=60)
    assert out.returncode == 0 and out.stdout == body


def test_show_presents_the_job_type(root: Path, spool: Spool) -> None:
    spool.layout.types.write_text('[build]\ndescription = "compiles the tree"\n')
    (a,) = submit(spool, [JobSpec(command=["make"], type="build")])
    out = run(root, "show", a)
    assert out.returncode == 0 and "build — compiles the tree" in out.stdout
    spool.layout.types.write_text("[build\n")  # broken: the job is still shown
    out = run(root, "show", a)
    assert out.returncode == 0 and "build" in out.stdout


def test_show_says_why_it_waits(root: Path, spool: Spool) -> None:
    ids = submit(spool, [JobSpec(command=["true"]) for _ in range(3)])
    move(spool, ids[2], Where("top"))
    out = run(root, "show", ids[1])
    assert "waiting   no live runner serves queue default" in out.stdout or \
        any(line.split()[:1] == ["waiting"] and "no live runner" in line for line in out.stdout.splitlines())
    assert "position 3" in out.stdout
