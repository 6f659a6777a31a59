"""Once an event is durable the command has succeeded: a derived file that cannot be
written is a warning (exit 0, the object printed), never an error that makes an agent
retry and record the change twice (storage.md 1, 10)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support import run_cli


def test_a_snapshot_that_cannot_be_written_is_a_warning(hive, repo: Path):
    missions = hive.layout.missions
    shutil.rmtree(missions)
    missions.write_text("in the way\n")  # a file where the directory should be (root too)
    got = run_cli("-C", str(repo), "mission", "create", "Rate limits", "--json")
    assert got.returncode == 0, got.stderr
    created = json.loads(got.stdout)
    assert created["title"] == "Rate limits"
    (line,) = [x for x in got.stderr.splitlines() if x.startswith("warning:")]
    assert "snapshot" in line and created["id"] in line and "verify --repair" in line
    assert [m.id for m in hive.missions.list()] == [created["id"]]  # recorded once
    missions.unlink()
    fixed = run_cli("-C", str(repo), "verify", "--repair", "--json")
    assert fixed.returncode == 0, fixed.stdout
    assert (missions / f"{created['id']}.yaml").is_file()


def test_a_clean_write_prints_no_warning(hive, repo: Path):
    got = run_cli("-C", str(repo), "mission", "create", "Fine", "--json")
    assert got.returncode == 0 and "warning" not in got.stderr
