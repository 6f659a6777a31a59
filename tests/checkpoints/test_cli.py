"""The ``checkpoint`` commands as real processes: the JSON shapes of ``cli.md``, exit
codes, ``verify`` reporting a bad checkpoint, and an internal error in a command taking
an error checkpoint of the mission in progress."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import run_cli
from tests.support.checkpoints import started_mission

CHECKPOINT_KEYS = {"id", "mission_id", "trigger", "progress", "created_at", "sha256"}


def _cli(repo, *args):
    result = run_cli("-C", str(repo), "--json", *args)
    return result.returncode, json.loads(result.stdout) if result.stdout else None, result


def test_checkpoint_commands_and_their_json(repo, hive):
    mission_id, sorties = started_mission(hive, 4)
    code, created, _ = _cli(repo, "checkpoint", "create", mission_id[:6], "--note", "by hand")
    assert code == 0 and set(created) >= CHECKPOINT_KEYS
    assert (created["trigger"], created["note"], created["mission_id"]) == (
        "manual", "by hand", mission_id)
    code, listed, _ = _cli(repo, "checkpoint", "list", mission_id)
    assert code == 0 and [c["id"] for c in listed] == [created["id"]]
    assert all(set(c) >= CHECKPOINT_KEYS for c in listed)
    code, shown, _ = _cli(repo, "checkpoint", "show", created["id"])
    assert code == 0 and shown["sha256"] == created["sha256"]
    assert [s["id"] for s in shown["body"]["sorties"]] == sorties
    assert shown["body"]["mail"] == [] and shown["body"]["blockers"] == []

    hive.sorties.fail(sorties[0], reason="crash", force=True)
    code, report, _ = _cli(repo, "checkpoint", "resume", created["id"])
    assert code == 0
    assert {"restored", "not_restored", "reservations_taken", "reservations_refused",
            "complete", "context"} <= set(report)
    assert [r["sortie_id"] for r in report["restored"]] == [sorties[0]]
    assert report["context"].startswith(f"Resumed mission {mission_id}")
    human = run_cli("-C", str(repo), "checkpoint", "resume", created["id"])
    assert human.returncode == 0 and "Resumed mission" in human.stdout

    # the failure took an error checkpoint, the newest: pruning keeps it (open mission)
    code, pruned, _ = _cli(repo, "checkpoint", "prune", "--keep", "0")
    assert code == 0 and [c["id"] for c in pruned] == [created["id"]]
    assert all(c["deleted"] for c in pruned)
    (newest,) = _cli(repo, "checkpoint", "list", mission_id)[1]
    assert newest["trigger"] == "error"
    code, deleted, _ = _cli(repo, "checkpoint", "delete", newest["id"])
    assert code == 0 and deleted["deleted"] is True and deleted["id"] == newest["id"]
    assert _cli(repo, "checkpoint", "list", mission_id)[1] == []


def test_bad_input_and_corrupt_checkpoints_exit_1_with_the_error_object(repo, hive):
    mission_id, _ = started_mission(hive, 2)
    good = hive.checkpoints.create(mission_id)
    bad = hive.checkpoints.create(mission_id)
    code, error, _ = _cli(repo, "checkpoint", "show", "c-nope")
    assert code == 1 and error["error"]["code"] == "not_found"
    code, error, _ = _cli(repo, "checkpoint", "prune", "--older-than", "soon")
    assert code == 1 and error["error"]["code"] == "invalid_input"
    usage = run_cli("-C", str(repo), "checkpoint", "prune", "--keep", "-1")
    assert usage.returncode == 2

    path = repo / bad.path
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    code, error, _ = _cli(repo, "checkpoint", "resume", bad.id)
    assert code == 1 and error["error"]["code"] == "corrupt_checkpoint"
    assert good.id in error["error"]["hint"]

    result = run_cli("-C", str(repo), "--json", "verify")
    assert result.returncode == 1
    problems = json.loads(result.stdout)["error"]["problems"]
    assert [(p["code"], p["path"]) for p in problems if p["severity"] == "error"] == [
        ("checkpoint_corrupt", bad.path)]


def test_verify_reports_missing_orphan_and_stale_checkpoint_files(repo, hive):
    from fleet_hive.app.verify import verify

    mission_id, _ = started_mission(hive, 2)
    gone = hive.checkpoints.create(mission_id)
    deleted = hive.checkpoints.create(mission_id)
    kept = repo / deleted.path
    data = kept.read_bytes()
    hive.checkpoints.delete(deleted.id)
    kept.write_bytes(data)  # a deleted checkpoint's file came back
    (repo / gone.path).unlink()
    orphan = repo / ".fleet" / "checkpoints" / mission_id / "c-orphan000000.yaml"
    orphan.write_bytes(data)
    kinds = {(p.kind, p.path, p.severity) for p in verify(hive).problems}
    assert kinds == {("checkpoint_missing", gone.path, "error"),
                     ("checkpoint_stale", deleted.path, "warning"),
                     ("checkpoint_orphan", orphan.relative_to(repo).as_posix(), "warning")}
    repaired = {(p.kind, p.severity) for p in verify(hive, repair=True).problems}
    assert ("checkpoint_stale", "repaired") in repaired and not kept.exists()


def test_an_internal_error_takes_an_error_checkpoint_of_missions_in_progress(repo, hive):
    mission_id, _ = started_mission(hive, 2)
    # A real process running the real CLI, in which one library function is broken.
    probe = (
        "import sys\n"
        "from fleet_hive.missions import service\n"
        "def broken(self, *a, **k):\n"
        "    raise RuntimeError('the index went away')\n"
        "service.Missions.update = broken\n"
        "from fleet_hive.cli import main\n"
        f"main(['-C', {str(repo)!r}, 'mission', 'update', {mission_id!r}, '--title', 'x'])\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 70, result.stderr
    (c,) = hive.checkpoints.list(mission_id)
    assert (c.trigger, c.error_type) == ("error", "RuntimeError")
    _, body = hive.checkpoints.show(c.id)
    assert body["last_error"]["message"] == "the index went away"
    assert "RuntimeError: the index went away" in body["last_error"]["traceback"]


def test_with_auto_commit_a_checkpoint_is_committed_with_its_file(repo, hive):
    import fleet_hive
    from tests.support import git

    config = repo / ".fleet" / "config.yaml"
    config.write_text(config.read_text().replace("auto_commit: false", "auto_commit: true"))
    with fleet_hive.open(repo, actor="tester") as on:
        mission_id, _ = started_mission(on, 2)
        c = on.checkpoints.create(mission_id)
    tracked = git(repo, "ls-files", ".fleet/checkpoints").stdout.split()
    assert c.path in tracked
    assert f"mission {mission_id} checkpointed" in git(repo, "log", "--format=%s").stdout
    assert git(repo, "status", "--porcelain", c.path).stdout == ""
