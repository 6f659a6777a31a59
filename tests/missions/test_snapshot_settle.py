"""``snapshots: every_write``: a write notes the missions it touched under the writer lock and
rewrites their snapshots after releasing it (``Snapshots.settle``), at most every
``SETTLE_EVERY`` seconds in a process that goes on writing, and at its end (``Hive.close``,
the end of a command, interpreter exit). A crash in between leaves the note for the next."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.missions import snapshots as snapshots_module
from tests.support import run_cli


def snapshot_of(repo: Path, mission_id: str) -> str:
    return (repo / ".fleet" / "missions" / f"{mission_id}.yaml").read_text()


def pending(repo: Path) -> list[str]:
    path = repo / ".fleet" / "local" / "snapshots.pending"
    return path.read_text().split() if path.exists() else []


def test_a_command_leaves_the_snapshot_up_to_date(repo: Path):
    assert run_cli("-C", str(repo), "init").returncode == 0

    def fleet(*args: str) -> dict:
        got = run_cli("-C", str(repo), "--actor", "ada", "--json", *args)
        assert got.returncode == 0, got.stderr
        return json.loads(got.stdout)

    m = fleet("mission", "create", "M")["id"]
    s = fleet("sortie", "add", m, "S")["id"]
    fleet("sortie", "claim", s)
    assert "claimed_by: ada" in snapshot_of(repo, m) and pending(repo) == []
    fleet("sortie", "start", s)
    fleet("sortie", "progress", s, "--percent", "30", "--note", "a third")
    assert "progress_note: a third" in snapshot_of(repo, m) and pending(repo) == []


def test_a_burst_of_writes_settles_once_then_on_settle_and_close(hive, repo: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(snapshots_module, "SETTLE_EVERY", 3600.0)  # one burst: no settle
    m = hive.missions.create("M")  # the first write of the process settles at once
    assert "title: M" in snapshot_of(repo, m.id)
    s = hive.sorties.add(m.id, "S")
    hive.sorties.claim(s.id, specialist="ada")
    assert s.id not in snapshot_of(repo, m.id), "owed, not rendered, within the burst"
    assert pending(repo) == [m.id], "noted once, for a crash before the settle"
    assert hive.settle() == 1
    assert "claimed_by: ada" in snapshot_of(repo, m.id) and pending(repo) == []
    hive.sorties.start(s.id)
    hive.close()
    assert "status: in_progress" in snapshot_of(repo, m.id) and pending(repo) == []


def test_snapshots_are_rendered_after_the_writer_lock_is_released(hive, repo: Path,
                                                                  monkeypatch):
    held: list[bool] = []
    write = snapshots_module.Snapshots.write

    def spy(self, mission_id: str) -> None:
        held.append(hive.log.exclusive().is_locked)
        write(self, mission_id)

    monkeypatch.setattr(snapshots_module.Snapshots, "write", spy)
    monkeypatch.setattr(snapshots_module, "SETTLE_EVERY", 0.0)
    m = hive.missions.create("M")
    hive.sorties.add(m.id, "S")
    assert held == [False, False], "never inside the writer lock"
    assert "title: S" in snapshot_of(repo, m.id)


def _mission_then_script(repo: Path, body: str) -> str:
    """A mission created here, then ``body`` run in a child process with ``h`` its hive
    (snapshots settled only at the end of a burst) and ``m`` the mission's id."""
    hive = fleet_hive.init(repo, actor="ada")
    m = hive.missions.create("M")
    hive.close()
    script = ("import os, sys, fleet_hive\n"
              "from fleet_hive.missions import snapshots\n"
              "snapshots.SETTLE_EVERY = 3600.0\n"
              "h = fleet_hive.open(sys.argv[1], actor='ada')\n"
              "m = sys.argv[2]\n" + body)
    done = subprocess.run([sys.executable, "-c", script, str(repo), m.id],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return m.id


def test_a_process_killed_before_its_settle_leaves_the_note_for_the_next(repo: Path):
    m = _mission_then_script(repo, "h.missions.update(m, title='first')\n"  # settles: first
                                   "h.missions.update(m, title='renamed')\n"  # owed
                                   "os._exit(0)\n")  # as SIGKILL would: no close, no atexit
    assert "title: first" in snapshot_of(repo, m) and pending(repo) == [m]
    with fleet_hive.open(repo, actor="bob") as other:  # another mission's write settles it
        other.missions.create("N")
    assert "title: renamed" in snapshot_of(repo, m) and pending(repo) == []


def test_a_script_that_never_closes_its_hive_settles_at_exit(repo: Path):
    m = _mission_then_script(repo, "h.missions.update(m, title='first')\n"
                                   "h.missions.update(m, title='at exit')\n")
    assert "title: at exit" in snapshot_of(repo, m) and pending(repo) == []


def test_notes_a_flusher_killed_midway_left_are_rendered_by_the_next(repo: Path):
    """A flush moves the pending notes to ``snapshots.pending.<pid>`` before rendering; a
    process killed right then leaves that file: the next flush (under the same lock, so
    nobody else is flushing) renders its missions and removes it."""
    m = _mission_then_script(repo, "h.missions.update(m, title='first')\n"
                                   "h.missions.update(m, title='renamed')\n"
                                   "os._exit(0)\n")
    local = repo / ".fleet" / "local"
    (local / "snapshots.pending").rename(local / "snapshots.pending.999999")  # as the kill
    assert "title: first" in snapshot_of(repo, m) and pending(repo) == []
    with fleet_hive.open(repo, actor="bob") as other:
        other.missions.create("N")
    assert "title: renamed" in snapshot_of(repo, m)
    assert sorted(p.name for p in local.glob("snapshots.pending*")) == []


def test_a_snapshot_owed_after_a_failed_render_is_repaired_by_the_next_write_of_any_kind(
        hive, repo: Path):
    """The stale marker (a snapshot that could not be written) makes the next write
    regenerate every snapshot, even one with no mission event (a lock), which otherwise
    never loads the snapshot policy."""
    m = hive.missions.create("M")
    hive.close()
    snapshot = repo / ".fleet" / "missions" / f"{m.id}.yaml"
    marker = repo / ".fleet" / "local" / "snapshots.stale"
    snapshot.unlink()  # what a failed render leaves: no file, and the marker
    marker.touch()
    got = run_cli("-C", str(repo), "--actor", "ada", "lock", "acquire", "docs/x.md", "--json")
    assert got.returncode == 0, got.stderr
    assert "title: M" in snapshot.read_text() and not marker.exists()
