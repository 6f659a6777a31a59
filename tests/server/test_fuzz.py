"""Fuzzing the API from its own OpenAPI document with schemathesis (its command line, on a
real server, about a minute and a half at most): no request makes a 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..support.api import new_repo, serving

pytestmark = pytest.mark.slow


def _st() -> str | None:
    here = Path(sys.executable).parent / "st"
    return str(here) if here.exists() else shutil.which("st")


def test_schemathesis_finds_no_server_error(tmp_path: Path):
    st = _st()
    if st is None:
        pytest.skip("schemathesis is not installed (it is in the test extra)")
    repo = new_repo(tmp_path / "fuzzed")
    with serving(repo, "--rate-limit", "0") as s:
        # something to find, so that not every id is unknown
        with s.client("fuzz") as c:
            mid = c.post("/missions", json={"title": "target"}).json()["id"]
            c.post("/sorties", json={"mission_id": mid, "title": "a", "files": ["a/**"]})
        result = subprocess.run(
            [st, "run", f"{s.api}/openapi.json", "-H", f"Authorization: Bearer {s.token}",
             "--checks", "not_a_server_error", "--max-examples", "10", "--max-time", "90",
             "--workers", "1", "--seed", "16", "--request-timeout", "10"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path)
        with s.client() as c:
            health = c.get("/health")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "passed" in out and "failed" not in out.split("SUMMARY")[-1].lower(), out[-2000:]
    assert health.status_code == 200  # still up
