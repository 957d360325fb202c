"""Bad surroundings: a broken types.toml, a newer spool, a read-only spool, a full disk.
Each gives a clear one-line error and leaves the spool consistent, nothing queued lost."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from storehelp import check_order, fill_disk, mount, places, small_tmpfs, umount

from store import (
    ConfigError,
    FormatError,
    Spool,
    SpoolError,
    SpoolNotFound,
    StorageError,
    Where,
    cancel,
    hold,
    move,
    retry,
    submit,
)
from store.jobs.submit import JobSpec


def test_types_toml_with_a_syntax_error(spool: Spool) -> None:
    spool.layout.types.write_text('[build]\ndescription = "unterminated\n')
    with pytest.raises(ConfigError) as e:
        submit(spool, [JobSpec(command=["true"], type="build")])
    msg = str(e.value)
    assert "types.toml" in msg and "line 2" in msg and "\n" not in msg
    spool.layout.types.write_text('[build]\ndescriptoin = "typo"\n')
    with pytest.raises(ConfigError, match="descriptoin"):
        submit(spool, [JobSpec(command=["true"], type="build")])
    spool.layout.types.write_text('[build]\npriority = 10000\n')  # no pending name could hold it
    with pytest.raises(ConfigError, match=r"\[build\].*between"):
        submit(spool, [JobSpec(command=["true"], type="build")])
    assert places(spool) == {}


def test_types_toml_gives_defaults(spool: Spool) -> None:
    spool.add_queue("build")
    spool.layout.types.write_text('[build]\nqueue = "build"\ntimeout = 60\npriority = 10\nrequires = ["linux"]\n')
    (job_id,) = submit(spool, [JobSpec(command=["make"], type="build")])
    v = spool.show(job_id)
    assert (v.queue, v.job.timeout, v.job.priority, v.job.requires) == ("build", 60, 10, ["linux"])
    with pytest.raises(SpoolError, match="unknown job type 'deploy'"):
        submit(spool, [JobSpec(command=["true"], type="deploy")])


def test_a_spool_from_a_newer_format(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    Spool.init(root)
    meta = json.loads((root / "spool.json").read_text())
    (root / "spool.json").write_text(json.dumps({**meta, "format": 2, "new_field": True}))
    with pytest.raises(FormatError, match="format 2.*upgrade coreflow"):
        Spool.open(root)
    with pytest.raises(FormatError):
        Spool.init(root)  # init never "upgrades" or rewrites a newer spool
    assert json.loads((root / "spool.json").read_text())["format"] == 2


def test_no_spool(tmp_path: Path) -> None:
    with pytest.raises(SpoolNotFound, match="coreflow init"):
        Spool.open(tmp_path / "nothing")


@pytest.fixture
def read_only(spool: Spool, tmp_path: Path) -> Iterator[tuple[Spool, list[str]]]:
    ids = submit(spool, [JobSpec(command=["true"], name=str(i)) for i in range(3)])
    cancel(spool, ids[2])
    view = tmp_path / "ro"
    view.mkdir()
    why = mount(["--bind", str(spool.root), str(view)])
    if why is None:
        why = mount(["-o", "remount,bind,ro", str(view)])
        if why is not None:
            umount(view)
    if why:
        pytest.skip(f"no read-only view of the spool: {why}")
    try:
        yield Spool.open(view), ids
    finally:
        umount(view)


def test_a_read_only_spool_can_be_read_but_not_changed(read_only: tuple[Spool, list[str]]) -> None:
    ro, ids = read_only
    views, warnings = ro.jobs()
    assert [v.job.id for v in views] == ids[:2] and warnings == []
    assert ro.show(ids[2]).state == "cancelled"
    for change in (lambda: submit(ro, [JobSpec(command=["true"])]), lambda: move(ro, ids[1], Where("top")),
                   lambda: hold(ro, ids[0]), lambda: cancel(ro, ids[0]), lambda: retry(ro, ids[2]),
                   lambda: ro.update_queue("default", "pause", paused=True), lambda: ro.add_queue("x")):
        with pytest.raises(StorageError) as e:
            change()
        assert "Read-only file system" in str(e.value) and "\n" not in str(e.value)
    assert check_order(ro, "default") == ids[:2]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path, "size=64k,nr_inodes=400") as mnt:
        yield mnt


def test_enospc_leaves_the_spool_consistent(tiny_disk: Path) -> None:
    spool = Spool.init(tiny_disk / "spool")
    spool.add_queue("other")
    ids = submit(spool, [JobSpec(command=["true"], name=str(i)) for i in range(4)])
    finished = ids[3]
    cancel(spool, finished)
    before_order = check_order(spool, "default")
    fill_disk(tiny_disk)
    errors = []
    for what, change in [
        ("submit", lambda: submit(spool, [JobSpec(command=["true"], name=str(i)) for i in range(3)])),
        ("cancel", lambda: cancel(spool, ids[0])),
        ("retry", lambda: retry(spool, finished)),
        ("move to queue", lambda: move(spool, ids[1], Where("queue", other="other"))),
    ]:
        try:
            change()
        except StorageError as exc:
            errors.append(what)
            assert "No space left on device" in str(exc) and "\n" not in str(exc)
    assert errors == ["submit", "cancel", "retry", "move to queue"], (errors, [spool.find(i).state for i in ids])
    # nothing queued was lost, nothing half-done is visible, and the spool still reads
    assert check_order(spool, "default") == before_order
    assert spool.show(ids[0]).state == "pending" and spool.show(ids[1]).queue == "default"
    assert spool.show(finished).state == "cancelled"
    assert set(places(spool).values()) == {1} and len(places(spool)) == 4
    assert os.listdir(spool.layout.tmp) == []
    # a move within a queue is one rename and needs no space; its audit line may not fit
    try:
        move(spool, ids[2], Where("top"))
    except StorageError as exc:
        assert f"move of job {ids[2]} done, but not recorded in its audit trail" in str(exc)
    assert check_order(spool, "default")[0] == ids[2]
    for p in tiny_disk.glob("ballast*"):
        p.unlink()
    assert submit(spool, [JobSpec(command=["true"])])
    assert retry(spool, finished) >= 1
