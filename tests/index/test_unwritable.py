"""A cache that cannot be written: a full disk, a read-only ``.fleet/``. Reads keep working
(from the log, in memory), a write fails with a clear error or succeeds and says what fell
behind, nothing acknowledged is lost, and everything works again once space is free."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..support import git, run_cli
from ..support.mounts import fill, remount_read_only, remount_read_write, tmpfs


def _project(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "initial")
    assert run_cli("init", cwd=repo).returncode == 0
    return repo


def _titles(repo: Path) -> list[str]:
    out = run_cli("mission", "list", "--json", cwd=repo)
    assert out.returncode == 0, out.stderr
    return sorted(m["title"] for m in json.loads(out.stdout))


@pytest.mark.slow
def test_read_only_fleet_still_answers(tmp_path: Path):
    with tmpfs(tmp_path / "fs", "16m") as fs:
        repo = _project(fs)
        for title in ("A", "B"):
            assert run_cli("mission", "create", title, cwd=repo).returncode == 0
        for cache_state in ("built", "absent"):
            if cache_state == "absent":
                remount_read_write(fs)
                for f in (repo / ".fleet" / ".cache").glob("index.sqlite*"):
                    f.unlink()
            remount_read_only(fs)
            for args in (["status", "--json"], ["mission", "list", "--json"],
                         ["events", "list", "--json"], ["verify", "--json"]):
                out = run_cli(*args, cwd=repo)
                assert out.returncode == 0, (cache_state, args, out.stderr)
                json.loads(out.stdout)
                if args[0] != "verify":
                    assert "index cache cannot be written" in out.stderr, out.stderr
            assert _titles(repo) == ["A", "B"]
            write = run_cli("mission", "create", "C", "--json", cwd=repo)
            assert write.returncode == 1, write.stderr
            assert json.loads(write.stdout)["error"]["code"] == "storage"
            assert "read-only file system" in write.stderr.lower()
            assert len(write.stderr.strip().splitlines()) <= 2, write.stderr
        remount_read_write(fs)
        assert _titles(repo) == ["A", "B"]


@pytest.mark.slow
def test_full_disk_loses_nothing_and_recovers(tmp_path: Path):
    with tmpfs(tmp_path / "fs", "3m") as fs:
        repo = _project(fs)
        assert run_cli("mission", "create", "first", cwd=repo).returncode == 0
        acknowledged = ["first"]
        filler = fill(fs)
        outcomes = set()
        for i in range(40):  # until the segment's last page is full too
            if "refused" in outcomes and i % 2:
                break
            out = run_cli("mission", "create", f"full {i}", "--json", cwd=repo)
            assert out.returncode in (0, 1), out.stderr
            if out.returncode == 0:
                acknowledged.append(json.loads(out.stdout)["title"])
                outcomes.add("written")
            else:
                assert "no space left on device" in out.stderr.lower(), out.stderr
                assert json.loads(out.stdout)["error"]["code"] == "storage"
                outcomes.add("refused")
            # reads keep working while the disk is full
            assert _titles(repo) == sorted(acknowledged)
            status = run_cli("status", "--json", cwd=repo)
            assert status.returncode == 0, status.stderr
            verify = run_cli("verify", "--json", cwd=repo)
            if verify.returncode:  # a snapshot the full disk kept from being written
                problems = json.loads(verify.stdout)["error"]["problems"]
                assert {p["code"] for p in problems} == {"snapshot_mismatch"}, verify.stdout
        assert "refused" in outcomes
        filler.unlink()
        out = run_cli("mission", "create", "after", "--json", cwd=repo)
        assert out.returncode == 0, out.stderr
        assert "warning" not in out.stderr, out.stderr
        acknowledged.append("after")
        assert _titles(repo) == sorted(acknowledged)
        assert run_cli("verify", cwd=repo).returncode == 0
        index_status = json.loads(run_cli("index", "status", "--json", cwd=repo).stdout)
        assert index_status["in_memory"] is None and index_status["fresh"] is True
