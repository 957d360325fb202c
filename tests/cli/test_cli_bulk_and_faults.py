"""`submit --jsonl` in bulk, and the CLI in bad surroundings: a broken types.toml, a newer
spool, a read-only spool, bad files."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clihelp import one_line_error, run

from store import Heartbeat, Spool, submit
from store.jobs.submit import JobSpec
from store.runners import beat


def _jsonl(lines: list[object]) -> bytes:
    return b"".join((json.dumps(x) if not isinstance(x, str) else x).encode() + b"\n" for x in lines)


def test_jsonl_queues_in_input_order(spool: Spool, tmp_path: Path) -> None:
    spool.add_queue("build")
    lines = [{"command": ["make", str(i)], "name": f"n{i}", "queue": "build" if i % 2 else None,
              "priority": "high" if i == 3 else 0, "labels": {"i": str(i)}} for i in range(10)]
    src = tmp_path / "jobs.jsonl"
    src.write_bytes(_jsonl(lines))
    out = run(spool.root, "submit", "--jsonl", str(src))
    assert out.returncode == 0, out.stderr
    ids = out.stdout.split()
    assert len(ids) == 10 and out.stdout == "".join(i + "\n" for i in ids)
    assert [spool.show(i).job.name for i in ids] == [f"n{i}" for i in range(10)]
    assert [p.id for p in spool.pending("build")] == [ids[3], ids[1], ids[5], ids[7], ids[9]]
    out = run(spool.root, "submit", "--jsonl", "-", input=_jsonl([{"command": ["x"]}]))
    assert out.returncode == 0 and len(out.stdout.split()) == 1


@pytest.mark.parametrize("bad, line, words", [
    ('{"command": ["ok"]', 3, ["line 3"]),
    ("garbage", 3, ["line 3"]),
    ({"command": ["ok"], "colour": "red"}, 3, ["line 3", "colour"]),
    ({"command": ["ok"], "queue": "nope"}, 3, ["line 3", "nope"]),
    ({"command": ["ok"], "queue": "../x"}, 3, ["line 3", "invalid queue name"]),
    ({"command": []}, 3, ["line 3", "command is empty"]),
    ({"command": ["ok"], "priority": "asap"}, 3, ["line 3", "priority"]),
])
def test_a_bad_line_is_named_and_nothing_is_queued(spool: Spool, bad: object, line: int, words: list[str]) -> None:
    (before,) = submit(spool, [JobSpec(command=["already", "queued"])])
    data = _jsonl([{"command": ["ok"]}, "", bad, {"command": ["ok"]}])  # a blank line 2 still counts
    out = run(spool.root, "submit", "--jsonl", "-", input=data)
    one_line_error(out, *words, "nothing was queued")
    assert out.stdout == ""
    assert [p.id for p in spool.pending("default")] == [before]
    assert os.listdir(spool.layout.tmp) == []


def test_jsonl_from_a_missing_file(spool: Spool, tmp_path: Path) -> None:
    one_line_error(run(spool.root, "submit", "--jsonl", str(tmp_path / "none.jsonl")), "none.jsonl")


@pytest.fixture
def fast_root() -> Iterator[Path]:
    """A spool on tmpfs when there is one: this test is about size, not fsync speed."""
    base = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else Path(tempfile.gettempdir())
    d = Path(tempfile.mkdtemp(prefix="cf-bulk-", dir=base))
    try:
        Spool.init(d / "spool")
        yield d / "spool"
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.slow
def test_jsonl_of_100000_jobs_in_one_call(fast_root: Path) -> None:
    n = 100_000
    data = b"".join(b'{"command": ["echo", "%d"], "name": "m%d"}\n' % (i, i) for i in range(n))
    t = time.monotonic()
    out = run(fast_root, "submit", "--jsonl", "-", input=data, timeout=300)
    took = time.monotonic() - t
    assert out.returncode == 0, out.stderr[-500:]
    ids = out.stdout.split()
    assert len(ids) == n == len(set(ids))
    spool = Spool.open(fast_root)
    assert [p.id for p in spool.pending("default")] == ids  # run order is input order
    assert os.listdir(spool.layout.tmp) == []
    assert took < 240, f"{took:.0f}s for {n} jobs"
    out = run(fast_root, "queue", "ls", "--json")
    assert json.loads(out.stdout)[0]["pending"] == n
    out = run(fast_root, "move", ids[-1], "--top")
    assert out.returncode == 0 and spool.pending("default")[0].id == ids[-1]


def test_types_toml_with_a_syntax_error(spool: Spool) -> None:
    spool.layout.types.write_text("[build\n")
    one_line_error(run(spool.root, "submit", "--type", "build", "--", "true"), "types.toml", "line 1")
    assert run(spool.root, "submit", "--", "true").returncode == 0  # a job without a type needs no types.toml


def test_a_spool_from_a_newer_format(spool: Spool) -> None:
    meta = json.loads(spool.layout.meta.read_text())
    spool.layout.meta.write_text(json.dumps({**meta, "format": 2}))
    for args in (["ls"], ["submit", "--", "true"], ["queue", "ls"], ["init"]):
        one_line_error(run(spool.root, *args), "format 2", "upgrade coreflow")


def test_a_garbled_spool_json(spool: Spool) -> None:
    spool.layout.meta.write_text("{not json")
    one_line_error(run(spool.root, "ls"), "spool.json")


def test_bad_job_files_do_not_stop_ls(spool: Spool) -> None:
    (good,) = submit(spool, [JobSpec(command=["true"])])
    d = spool.layout.pending("default")
    (d / f"{'4' * 16}.+0.{'0' * 26}.job").write_bytes(b'{"id": "trunc')
    os.symlink("/etc/passwd", d / f"{'4' * 16}.+0.{'1' * 26}.job")
    out = run(spool.root, "ls", "--json")
    assert out.returncode == 0
    assert [j["id"] for j in json.loads(out.stdout)] == [good]
    assert out.stderr.count("warning:") == 2 and "moved to corrupt/" in out.stderr
    assert len(spool.corrupt_files()) == 2


@pytest.fixture
def read_only_root(spool: Spool, tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("not root: no read-only bind mount (and chmod does not stop root)")
    view = tmp_path / "ro"
    view.mkdir()
    if subprocess.run(["mount", "--bind", str(spool.root), str(view)], capture_output=True).returncode:
        pytest.skip("cannot bind-mount here")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], capture_output=True).returncode:
            pytest.skip("cannot remount read-only here")
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], capture_output=True)


def test_a_read_only_spool(spool: Spool, read_only_root: Path) -> None:
    (a,) = submit(spool, [JobSpec(command=["true"])])
    # a live runner's heartbeat: reading it must not need to write (a clock probe in tmp/)
    beat(spool, Heartbeat(id="r1", host=socket.gethostname(), pid=os.getpid(), queues=["default"], slots=1))
    for args in (["ls"], ["ls", "--json"], ["show", a], ["queue", "ls"]):
        out = run(read_only_root, *args)
        assert out.returncode == 0, (args, out.stderr)
    assert "starting" in run(read_only_root, "show", a).stdout
    for args in (["submit", "--", "true"], ["move", a, "--bottom"], ["hold", a], ["cancel", a],
                 ["queue", "pause", "default"]):
        one_line_error(run(read_only_root, *args), "Read-only file system")
    assert [p.id for p in spool.pending("default")] == [a]


def test_durations_read_the_same_everywhere(spool: Spool) -> None:
    """--timeout, --lease and --older-than take what trigger files take (5m, 2h, 250ms)."""
    out = run(spool.root, "submit", "--timeout", "5m", "--", "true")
    assert out.returncode == 0 and spool.read(spool.find(out.stdout.strip())).timeout == 300
    for args in (["prune", "--older-than", "nan"], ["prune", "--older-than=-1d"],
                 ["submit", "--timeout", "0", "--", "true"], ["submit", "--timeout", "5x", "--", "true"]):
        out = run(spool.root, *args)
        assert out.returncode == 2 and ("not a duration" in out.stderr or "must be" in out.stderr), args
    assert run(spool.root, "prune", "--older-than", "0").returncode == 0
