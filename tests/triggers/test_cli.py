"""`coreflow triggers ls` and `coreflow triggers fire` as real processes."""

from __future__ import annotations

import json

from store import Spool
from store.triggers import save_trigger

from tests.conftest import run_cf

MANUAL = '''kind = "manual"
coalesce = true
[params]
version = "0.0.0"
[job]
name = "package v{version} ({trigger})"
command = ["echo", "{version}"]
labels = { version = "{version}" }
'''


def test_fire_by_hand_with_parameters(spool: Spool) -> None:
    save_trigger(spool, "release", MANUAL)
    out = run_cf(spool, "triggers", "fire", "release", "--set", "version=1.2.3", "--set", "priority=high", check=True)
    job_id = out.stdout.strip()
    v = spool.show(job_id)
    assert v.job.name == "package v1.2.3 (release)"
    assert v.job.command == ["echo", "1.2.3"]
    assert v.job.labels == {"version": "1.2.3"}
    assert v.job.priority == 10
    assert v.job.trigger is not None and v.job.trigger.kind == "manual"
    assert v.job.trigger.detail.startswith("by ") and "version=1.2.3" in v.job.trigger.detail
    # Coalesced: a second firing replaces the first while it waits.
    again = run_cf(spool, "triggers", "fire", "release", check=True)
    assert f"replacing {job_id}" in again.stderr
    assert spool.show(job_id).state == "cancelled"
    shown = run_cf(spool, "show", again.stdout.strip(), check=True).stdout
    assert "trigger" in shown and "release (manual)" in shown


def test_fire_refuses_unknown_keys_and_triggers(spool: Spool) -> None:
    save_trigger(spool, "release", MANUAL)
    bad = run_cf(spool, "triggers", "fire", "release", "--set", "colour=red")
    assert bad.returncode == 1 and "no parameter 'colour'" in bad.stderr and bad.stderr.count("\n") == 1
    missing = run_cf(spool, "triggers", "fire", "nope")
    assert missing.returncode == 1 and "no trigger 'nope'" in missing.stderr


def test_ls_shows_schedule_paths_last_and_next_and_errors(spool: Spool) -> None:
    (spool.root / "src").mkdir()
    save_trigger(spool, "release", MANUAL)
    save_trigger(spool, "tick", 'kind = "schedule"\nevery = "5m"\n[job]\ncommand = ["true"]\n')
    save_trigger(spool, "src", 'kind = "watch"\npath = "src"\npatterns = ["*.c"]\n[job]\ncommand = ["make"]\n')
    spool.layout.trigger("broken").write_text('kind = "schedule"\ncron = "every tuesday"\n[job]\ncommand = ["x"]\n')
    job_id = run_cf(spool, "triggers", "fire", "release", check=True).stdout.strip()
    out = run_cf(spool, "triggers", "ls", "--json")
    assert out.returncode == 1  # a broken trigger file is worth a non-zero exit
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["release"]["last_job"] == job_id and rows["release"]["last_job_state"] == "pending"
    assert rows["release"]["last_fired_at"] is not None
    assert rows["tick"]["schedule"] == "every 5m" and rows["tick"]["next_at"] is not None
    assert rows["src"]["patterns"] == ["*.c"] and rows["src"]["path"] == str(spool.root / "src")
    assert "broken.toml:2: cron:" in rows["broken"]["error"]
    text = run_cf(spool, "triggers", "ls", env={"COLUMNS": "160"})
    assert "every 5m" in text.stdout and "src: *.c" in text.stdout and "never" in text.stdout
    assert "broken.toml:2: cron:" in text.stderr


SHELL_TEMPLATE = '''kind = "manual"
[params]
version = "0.0.0"
[job]
command = "echo building {version}"
shell = true
'''


def test_a_value_in_a_shell_command_is_one_quoted_word(spool: Spool, tmp_path) -> None:
    """Placeholders come from whoever pushes a branch or writes a file: in a command a
    shell reads, a value is data, never shell syntax (it was pasted in raw)."""
    import subprocess

    save_trigger(spool, "release", SHELL_TEMPLATE)
    mark = tmp_path / "pwned"
    out = run_cf(spool, "triggers", "fire", "release", "--set", f"version=1.0;touch {mark}", check=True)
    job = spool.show(out.stdout.strip()).job
    assert job.shell
    ran = subprocess.run(["/bin/sh", "-c", job.command[0]], capture_output=True, text=True, check=True)
    assert ran.stdout == f"building 1.0;touch {mark}\n" and not mark.exists()
