"""Helpers for the worktree-isolation tests: a repository with a small Python package and
its tests, and an agent that follows a plan per sortie (files to write, whether to commit
itself, a commit to make on the base branch meanwhile, how long to take, how to exit)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support import git

#: Follows ``$AGENT_PLAN`` (JSON: sortie id -> plan; a try after the first uses the plan's
#: ``"retry"`` entry when it has one). A plan: ``wait_merged`` (a sortie id: wait until the
#: base branch's log names it), ``base_commit`` (files committed on the base branch in
#: the repository itself, as the user would), ``write`` (files written in the worktree),
#: ``commit`` (commit them itself), ``sleep`` (seconds), ``exit`` (its code). With
#: ``$AGENT_PROMPTS``, each prompt is saved there as ``<sortie>-<attempt>.md``.
PLAN_AGENT = textwrap.dedent('''\
    import json, os, subprocess, sys, time
    prompt = sys.stdin.read()
    if os.environ.get("AGENT_PROMPTS"):  # kept for the test to read
        with open(os.path.join(os.environ["AGENT_PROMPTS"], os.environ["FLEET_SORTIE_ID"]
                               + "-" + os.environ["FLEET_ATTEMPT"] + ".md"), "w") as f:
            f.write(prompt)
    plans = json.load(open(os.environ["AGENT_PLAN"]))
    plan = plans.get(os.environ["FLEET_SORTIE_ID"], {})
    if int(os.environ["FLEET_ATTEMPT"]) > 1:
        plan = plan.get("retry", plan)
    root = os.environ["FLEET_REPO"]
    here = os.getcwd()
    def run(*args, cwd=here):
        subprocess.run(["git", "-C", cwd, *args], check=True, capture_output=True)
    if plan.get("wait_merged"):
        end = time.monotonic() + 30
        while plan["wait_merged"] not in subprocess.run(
                ["git", "-C", root, "log", "main", "--format=%s"], capture_output=True,
                text=True).stdout:
            assert time.monotonic() < end, "never merged"
            time.sleep(0.05)
    for rel, text in plan.get("base_commit", {}).items():
        with open(os.path.join(root, rel), "w") as f:
            f.write(text)
        run("add", "--", rel, cwd=root)
        run("commit", "-q", "-m", "made by the test meanwhile", "--", rel, cwd=root)
    for rel, text in plan.get("write", {}).items():
        path = os.path.join(here, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    if plan.get("commit"):
        run("add", "-A")
        run("commit", "-q", "-m", "the agent's own commit")
    time.sleep(float(plan.get("sleep", 0)))
    sys.exit(int(plan.get("exit", 0)))
''')

NAMES = ("a", "b", "c", "d")


def python_project(repo: Path) -> None:
    """``pkg/`` with one function per module (each returns its name) and a test of each,
    committed on ``main``; ``.fleet/`` is committed too (as ``fleet-hive init`` leaves
    it)."""
    (repo / "pkg").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    for n in NAMES:
        (repo / "pkg" / f"{n}.py").write_text(f"def {n}():\n    return {n!r}\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_pkg.py").write_text("".join(
        f"from pkg.{n} import {n}\n" for n in NAMES) + "".join(
        f"\n\ndef test_{n}():\n    assert {n}().startswith({n!r})\n" for n in NAMES))
    (repo / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a small package")


def verify_command() -> str:
    """A fast ``pytest`` run of the package's tests (no plugins: they take seconds to load
    on a busy machine)."""
    return f"PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -B -m pytest -q -x tests"


def write_plan(directory: Path, plans: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The agent command and the environment that gives it ``plans``."""
    agent = directory / "plan_agent.py"
    agent.write_text(PLAN_AGENT)
    plan = directory / "plan.json"
    plan.write_text(json.dumps(plans))
    return f"{sys.executable} {agent}", {"AGENT_PLAN": str(plan), "FLEET_ACTOR": "lead"}


def worktree_paths(repo: Path) -> list[str]:
    """``git worktree list``: the paths (the repository itself first)."""
    out = git(repo, "worktree", "list", "--porcelain").stdout
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


def fleet_branches(repo: Path) -> list[str]:
    out = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/fleet/").stdout
    return out.split()


def show(repo: Path, rev: str, path: str) -> str | None:
    done = git(repo, "show", f"{rev}:{path}", check=False)
    return done.stdout if done.returncode == 0 else None


def read_records(proc: subprocess.Popen[str], done: Callable[[list[dict[str, Any]]], bool],
                 timeout: float = 60) -> list[dict[str, Any]]:
    """Progress records read from ``proc``'s stdout (raw bytes) until ``done(records)``."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    records: list[dict[str, Any]] = []
    pending = b""
    end = time.monotonic() + timeout
    while not done(records):
        left = end - time.monotonic()
        assert left > 0, records
        poller = select.poll()  # not select.select: a busy test process has fds over 1024
        poller.register(fd, select.POLLIN)
        ready = poller.poll(left * 1000)
        if ready:
            data = os.read(fd, 65536)
            assert data, (records, proc.stderr.read() if proc.stderr else "")
            *lines, pending = (pending + data).split(b"\n")
            records += [json.loads(line) for line in lines if line.strip()]
    return records
