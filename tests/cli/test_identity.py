"""One identity (issue 10, item 10): ``--actor`` / ``FLEET_ACTOR`` (default: the git user
name, else the OS user) is the default ``--specialist``, ``--holder`` and ``FLEET_HOLDER``,
so an agent's own reservations never block its own ``git commit``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import GIT_ENV, git, run_cli


@pytest.fixture
def fleet_repo(repo: Path) -> Path:
    assert run_cli("-C", str(repo), "init").returncode == 0
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", "fleet")
    return repo


def fleet(repo: Path, *args: str, env: dict[str, str] | None = None, code: int = 0) -> Any:
    got = run_cli("-C", str(repo), "--json", *args, env=env)
    assert got.returncode == code, (args, got.stdout, got.stderr)
    return json.loads(got.stdout)


def commit(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``git commit`` of everything staged, with the hooks and ``env`` (no FLEET_HOLDER)."""
    full = {k: v for k, v in os.environ.items() if k != "FLEET_HOLDER"}
    return subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "work"],
                          capture_output=True, text=True, env={**full, **GIT_ENV, **env})


def test_the_actor_is_the_default_holder_of_every_lock_command(fleet_repo: Path):
    ada = {"FLEET_ACTOR": "ada"}
    (got,) = fleet(fleet_repo, "lock", "acquire", "src/a.py", env=ada)
    assert got["holder"] == "ada"
    (got,) = fleet(fleet_repo, "--actor", "ada", "lock", "renew", "--ttl", "7200")
    assert got["holder"] == "ada"
    fleet(fleet_repo, "lock", "check", "src/a.py", env=ada)  # ada's own: free for ada
    err = fleet(fleet_repo, "lock", "check", "src/a.py", env={"FLEET_ACTOR": "bob"}, code=3)
    assert "ada" in err["error"]["message"]
    fleet(fleet_repo, "lock", "release", "src/a.py", env={"FLEET_ACTOR": "bob"}, code=3)
    (got,) = fleet(fleet_repo, "lock", "release", "src/a.py", env=ada)
    assert got["holder"] == "ada"
    assert fleet(fleet_repo, "lock", "list") == []


def test_the_actor_is_the_default_claimant(fleet_repo: Path):
    m = fleet(fleet_repo, "mission", "create", "M")["id"]
    s = fleet(fleet_repo, "sortie", "add", m, "S")["id"]
    assert fleet(fleet_repo, "sortie", "claim", s, env={"FLEET_ACTOR": "ada"})[
        "claimed_by"] == "ada"


def test_an_agents_own_claim_never_blocks_its_own_commit(fleet_repo: Path):
    assert run_cli("-C", str(fleet_repo), "hooks", "install").returncode == 0
    m = fleet(fleet_repo, "mission", "create", "M")["id"]
    s = fleet(fleet_repo, "sortie", "add", m, "engine", "--file", "src/**")["id"]
    ada = {"FLEET_ACTOR": "ada"}
    fleet(fleet_repo, "sortie", "claim", s, env=ada)  # reserves src/** for ada
    (fleet_repo / "src").mkdir()
    (fleet_repo / "src" / "engine.py").write_text("x = 1\n")
    git(fleet_repo, "add", "src/engine.py")
    refused = commit(fleet_repo, {"FLEET_ACTOR": "bob"})
    assert refused.returncode != 0 and "reserved exclusively by ada" in refused.stderr
    done = commit(fleet_repo, ada)  # FLEET_HOLDER unset: the actor holds
    assert done.returncode == 0, done.stderr


def test_the_git_user_name_is_the_identity_when_no_actor_is_given(fleet_repo: Path):
    git(fleet_repo, "config", "user.name", "grace")
    assert run_cli("-C", str(fleet_repo), "hooks", "install").returncode == 0
    (got,) = fleet(fleet_repo, "lock", "acquire", "src/**")
    assert got["holder"] == "grace"
    (fleet_repo / "src").mkdir()
    (fleet_repo / "src" / "b.py").write_text("y = 1\n")
    git(fleet_repo, "add", "src/b.py")
    done = commit(fleet_repo, {})
    assert done.returncode == 0, done.stderr
