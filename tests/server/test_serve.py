"""``fleet-hive serve``: loopback unless told otherwise, a clear refusal without the
server extra's consent flag, a clean stop on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

from ..support import run_cli
from ..support.api import new_repo, serving, stop

#: uvicorn shuts down gracefully on SIGTERM, then re-raises it: the process ends by it
STOPPED = (0, -signal.SIGTERM)


def test_another_address_needs_allow_remote(tmp_path: Path):
    repo = new_repo(tmp_path / "r")
    result = run_cli("-C", str(repo), "serve", "--host", "0.0.0.0", "--port", "0", "--json",
                     timeout=60)
    assert result.returncode == 2
    assert "--allow-remote" in result.stdout + result.stderr


def test_allow_remote_warns_and_serves(tmp_path: Path):
    repo = new_repo(tmp_path / "r")
    with serving(repo, "--host", "0.0.0.0", "--allow-remote") as s:
        with s.client() as c:
            assert c.get("/ready").status_code == 200
        code = stop(s.proc)
    assert code in STOPPED


def test_serve_binds_loopback_by_default_and_stops_on_sigterm(tmp_path: Path):
    repo = new_repo(tmp_path / "r")
    with serving(repo) as s:
        assert s.url.startswith("http://127.0.0.1:")
        assert s.dashboard.startswith(s.url + "/#token=") and s.dashboard.endswith(s.token)
        with s.client() as c:
            assert c.get("/health").json()["pid"] == s.pid
        code = stop(s.proc)
    assert code in STOPPED


def test_serve_outside_a_repository_is_a_clear_error(tmp_path: Path):
    result = run_cli("-C", str(tmp_path), "serve", "--port", "0", "--json", timeout=60)
    assert result.returncode == 1
    assert '"error"' in result.stdout
