"""A spool full of bad files: every part keeps working, says what it found, follows no
link and touches nothing outside the spool."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import CorruptJob, Spool, submit
from store.jobs.submit import JobSpec
from store.layout import pending_name
from store.model import decode_job
from store.names import new_job_id
from tests.conftest import run_cf

GOOD = {"id": "", "queue": "default", "command": ["true"], "name": "fine"}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _plant(spool: Spool, tmp_path: Path) -> dict[str, Path]:
    """Write one of every kind of bad file into the default queue; return what to check."""
    pend = spool.layout.pending("default")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("do not touch")
    planted = {}

    def put(kind: str, data: bytes | None = None, link: str | None = None) -> None:
        path = pend / pending_name(1 << 60 | len(planted), 0, new_job_id())
        if link:
            os.symlink(link, path)
        else:
            path.write_bytes(data or b"")
        planted[kind] = path

    good = json.dumps({**GOOD, "id": "X"}).encode()
    put("truncated", good[: len(good) // 2])
    put("garbage", os.urandom(300))
    put("wrong shape", b'["a", "list", "not", "a", "job"]')
    put("wrong types", b'{"id": 5, "queue": [], "command": "x"}')
    put("newer format", json.dumps({**GOOD, "id": "Y", "v": 99}).encode())
    put("enormous", b'{"id": "' + b"a" * (5 * 1024 * 1024) + b'"}')
    put("symlink to /etc/passwd", link="/etc/passwd")
    (pend / "..weird.job").write_bytes(b"not ours")  # not our name grammar: ignored
    (pend / ".nfs000000001").write_bytes(b"silly rename")
    os.symlink(outside, spool.layout.queues / "evil")  # a queue that is a symlink
    return {"outside": outside, **planted}


@pytest.fixture
def bad_spool(spool: Spool, tmp_path: Path) -> tuple[Spool, dict[str, Path]]:
    (good_id,) = submit(spool, [JobSpec(command=["true"], name="survivor")])
    planted = _plant(spool, tmp_path)
    planted["good"] = Path(good_id)
    return spool, planted


def test_cli_lists_through_bad_files(bad_spool: tuple[Spool, dict[str, Path]]) -> None:
    """`ls` shows the good job, warns about each bad one, and moves them to corrupt/."""
    spool, planted = bad_spool
    passwd = _digest(Path("/etc/passwd"))
    out = run_cf(spool, "ls", "--json")
    assert out.returncode == 0, out.stderr
    jobs = json.loads(out.stdout)
    assert [j["name"] for j in jobs] == ["survivor"]
    assert out.stderr.count("warning:") == 7
    assert "moved to corrupt/" in out.stderr
    corrupt = spool.corrupt_files()
    assert len(corrupt) == 7
    notes = [Path(str(c) + ".why").read_text() for c in corrupt]
    assert all("reason:" in n for n in notes)
    # the link itself was moved aside; its target was neither followed nor touched
    assert _digest(Path("/etc/passwd")) == passwd
    assert (planted["outside"] / "precious").read_text() == "do not touch"
    # names that are not ours stay where they are, untouched and unlisted
    assert (spool.layout.pending("default") / "..weird.job").exists()
    assert run_cf(spool, "ls").returncode == 0


def test_symlinked_queue_is_not_a_queue(bad_spool: tuple[Spool, dict[str, Path]]) -> None:
    spool, planted = bad_spool
    qs = json.loads(run_cf(spool, "queue", "ls", "--json").stdout)
    assert [q["name"] for q in qs] == ["default"]
    out = run_cf(spool, "submit", "--queue", "evil", "--", "true")
    assert out.returncode == 1 and "evil" in out.stderr
    assert sorted(p.name for p in planted["outside"].iterdir()) == ["precious"]


def test_doctor_reports_corrupt_files(bad_spool: tuple[Spool, dict[str, Path]]) -> None:
    spool, _ = bad_spool
    run_cf(spool, "ls")
    out = run_cf(spool, "doctor")
    assert "7 file(s) in corrupt/" in out.stdout


def test_doctor_on_a_spool_without_tmp_says_how_to_fix_it(spool: Spool) -> None:
    spool.layout.tmp.rmdir()
    out = run_cf(spool, "doctor")
    assert "Traceback" not in out.stderr and f"mkdir -m 755 {spool.layout.tmp}" in out.stdout


def test_show_of_a_corrupt_job_says_so(spool: Spool, tmp_path: Path) -> None:
    planted = _plant(spool, tmp_path)
    job_id = planted["garbage"].name.split(".")[2]
    out = run_cf(spool, "show", job_id)
    assert out.returncode == 1
    assert job_id in out.stderr and "corrupt/" in out.stderr
    assert out.stderr.count("\n") == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_decoder_never_crashes_on_bytes(data: bytes) -> None:
    """Any bytes decode to a Job or raise CorruptJob: never another exception."""
    try:
        decode_job(data)
    except CorruptJob:
        pass


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "queue", "command", "name", "priority", "env", "labels", "v",
                                        "result", "claim", "trigger", "attempt", "timeout", "zzz"]),
                       _json, max_size=8))
def test_decoder_never_crashes_on_json_shapes(doc: dict) -> None:
    """Job-like JSON of any shape: a Job or CorruptJob, and unknown keys are tolerated."""
    data = msgspec.json.encode(doc)
    try:
        job = decode_job(data)
    except CorruptJob:
        return
    assert isinstance(job.command, list)


def test_runner_runs_the_good_job_and_sets_the_bad_ones_aside(bad_spool: tuple[Spool, dict[str, Path]]) -> None:
    spool, planted = bad_spool
    passwd = _digest(Path("/etc/passwd"))
    out = run_cf(spool, "runner", "--drain", "--slots", "1", timeout=60)
    assert out.returncode == 0, out.stderr
    assert spool.find(str(planted["good"])).state == "succeeded"
    assert "corrupt" in out.stderr  # it says what it found
    assert not [p for p in spool.pending("default")]  # nothing bad left to trip over
    assert _digest(Path("/etc/passwd")) == passwd
    assert (planted["outside"] / "precious").read_text() == "do not touch"


def test_tui_opens_shows_the_good_job_and_warns(bad_spool: tuple[Spool, dict[str, Path]]) -> None:
    import asyncio

    from coreflow_tui.tui.widgets.spool_header import SpoolHeader
    from tests.tui.conftest import app_on, settle, wait_until
    from tests.tui.test_keys import jobs_of

    spool, planted = bad_spool

    async def look() -> None:
        app = app_on(spool, follow=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            jl = jobs_of(app)
            await wait_until(pilot, lambda: jl.rows is not None and "survivor" in {
                job.name for i in range(len(jl.rows)) if (job := jl.job(i))})
            # reading the bad files moved them to corrupt/; the feed tells the header
            await wait_until(pilot, lambda: app.screen.query_one(SpoolHeader).has_class("-warning"))

    asyncio.run(look())
    assert (planted["outside"] / "precious").read_text() == "do not touch"
