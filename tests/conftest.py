"""Shared fixtures: real git repositories in temp directories, a CLI runner.

A guard fails any test that leaves a ``.fleet/`` in the project checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test runs with a scratch HOME and never writes into the project checkout."""
    home = tmp_path / "_home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FLEET_ACTOR", raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    assert not (PROJECT / ".fleet").exists(), "a test wrote .fleet/ into the project checkout"


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", "-C", str(repo), *args], check=check, capture_output=True,
                          text=True, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository (git CLI), with one initial commit."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("hello\n")
    git(path, "add", "README")
    git(path, "commit", "-q", "-m", "initial")
    return path


@pytest.fixture
def hive(repo: Path):
    import fleet_hive

    h = fleet_hive.init(repo, actor="tester")
    yield h
    h.close()


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 60,
            ) -> subprocess.CompletedProcess[str]:
    """Run ``python -m fleet_hive`` as a real process."""
    return subprocess.run([sys.executable, "-m", "fleet_hive", *args], cwd=cwd, input=input,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def segment_lines(root: Path) -> list[bytes]:
    """Every complete line of every segment under ``root/.fleet/events``."""
    out: list[bytes] = []
    for path in sorted((root / ".fleet" / "events").glob("*/*.jsonl")):
        data = path.read_bytes()
        out.extend(line for line in data.split(b"\n")[:-1])
    return out
