"""`coreflow completion`: the bash script run in a real bash; zsh and fish through
argcomplete's environment protocol (the same requests their scripts make)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import store
from store import JobSpec, Spool
from store.triggers import save_trigger
from tests.conftest import run_cf

from .conftest import running_job

pytestmark = pytest.mark.timeout(120)
BIN = str(Path(sys.executable).parent)


def _env(spool: Spool | None) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("COREFLOW_SPOOL", None)
    if spool is not None:
        env["COREFLOW_SPOOL"] = str(spool.root)
    return env


def bash_complete(line: str, spool: Spool | None) -> list[str]:
    """What TAB at the end of `line` offers in a real bash with `coreflow completion bash` sourced."""
    script = ('source <(coreflow completion bash) || exit 9\n'
              'read -r -a COMP_WORDS <<< "$LINE"; [[ "$LINE" == *" " ]] && COMP_WORDS+=("")\n'
              'COMP_LINE="$LINE"; COMP_POINT=${#LINE}; COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n'
              'fn=$(complete -p coreflow | sed -E "s/.*-F ([^ ]+).*/\\1/")\n'
              '"$fn" coreflow "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    out = subprocess.run(["bash", "--norc", "-c", script], env={**_env(spool), "LINE": line},
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return [w.strip() for w in out.stdout.splitlines() if w.strip()]


def protocol_complete(line: str, spool: Spool, shell: str, tmp_path: Path) -> list[str]:
    """The request zsh's and fish's scripts make: argcomplete's environment protocol."""
    dest = tmp_path / f"out.{shell}"
    env = {**_env(spool), "_ARGCOMPLETE": "1", "_ARGCOMPLETE_SHELL": shell, "COMP_LINE": line,
           "COMP_POINT": str(len(line)), "_ARGCOMPLETE_SUPPRESS_SPACE": "1", "_ARGCOMPLETE_STDOUT_FILENAME": str(dest)}
    if shell == "fish":  # as its script sets them
        env.update(_ARGCOMPLETE_DFS="\t", _ARGCOMPLETE_IFS="\n")
    subprocess.run(["coreflow"], env=env, timeout=30, check=True, capture_output=True)
    return [w for w in dest.read_text().split("\n" if shell == "fish" else "\013") if w]


@pytest.fixture
def busy(spool: Spool):
    """A spool with queues, a trigger, waiting, held, running and finished jobs."""
    spool.add_queue("build", slots=2)
    spool.add_queue("bench")
    save_trigger(spool, "nightly", 'kind = "schedule"\nevery = "1d"\n[job]\ncommand = ["true"]\n')
    pending = store.submit(spool, [JobSpec(command=["true"], queue="build", name="pending one")])[0]
    held = store.submit(spool, [JobSpec(command=["true"], queue="build", name="held \x1b[2J one")])[0]
    store.hold(spool, held)
    done = store.submit(spool, [JobSpec(command=["true"])])[0]
    store.cancel(spool, done)
    with running_job(spool) as running:
        yield {"pending": pending, "held": held, "running": running, "done": done}


def test_commands_and_options(spool: Spool) -> None:
    assert bash_complete("coreflow ca", spool) == ["cancel"]
    assert set(bash_complete("coreflow com", spool)) == {"completion"}
    assert "--priority" in bash_complete("coreflow submit --pr", spool)
    assert bash_complete("coreflow completion ", spool) == ["bash", "zsh", "fish"]
    assert set(bash_complete("coreflow ls --state f", spool)) == {"failed", "finished"}


def test_queue_and_trigger_names_from_the_spool_in_use(busy: dict[str, str], spool: Spool, tmp_path: Path) -> None:
    assert set(bash_complete("coreflow ls --queue b", spool)) == {"build", "bench"}
    assert set(bash_complete("coreflow queue pause ", spool)) == {"bench", "build", "default"}
    assert set(bash_complete("coreflow runner --queues default,b", spool)) == {"default,build", "default,bench"}
    assert bash_complete("coreflow triggers fire ", spool) == ["nightly"]
    # --spool on the line wins over COREFLOW_SPOOL
    other = Spool.init(tmp_path / "other")
    other.add_queue("elsewhere")
    assert "elsewhere" in bash_complete(f"coreflow --spool {other.root} ls --queue ", spool)
    # no spool there: nothing offered, and no traceback on the terminal
    assert bash_complete(f"coreflow --spool {tmp_path / 'none'} ls --queue ", spool) == []


def test_job_ids_of_waiting_and_running_jobs(busy: dict[str, str], spool: Spool) -> None:
    cancel = set(bash_complete("coreflow cancel ", spool))
    assert cancel == {busy["pending"], busy["held"], busy["running"]}  # not the finished one
    assert set(bash_complete("coreflow hold ", spool)) == {busy["pending"]}
    assert set(bash_complete("coreflow release ", spool)) == {busy["held"]}
    assert set(bash_complete("coreflow move ", spool)) == {busy["pending"], busy["held"]}
    assert bash_complete(f"coreflow show {busy['running'][:-3]}", spool) == [busy["running"]]
    # several ids: each word completes
    assert busy["held"] in bash_complete(f"coreflow cancel {busy['pending']} ", spool)


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_show_names_made_inert(busy: dict[str, str], spool: Spool, tmp_path: Path, shell: str) -> None:
    words = protocol_complete("coreflow cancel ", spool, shell, tmp_path)
    sep = ":" if shell == "zsh" else "\t"
    shown = dict(w.split(sep, 1) for w in words)
    assert shown[busy["pending"]] == "pending one (build, pending)"
    assert shown[busy["running"]] == "long one (default, running)"
    assert "\x1b" not in shown[busy["held"]] and "\\x1b" in shown[busy["held"]]


@pytest.mark.skipif(not shutil.which("fish"), reason="fish is not installed (.ci/run installs it)")
def test_fish_itself_completes_ids_with_names(busy: dict[str, str], spool: Spool) -> None:
    """fish runs its completions without a terminal: `complete --do-complete`."""
    script = 'coreflow completion fish | source; complete --do-complete "coreflow release "'
    out = subprocess.run(["fish", "--no-config", "-c", script], env=_env(spool), capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert out.splitlines() == [f"{busy['held']}\theld \\x1b[2J one (build, held)"]
    script = 'coreflow completion fish | source; complete --do-complete "coreflow queue pa"'
    out = subprocess.run(["fish", "--no-config", "-c", script], env=_env(spool), capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert out.split("\t")[0] == "pause"


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed (.ci/run installs it)")
def test_the_zsh_script_parses_in_zsh(spool: Spool, tmp_path: Path) -> None:
    script = tmp_path / "_coreflow"
    script.write_text(run_cf(spool, "completion", "zsh", check=True).stdout)
    r = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_scripts_name_coreflow(shell: str, spool: Spool) -> None:
    out = run_cf(spool, "completion", shell, check=True).stdout
    assert "coreflow" in out and "_ARGCOMPLETE" in out


def test_ten_thousand_jobs_complete_within_0_3_s(spool: Spool) -> None:
    store.submit(spool, [JobSpec(command=["true"], name=f"job {i}") for i in range(10_000)])
    script = ('source <(coreflow completion bash)\n'
              'COMP_LINE="coreflow cancel "; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(coreflow cancel ""); COMP_CWORD=2\n'
              'fn=$(complete -p coreflow | sed -E "s/.*-F ([^ ]+).*/\\1/")\n'
              'for i in 1 2 3; do s=$EPOCHREALTIME; "$fn" coreflow "" cancel; e=$EPOCHREALTIME\n'
              '  echo "${#COMPREPLY[@]} $s $e"; done\n')
    out = subprocess.run(["bash", "--norc", "-c", script], env=_env(spool), capture_output=True, text=True,
                         timeout=60, check=True).stdout.split("\n")
    runs = [line.split() for line in out if line]
    assert {r[0] for r in runs} == {"10000"}
    best = min(float(e) - float(s) for _, s, e in runs)
    print(f"completion of 10,000 job ids: best of 3 {best * 1000:.0f} ms")
    assert best < 0.3
