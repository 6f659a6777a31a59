"""Shared fixtures: real git repositories in temp directories, a CLI runner.

A guard fails any test that leaves a ``.fleet/`` in the project checkout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import GIT_ENV, PROJECT, git


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
