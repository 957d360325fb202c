"""Nothing accepted is lost (issue 14, defects 10-13, 15): limits are checked where data
enters, prune trusts the filesystem's clock, a failed `queue add` leaves nothing, and
queue.json values are checked when written and when read."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import pytest

from store import Spool, SpoolError, submit
from store.jobs.submit import JobSpec
from store.jobs.cancel import cancel
from store.jobs.prune import prune
from store.errors import ConfigError, StorageError
from store.jobtypes import load_types
from store.limits import MAX_COMMAND_BYTES, MAX_SUBMIT_BYTES
from store.triggers import load_triggers
from tests.conftest import run_cf

MiB = 1024 * 1024


# -- defect 10: size limits at submit ----------------------------------------------------


def test_a_5_mib_command_is_refused_at_submit_not_accepted_then_quarantined(spool: Spool) -> None:
    line = json.dumps({"command": ["echo", "x" * (5 * MiB)]}) + "\n"
    out = run_cf(spool, "submit", "--jsonl", "-", input=line.encode())
    assert out.returncode == 1, out.stderr
    assert f"the command is {5 * MiB + 6} bytes, more than the limit of {MAX_COMMAND_BYTES}" in out.stderr
    assert out.stderr.count("\n") == 1
    assert os.listdir(spool.layout.pending("default")) == [] and os.listdir(spool.layout.tmp) == []
    assert run_cf(spool, "ls").returncode == 0 and spool.corrupt_files() == []


@pytest.mark.parametrize(("spec", "message"), [
    (JobSpec(command=["true"], env={f"V{i}": "x" for i in range(1001)}), "the environment is 1001 variables"),
    (JobSpec(command=["true"], env={"BIG": "x" * 300_000}), "the environment is 300005 bytes"),
    (JobSpec(command=["true"], name="n" * 201), "name must be one line of at most 200 characters"),
    (JobSpec(command=["true"], labels={f"l{i}": "v" for i in range(65)}), "the label set is 65 labels"),
    (JobSpec(command=["true"], labels={"k": "v" * 1001}), "the value of label k is 1001 characters"),
    (JobSpec(command=["true"], cwd="/" + "d" * MAX_SUBMIT_BYTES), "the job is"),
])
def test_each_part_of_a_job_has_a_limit(spool: Spool, spec: JobSpec, message: str) -> None:
    with pytest.raises(SpoolError, match=message):
        submit(spool, [spec])
    assert os.listdir(spool.layout.pending("default")) == []


def test_a_job_at_the_limits_is_accepted_and_runs_its_course(spool: Spool) -> None:
    big = JobSpec(command=["echo", "x" * (MAX_COMMAND_BYTES - 20)], env={"A": "y" * 200_000},
                  labels={f"l{i}": "v" * 1000 for i in range(60)})
    [job] = submit(spool, [big])
    views, warnings = spool.jobs()
    assert [v.job.id for v in views] == [job] and warnings == []


# -- defect 11: prune by the filesystem's clock ------------------------------------------


def test_prune_from_a_host_whose_clock_is_ahead_deletes_nothing_recent(spool: Spool,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    [job] = submit(spool, [JobSpec(command=["true"])])
    cancel(spool, job)  # finished just now, by the filesystem's clock
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 600)  # this host runs 10 minutes ahead
    assert prune(spool, older_than=300) == 0
    assert spool.find(job).state == "cancelled"


def test_prune_keep_orders_by_when_jobs_finished_not_by_their_names(spool: Spool,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = submit(spool, [JobSpec(command=["a"]), JobSpec(command=["b"])])
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 600)  # a host 10 minutes ahead finishes first ...
    cancel(spool, first)
    monkeypatch.setattr(time, "time", real)
    time.sleep(0.05)  # file times tick in jiffies
    cancel(spool, second)  # ... and a correct host later: its done/ name sorts first
    assert [r.id for r in spool.done_refs("default")] == [second, first]
    assert prune(spool, keep=1) == 1
    assert [r.id for r in spool.done_refs("default")] == [second]


def test_prune_deletes_what_is_old_by_the_filesystems_clock(spool: Spool) -> None:
    [job] = submit(spool, [JobSpec(command=["true"])])
    cancel(spool, job)
    path = spool.find(job).path
    old = os.lstat(path).st_mtime - 3600
    os.utime(path, (old, old))
    assert prune(spool, older_than=1800) == 1


# -- defect 12: a failed queue add leaves nothing ------------------------------------------


@pytest.mark.parametrize("fail_at", ["mkdir", "publish", "rename"])
def test_a_failed_queue_add_leaves_nothing_and_a_retry_works(spool: Spool, monkeypatch: pytest.MonkeyPatch,
                                                             fail_at: str) -> None:
    """ENOSPC injected at each step (a full disk): no queue, no leftovers in tmp/, and
    the retry makes the queue with the slots asked for."""
    import store.atomic as atomic_mod

    full = OSError(errno.ENOSPC, "No space left on device")
    real_mkdir, real_stage, real_rename = Path.mkdir, atomic_mod.stage, os.rename
    calls = {"mkdir": 0}

    def mkdir(self: Path, *a: object, **kw: object) -> None:
        calls["mkdir"] += 1
        if fail_at == "mkdir" and calls["mkdir"] == 3:  # a state directory
            raise full
        real_mkdir(self, *a, **kw)  # type: ignore[arg-type]

    def stage(*a: object, **kw: object) -> Path:
        if fail_at == "publish":
            raise StorageError.wrap(full, "cannot write to the spool")
        return real_stage(*a, **kw)  # type: ignore[arg-type]

    def rename(src: str, dst: str) -> None:
        if fail_at == "rename" and str(dst).endswith("queues/build"):
            raise full
        real_rename(src, dst)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr(atomic_mod, "stage", stage)
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(StorageError, match="No space left on device"):
        spool.add_queue("build", slots=2)
    monkeypatch.undo()
    assert "build" not in spool.queue_names() and os.listdir(spool.layout.tmp) == []
    spool.add_queue("build", slots=2)
    assert spool.queue_config("build").slots == 2


def test_queue_add_on_a_full_tmpfs_leaves_nothing(tmp_path: Path) -> None:
    from tests.store.storehelp import fill_disk, small_tmpfs

    with small_tmpfs(tmp_path, "size=64k,nr_inodes=400") as mnt:
        spool = Spool.init(mnt / "spool")
        fill_disk(mnt)
        out = run_cf(spool, "queue", "add", "build", "--slots", "2")
        assert out.returncode == 1 and "No space left on device" in out.stderr
        assert "build" not in spool.queue_names() and os.listdir(spool.layout.tmp) == []
        for p in mnt.glob("ballast*"):
            p.unlink()
        assert run_cf(spool, "queue", "add", "build", "--slots", "2").returncode == 0
        assert spool.queue_config("build").slots == 2


# -- defect 13: queue.json values -----------------------------------------------------------


@pytest.mark.parametrize("raw", ["-1", "0", "1e9", "1000000000", '"x"', "true", "2.5", "null"])
def test_bad_slots_in_queue_json_are_named_by_doctor_and_never_used(spool: Spool, raw: str) -> None:
    spool.layout.queue_meta("default").write_text(f'{{"slots": {raw}}}')
    with pytest.raises(ConfigError, match=r"queues/default/queue\.json: slots must be a whole number from 1 "
                                          r"to 10000, not "):
        spool.read_queue_config("default")
    assert spool.queue_config("default").slots == 4  # the queue keeps running, on defaults
    doctor = run_cf(spool, "doctor")
    assert doctor.returncode == 1
    assert "queues/default/queue.json: slots must be a whole number" in doctor.stdout
    shown = {"1e9": "1000000000.0", '"x"': "'x'", "true": "True", "null": "None"}.get(raw, raw)
    assert f"not {shown}" in doctor.stdout


@pytest.mark.parametrize("slots", ["-1", "0", "10001"])
def test_bad_slots_are_refused_when_written(spool: Spool, slots: str) -> None:
    out = run_cf(spool, "queue", "set", "default", "--slots", slots)
    assert out.returncode in (1, 2) and "slots" in out.stderr
    assert spool.read_queue_config("default").slots == 4
    out = run_cf(spool, "queue", "add", "other", "--slots", slots)
    assert out.returncode in (1, 2) and "other" not in spool.queue_names()


def test_other_queue_json_values_are_checked(spool: Spool) -> None:
    meta = spool.layout.queue_meta("default")
    meta.write_text('{"slots": 2, "paused": "yes"}')
    with pytest.raises(ConfigError, match="paused must be true or false, not 'yes'"):
        spool.read_queue_config("default")
    meta.write_text('{"slots": 2, "paused": true, "description": "d"}')
    cfg = spool.read_queue_config("default")
    assert (cfg.slots, cfg.paused, cfg.description) == (2, True, "d")


# -- defect 15: TOML nesting and size --------------------------------------------------------


@pytest.mark.parametrize("text", [
    "[build]\nrequires = " + "[" * 5000 + "]" * 5000 + "\n",
    "[build]\nx = " + "{a=" * 5000 + "1" + "}" * 5000 + "\n",
    "[" + ".".join(["a"] * 5000) + "]\n",
], ids=["arrays", "inline-tables", "dotted-keys"])
def test_a_deeply_nested_types_toml_is_one_clear_error(spool: Spool, text: str) -> None:
    spool.layout.types.write_text(text)
    with pytest.raises(ConfigError, match=r"types\.toml: nested (too deeply to read|more than 8 levels)"):
        load_types(spool.layout.types)
    out = run_cf(spool, "submit", "--type", "build", "--", "make")
    assert out.returncode == 1 and "nested" in out.stderr and "Traceback" not in out.stderr
    doctor = run_cf(spool, "doctor")
    assert "types.toml: nested" in doctor.stdout and "Traceback" not in doctor.stderr


def test_a_deeply_nested_trigger_is_one_error_and_the_good_triggers_still_load(spool: Spool) -> None:
    spool.layout.triggers.mkdir(exist_ok=True)
    spool.layout.trigger("deep").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    spool.layout.trigger("good").write_text('kind = "manual"\n[job]\ncommand = ["true"]\n')
    loaded = load_triggers(spool)
    assert list(loaded.triggers) == ["good"]
    assert "deep.toml: nested too deeply to read" in loaded.errors["deep"]
    out = run_cf(spool, "triggers", "ls")
    assert "Traceback" not in out.stderr and "good" in out.stdout


def test_the_trigger_daemon_keeps_firing_the_good_triggers_beside_a_deep_or_fifo_one(spool: Spool) -> None:
    from tests.triggers.helpers import T0, FakeClock, daemon, run_daemon, trigger_jobs

    spool.layout.triggers.mkdir(exist_ok=True)
    spool.layout.trigger("good").write_text('kind = "schedule"\nevery = "10s"\n[job]\ncommand = ["true"]\n')
    spool.layout.trigger("deep").write_text("x = " + "{a=" * 5000 + "1" + "}" * 5000 + "\n")
    os.mkfifo(spool.layout.trigger("pipe"))
    logs: list[str] = []
    clock = FakeClock(T0 + 1)
    d = daemon(spool, clock, logs)
    run_daemon(d, clock, 5)
    assert len(trigger_jobs(spool, "good")) == 5
    assert sum("deep.toml: nested too deeply to read" in m for m in logs) == 1
    assert sum("pipe.toml is a FIFO, not a regular file" in m for m in logs) == 1
