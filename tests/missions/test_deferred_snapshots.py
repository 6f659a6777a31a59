"""``snapshots: deferred``: writes only note which missions changed; ``commit``, ``sync`` and
``verify`` (``hive.settle()``) bring the snapshots up to date, so a write process never
renders YAML."""

from __future__ import annotations

import json
from pathlib import Path

import fleet_hive
from tests.support import modules_loaded_by, run_cli


def fleet(repo: Path, *args: str, code: int = 0) -> dict:
    got = run_cli("-C", str(repo), "--json", *args)
    assert got.returncode == code, (args, got.stdout, got.stderr)
    return json.loads(got.stdout)


def deferred_repo(repo: Path) -> tuple[str, str]:
    assert run_cli("-C", str(repo), "init").returncode == 0
    config = repo / ".fleet" / "config.yaml"
    config.write_text(config.read_text().replace("snapshots: every_write",
                                                 "snapshots: deferred"))
    m = fleet(repo, "mission", "create", "Deferred")["id"]
    s = fleet(repo, "sortie", "add", m, "first", "--file", "src/a.py")["id"]
    return m, s


def test_writes_note_the_mission_and_commit_renders_it(repo: Path):
    m, s = deferred_repo(repo)
    snapshot = repo / ".fleet" / "missions" / f"{m}.yaml"
    pending = repo / ".fleet" / "local" / "snapshots.pending"
    assert not snapshot.exists() and pending.read_text().split() == [m, m]
    fleet(repo, "--actor", "ada", "sortie", "claim", s)
    assert not snapshot.exists()
    fleet(repo, "commit", "-m", "work")
    assert "claimed_by: ada" in snapshot.read_text() and not pending.exists()
    assert fleet(repo, "verify")["ok"] is True


def test_verify_settles_before_it_compares(repo: Path):
    m, _s = deferred_repo(repo)
    fleet(repo, "mission", "start", m)
    report = fleet(repo, "verify")
    assert report["ok"] is True and report["problems"] == []
    assert "status: in_progress" in (repo / ".fleet" / "missions" / f"{m}.yaml").read_text()


def test_settle_renders_exactly_what_every_write_would(repo: Path):
    m, s = deferred_repo(repo)
    fleet(repo, "--actor", "ada", "sortie", "claim", s)
    with fleet_hive.open(repo) as hive:
        assert hive.settle() == 1
        assert hive.settle() == 0  # nothing pending any more
    deferred = (repo / ".fleet" / "missions" / f"{m}.yaml").read_bytes()
    with fleet_hive.open(repo) as hive:
        assert hive.missions.refresh_snapshots() == 1  # from scratch, the every_write way
    assert (repo / ".fleet" / "missions" / f"{m}.yaml").read_bytes() == deferred


def test_going_back_to_every_write_renders_what_was_pending(repo: Path):
    m, _s = deferred_repo(repo)
    other = fleet(repo, "mission", "create", "Other")["id"]
    config = repo / ".fleet" / "config.yaml"
    config.write_text(config.read_text().replace("snapshots: deferred",
                                                 "snapshots: every_write"))
    fleet(repo, "mission", "start", other)
    assert (repo / ".fleet" / "missions" / f"{m}.yaml").exists()  # pending before
    assert not (repo / ".fleet" / "local" / "snapshots.pending").exists()


def test_a_deferred_write_process_renders_no_yaml(repo: Path):
    _m, s = deferred_repo(repo)
    modules, result = modules_loaded_by(repo, "--actor", "ada", "--json", "sortie", "claim", s)
    assert result.returncode == 0, result.stderr
    loaded = {m.split(".")[0] for m in modules}
    assert json.loads(result.stdout)["claimed_by"] == "ada"
    assert loaded.isdisjoint({"ruamel", "pydantic", "jinja2", "dulwich"}), loaded
