"""Helpers every test package shares: real git repositories, the CLI as a real process,
the raw lines of the log. Fixtures live in ``tests/conftest.py``; this is plain code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: the project checkout (tests never write into it)
PROJECT = Path(__file__).resolve().parents[2]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], check=check, capture_output=True,
                          text=True, env=env)


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 60,
            ) -> subprocess.CompletedProcess[str]:
    """Run ``python -m fleet_hive`` as a real process."""
    return subprocess.run([sys.executable, "-m", "fleet_hive", *args], cwd=cwd, input=input,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def bare_remote(where: Path, files: dict[str, str] | None = None) -> Path:
    """``where/remote.git``: a bare remote whose main branch holds one commit of ``files``
    (default: a README), made with the git CLI; pushes over smart HTTP are allowed."""
    where.mkdir(parents=True, exist_ok=True)
    bare = where / "remote.git"
    git(where, "init", "-q", "--bare", "-b", "main", str(bare))
    git(bare, "config", "http.receivepack", "true")
    seed = where / "remote-seed"
    git(where, "init", "-q", "-b", "main", str(seed))
    for name, text in (files or {"README": "shared\n"}).items():
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(text)
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "initial")
    git(seed, "push", "-q", str(bare), "main")
    return bare


def segment_lines(root: Path) -> list[bytes]:
    """Every complete line of every segment under ``root/.fleet/events``."""
    out: list[bytes] = []
    for path in sorted((root / ".fleet" / "events").glob("*/*.jsonl")):
        data = path.read_bytes()
        out.extend(line for line in data.split(b"\n")[:-1])
    return out


def mission_lines(root: Path) -> list[bytes]:
    """:func:`segment_lines` without the after-write policies' events (the checkpoint
    trigger's, stream ``checkpoints:<mission>``; a blocker's escalation mail, ``mail:``;
    the outcomes recorded for learning, ``outcome:<id>``): what the mission and sortie
    use cases wrote themselves."""
    return [line for line in segment_lines(root) if b'"stream":"checkpoints:' not in line
            and b'"stream":"mail:' not in line and b'"stream":"outcome:' not in line]


def unsynced_hive(repo: Path, actor: str) -> Iterator[Any]:
    """A fixture body: ``repo`` initialized, appending without fsync (``durability:
    none``, which changes nothing the tests that drive many writes check), opened as
    ``actor``; closed afterwards."""
    import fleet_hive

    fleet_hive.init(repo).close()
    config = repo / ".fleet" / "config.yaml"
    config.write_text(config.read_text().replace("durability: fsync", "durability: none"))
    h = fleet_hive.open(repo, actor=actor)
    yield h
    h.close()


def modules_loaded_by(repo: Path, *argv: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Run ``fleet-hive -C repo argv...`` in a fresh interpreter (as ``python -m
    fleet_hive``); the modules it had loaded when the command ended, and the process."""
    probe = (
        "import sys, runpy, json\n"
        f"sys.argv = ['fleet-hive', '-C', {str(repo)!r}, *{list(argv)!r}]\n"
        "code = 0\n"
        "try:\n    runpy.run_module('fleet_hive', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code or 0\n"
        "sys.stderr.write('\\n' + json.dumps(sorted(sys.modules)))\n"
        "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    return set(json.loads(result.stderr.strip().splitlines()[-1])), result
