"""Pipelines from the command line: `submit --after/--after-finished/--at/--in`, why a job
waits and when it starts in `ls`, `show` and their JSON, `retry --with-dependents`."""

from __future__ import annotations

import json
import re
import time

import pytest

from coreflow_tui import wording
from store import Spool

ID = re.compile(r"^[0-9a-z]{26}$")


def submit(cf, *args: str) -> str:
    p = cf("submit", *args)
    assert p.returncode == 0, p.stderr
    job = p.stdout.strip()
    assert ID.match(job), p.stdout
    return job


def ls_json(cf, *args: str) -> dict[str, dict]:
    p = cf("ls", "--json", "--state", "all", *args)
    assert p.returncode == 0, p.stderr
    return {j["id"]: j for j in json.loads(p.stdout)}


@pytest.mark.parametrize("args, option", [
    (["--after", "ab"], "--after"),
    (["--after", "abcd,,"], "--after"),
    (["--after-finished", "ab!cd"], "--after-finished"),
    (["--at", "tomorrow"], "--at"),
    (["--at", "2026-12-01"], "--at"),
    (["--in", "10x"], "--in"),
    (["--in", "1h30"], "--in"),
    (["--at", "2026-12-01 14:00", "--in", "10m"], "--in"),
])
def test_bad_formats_are_usage_errors_naming_the_option(cf, args: list[str], option: str) -> None:
    p = cf("submit", *args, "--", "true")
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and option in p.stderr and p.stdout == ""


def test_refusals_exit_1_with_one_line(cf) -> None:
    p = cf("submit", "--after", "zzzzzzzz", "--", "true")
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    assert "--after" in p.stderr and "zzzzzzzz" in p.stderr
    build = submit(cf, "--name", "build", "--", "false")
    assert cf("cancel", build).returncode == 0
    p = cf("submit", "--after", build[-8:], "--", "true")
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and build[-8:] in p.stderr, p.stderr
    # --after-finished accepts an ended job whatever its outcome: nothing left to wait for
    done = submit(cf, "--after-finished", build[:10], "--", "true")
    assert ls_json(cf)[done]["after_finished"] == [build]


def test_ls_and_show_say_what_a_job_waits_for(cf, spool: Spool) -> None:
    build = submit(cf, "--name", "build", "--", "true")
    lint = submit(cf, "--name", "lint", "--", "true")
    test = submit(cf, "--name", "test", "--after", build[-8:], "--", "true")
    deploy = submit(cf, "--name", "deploy", "--after", f"{build[:20]},{lint[-6:]}", "--after-finished", test,
                    "--", "true")
    jobs = ls_json(cf)
    assert jobs[test]["after"] == [build] and jobs[test]["after_finished"] == []
    assert jobs[test]["reason"] == f"waits for {build[-8:]} (build, pending)"
    assert jobs[deploy]["after"] == [build, lint] and jobs[deploy]["after_finished"] == [test]
    assert jobs[deploy]["reason"] == "waits for 3 jobs"
    assert sorted(jobs[build]["blocks"]) == sorted([test, deploy]) and jobs[deploy]["blocks"] == []
    assert jobs[build]["not_before"] is None
    text = cf("ls", env={"COLUMNS": "200"}).stdout
    assert f"waits for {build[-8:]} (build, pending)" in text, text
    show = cf("show", test).stdout
    assert re.search(rf"\nafter +{build[-8:]} \(build, pending\): must succeed\n", show), show
    assert re.search(rf"\nblocks +{deploy[-8:]} \(deploy, pending\)\n", show), show
    shown = json.loads(cf("show", build, "--json").stdout)
    assert sorted(shown["blocks"]) == sorted([test, deploy])
    assert json.loads(cf("show", deploy, "--json").stdout)["reason"] == "waits for 3 jobs"


def test_in_and_at_delay_the_start(cf) -> None:
    later = submit(cf, "--in", "1h30m", "--", "true")
    now = time.time()
    job = ls_json(cf)[later]
    assert job["not_before"] is not None
    assert job["reason"] == wording.starts_at(now + 5400, now) or job["reason"].startswith("starts at ")
    assert job["reason"].endswith("(in 1h30m)"), job["reason"]
    at = submit(cf, "--at", time.strftime("%Y-%m-%d %H:%M", time.localtime(now + 3 * 3600)), "--", "true")
    assert "(in 2h" in ls_json(cf)[at]["reason"] or "(in 3h)" in ls_json(cf)[at]["reason"]
    past = submit(cf, "--at", "2020-01-01T00:00:00Z", "--", "true")  # already past: no delay
    assert ls_json(cf)[past]["not_before"] is None
    assert "starts at" not in ls_json(cf)[past]["reason"]
    assert "not before" in cf("show", later).stdout


def test_a_failed_dependency_cancels_its_dependents_with_the_reason(cf) -> None:
    build = submit(cf, "--name", "build", "--", "false")
    test = submit(cf, "--name", "test", "--after", build, "--", "true")
    deploy = submit(cf, "--name", "deploy", "--after", test, "--", "true")
    p = cf("cancel", build)
    assert p.returncode == 0 and p.stderr == f"{build}: cancelled; 2 waiting jobs that depend on it cancelled with it\n"
    jobs = ls_json(cf)
    assert jobs[test]["state"] == "cancelled" and jobs[deploy]["state"] == "cancelled"
    show = cf("show", test).stdout
    assert re.search(rf"result +cancelled: dependency {build[-8:]} (failed|was cancelled)", show), show
    listed = cf("ls", "--state", "cancelled", env={"COLUMNS": "200"}).stdout
    assert re.search(rf"{test[-8:]} +cancelled .* dependency {build[-8:]} (failed|was cancelled)", listed), listed
    p = cf("wait", deploy)
    assert p.returncode == 1 and f"cancelled: dependency {test[-8:]}" in p.stderr, p.stderr
    # retry with its dependents: both come back, waiting on the new attempt
    p = cf("retry", build, "--with-dependents")
    assert p.returncode == 0, p.stderr
    jobs = ls_json(cf)
    assert jobs[test]["state"] == "pending" and jobs[deploy]["state"] == "pending"
    assert jobs[test]["reason"] == f"waits for {build[-8:]} (build, pending)"
    assert jobs[deploy]["reason"] == f"waits for {test[-8:]} (test, pending)"


def test_retry_without_dependents_leaves_them_cancelled(cf) -> None:
    build = submit(cf, "--", "false")
    test = submit(cf, "--after", build, "--", "true")
    cf("cancel", build)
    assert cf("retry", build).returncode == 0
    assert ls_json(cf)[test]["state"] == "cancelled"


def test_help_documents_the_options(cf) -> None:
    out = cf("submit", "--help").stdout
    for option in ("--after ID[,ID...]", "--after-finished ID[,ID...]", "--at TIME", "--in DURATION"):
        assert option in out
    assert "already past means no delay" in " ".join(out.split())
    assert "--with-dependents" in cf("retry", "--help").stdout
    assert "--timeout D" in cf("wait", "--help").stdout


def test_wording() -> None:
    now = time.mktime((2026, 12, 1, 13, 51, 0, 0, 0, -1))
    assert wording.starts_at(now + 9 * 60, now) == "starts at 14:00 (in 9m)"
    assert wording.starts_at(now + 86400, now).startswith("starts at 2026-12-02 13:51 (in 1d)")
    assert [wording.span(s) for s in (40, 500, 5400, 3600, 93600)] == ["40s", "9m", "1h30m", "1h", "1d2h"]
