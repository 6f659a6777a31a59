"""``fleet-hive services``: each command a real process, the server a real ``fleet-hive
serve`` started detached (it outlives the command that started it)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="fleet-hive serve needs the server extra (in the test extra)")

from tests.contracts.services_provider import health, wait_for
from tests.support import run_cli


def services(repo: Path, *args: str, code: int = 0) -> Any:
    done = run_cli("-C", str(repo), "services", *args, "--json", timeout=90)
    assert done.returncode == code, (done.stdout, done.stderr)
    return json.loads(done.stdout)


@pytest.fixture
def repo_down(hive, repo: Path):
    yield repo
    run_cli("-C", str(repo), "services", "down", timeout=60)


def test_the_whole_lifecycle(repo_down: Path):
    repo = repo_down
    assert services(repo, "status")["state"] == "stopped"
    up = services(repo, "up", "--port", "0")
    assert up["action"] == "started" and up["state"] == "running"
    for key in ("pid", "url", "version", "uptime", "port"):
        assert up[key] is not None, key
    assert health(up["url"])["pid"] == up["pid"]

    st = services(repo, "status")
    assert (st["state"], st["pid"], st["url"]) == ("running", up["pid"], up["url"])
    again = services(repo, "up")  # idempotent: exit 0, the same server
    assert again["action"] == "already_running" and again["pid"] == up["pid"]

    human = run_cli("-C", str(repo), "services", "status")
    assert human.returncode == 0 and "running" in human.stdout
    assert f"pid {up['pid']}" in human.stdout and up["url"] in human.stdout

    # a crash: status says so, and up recovers
    os.kill(up["pid"], signal.SIGKILL)
    crashed = wait_for(lambda: (s := services(repo, "status"))["stale"] and s)
    assert crashed["state"] == "stopped" and "SIGKILL" in crashed["reason"]
    human = run_cli("-C", str(repo), "services", "status")
    assert "stale pid file" in human.stdout and "SIGKILL" in human.stdout
    recovered = services(repo, "up", "--port", "0")
    assert recovered["action"] == "started" and recovered["pid"] != up["pid"]
    assert "replaced a stale pid file" in recovered["detail"]

    down = services(repo, "down")
    assert down["action"] == "stopped" and down["state"] == "stopped"
    assert not (repo / ".fleet" / "local" / "server.pid").exists()
    with pytest.raises(OSError):
        health(recovered["url"])
    assert services(repo, "down")["action"] == "not_running"  # not running: exit 0

    lines = services(repo, "logs")
    assert all(line["time"] for line in lines)
    texts = [line["text"] for line in lines]
    assert any("killed by SIGKILL" in t for t in texts)
    assert services(repo, "logs", "--tail", "2") == lines[-2:]
    human = run_cli("-C", str(repo), "services", "logs", "--tail", "1")
    assert human.stdout.strip() == f"{lines[-1]['time']} {lines[-1]['text']}"
    log = repo / ".fleet" / "local" / "server.log"
    assert log.stat().st_mode & 0o077 == 0, "the log holds the dashboard token: private"


def test_an_unknown_provider_is_a_clear_error(hive, repo: Path):
    (repo / ".fleet" / "config.yaml").write_text("services:\n  provider: podman\n")
    error = services(repo, "status", code=1)["error"]
    assert "unknown services provider 'podman'" in error["message"]
    assert "local" in error["message"]


def test_logs_tail_refuses_a_negative_count(hive, repo: Path):
    done = run_cli("-C", str(repo), "services", "logs", "--tail", "-1")
    assert done.returncode == 2


def test_two_ups_at_once_start_one_server(repo_down: Path):
    import subprocess
    import sys

    argv = [sys.executable, "-m", "fleet_hive", "-C", str(repo_down), "services", "up",
            "--port", "0", "--json"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    assert sorted(o["action"] for o in outs) == ["already_running", "started"]
    assert outs[0]["pid"] == outs[1]["pid"]
