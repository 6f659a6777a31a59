"""``git stash`` takes this clone's uncommitted events away: ``status`` and ``verify`` say
so while they are gone, and ``git stash pop`` brings them back (nothing derived is in its
way: snapshots are not in git)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import git, run_cli


def fleet(repo: Path, *args: str, code: int = 0) -> dict:
    got = run_cli("-C", str(repo), "--json", *args)
    assert got.returncode == code, (args, got.stdout, got.stderr)
    return json.loads(got.stdout)


def setup(repo: Path) -> str:
    assert run_cli("-C", str(repo), "init").returncode == 0
    m = fleet(repo, "mission", "create", "Stash me")["id"]
    s = fleet(repo, "sortie", "add", m, "the sortie")["id"]
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", "base")
    return s


def test_stash_pop_round_trips_a_claim_and_status_says_what_is_missing(repo: Path):
    s = setup(repo)
    fleet(repo, "--actor", "ada", "sortie", "claim", s, "--specialist", "ada")
    assert fleet(repo, "status")["missing_own_events"] == []
    git(repo, "stash", "-q")

    status = fleet(repo, "status")
    (gap,) = status["missing_own_events"]
    assert gap["first"] == gap["last"] == 3 and status["integrity"]["ok"] is False
    human = run_cli("-C", str(repo), "status")
    assert "Missing: 1 event this clone wrote" in human.stdout and "git stash pop" in human.stdout
    # a warning (next to the snapshot that still shows the claim, an error until a write)
    problems = fleet(repo, "verify", code=1)["error"]["problems"]
    assert {(p["kind"], p["severity"]) for p in problems} == {
        ("own_events_missing", "warning"), ("snapshot_mismatch", "error")}

    # meanwhile the claim is gone here, so bob can claim it; the missing events stay
    # reported after that write (the writer moved on to a new id)
    assert fleet(repo, "--actor", "bob", "sortie", "claim", s, "--specialist", "bob")[
        "claimed_by"] == "bob"
    assert fleet(repo, "status")["missing_own_events"] == [gap]

    popped = git(repo, "stash", "pop", check=False)  # refused before: a snapshot in the way
    assert popped.returncode == 0, popped.stdout + popped.stderr
    assert fleet(repo, "status")["missing_own_events"] == []
    shown = fleet(repo, "sortie", "show", s)
    assert shown["claimed_by"] == "ada"  # ada's claim is back, and the earlier one
    assert shown["conflicts"]  # two specialists claimed it concurrently: surfaced
    fleet(repo, "sortie", "resolve", s)  # a write: the snapshot follows the log again
    assert {p["kind"] for p in fleet(repo, "verify")["problems"]} <= {"conflict"}


def test_events_committed_on_another_branch_are_not_missing(repo: Path):
    s = setup(repo)
    git(repo, "switch", "-q", "-c", "work")
    fleet(repo, "sortie", "claim", s, "--specialist", "ada")
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", "claimed")
    git(repo, "switch", "-q", "main")  # the claim is on `work`, not lost
    assert fleet(repo, "status")["missing_own_events"] == []
    error = fleet(repo, "verify", code=1)["error"]  # only the snapshot, stale without hooks
    assert [p["kind"] for p in error["problems"]] == ["snapshot_mismatch"]


def test_verify_repair_forgets_events_that_are_not_coming_back(repo: Path):
    s = setup(repo)
    fleet(repo, "sortie", "claim", s, "--specialist", "ada")
    git(repo, "stash", "-q")
    git(repo, "stash", "drop", "-q")
    repaired = fleet(repo, "verify", "--repair")["problems"]
    assert {(p["kind"], p["severity"]) for p in repaired} == {
        ("own_events_missing", "repaired"), ("snapshot_mismatch", "repaired")}
    assert fleet(repo, "status")["missing_own_events"] == []
    fleet(repo, "sortie", "claim", s, "--specialist", "bob")  # a new writer; still quiet
    assert fleet(repo, "status")["missing_own_events"] == []
