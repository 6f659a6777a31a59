"""``fleet-hive commit`` and the pre-commit hook run one set of checks
(:func:`fleet_hive.app.verify.commit_problems`): what one refuses, the other refuses, and a
hand-edited snapshot reaches git through neither."""

from __future__ import annotations

import json
from pathlib import Path

import fleet_hive
from fleet_hive.app.verify import commit_problems
from fleet_hive.git.changes import FleetChange
from tests.support import git, run_cli


def fleet(repo: Path, *args: str, code: int = 0) -> dict:
    got = run_cli("-C", str(repo), "--json", *args)
    assert got.returncode == code, (args, got.stdout, got.stderr)
    return json.loads(got.stdout)


def test_a_hand_edited_snapshot_is_committed_by_neither(repo: Path):
    assert run_cli("-C", str(repo), "init").returncode == 0
    assert run_cli("-C", str(repo), "hooks", "install").returncode == 0
    m = fleet(repo, "mission", "create", "Edited")["id"]
    fleet(repo, "commit", "-m", "created")
    snapshot = repo / ".fleet" / "missions" / f"{m}.yaml"
    snapshot.write_text(snapshot.read_text().replace("Edited", "Hand edited"))

    fleet(repo, "commit", "-m", "after the edit")  # before: exit 0, the edit committed
    assert git(repo, "ls-tree", "-r", "--name-only", "HEAD", ".fleet/missions").stdout == ""
    git(repo, "add", "-f", str(snapshot))
    refused = git(repo, "commit", "-q", "-m", "edited snapshot", check=False)
    assert refused.returncode == 1 and "snapshot_committed" in refused.stderr
    git(repo, "rm", "-q", "--cached", str(snapshot))
    # the edit is derived data gone wrong: verify names it, the next write repairs it
    error = fleet(repo, "verify", code=1)["error"]
    assert [p["kind"] for p in error["problems"]] == ["snapshot_mismatch"]
    fleet(repo, "mission", "start", m)
    assert "Hand edited" not in snapshot.read_text()


def test_commit_and_hook_refuse_the_same_change(repo: Path):
    hive = fleet_hive.init(repo)
    hive.missions.create("Checked")
    change = FleetChange(".fleet/missions/m-0000000000ab.yaml", None, b"id: x\n", False)
    expected = [p.kind for p in commit_problems(hive, [change])]
    assert expected == ["snapshot_committed"]
    assert [p.kind for p in hive.git.committer.check_changes([change])] == expected
    (repo / ".fleet" / "missions" / "m-0000000000ab.yaml").write_text("id: x\n")  # staged
    git(repo, "add", "-f", ".fleet")
    outcome = run_cli("-C", str(repo), "hooks", "run", "pre-commit")
    assert outcome.returncode == 1 and "snapshot_committed" in outcome.stderr
