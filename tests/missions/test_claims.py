"""Claims carry ownership (issue 10, item 9): only the claimant works on a claimed sortie
(or someone with ``--force``, recorded), a claim reserves the sortie's files in the same
atomic decision, ending the claim releases them, and ``sortie claim --next`` hands each
ready sortie to exactly one of many racing claimers (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import fleet_hive
from fleet_hive.kernel.errors import ConflictError
from tests.support import git, run_cli
from tests.support.missions import fleet_files


def fleet(repo: Path, actor: str, *args: str, code: int = 0) -> Any:
    got = run_cli("-C", str(repo), "--actor", actor, "--json", *args)
    assert got.returncode == code, (args, got.stdout, got.stderr)
    return json.loads(got.stdout)


@pytest.fixture
def fleet_repo(repo: Path) -> Path:
    assert run_cli("-C", str(repo), "init").returncode == 0
    return repo


def _mission(repo: Path, *files: str) -> tuple[str, str]:
    m = fleet(repo, "coordinator", "mission", "create", "M")["id"]
    args = [a for f in files for a in ("--file", f)]
    s = fleet(repo, "coordinator", "sortie", "add", m, "work", *args)["id"]
    return m, s


def _events(repo: Path, stream: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = fleet(repo, "x", "events", "list", "--stream", stream)
    return got


def test_only_the_claimant_works_on_a_claimed_sortie(fleet_repo: Path):
    _, s = _mission(fleet_repo)
    fleet(fleet_repo, "ada", "sortie", "claim", s)  # --specialist defaults to the actor
    before = fleet_files(fleet_repo)
    for args in (["start", s], ["fail", s]):
        err = fleet(fleet_repo, "mallory", "sortie", *args, code=3)["error"]
        assert err["code"] == "not_claimant" and "claimed by ada" in err["message"], err
    assert fleet_files(fleet_repo) == before  # refused: nothing written
    assert fleet(fleet_repo, "ada", "sortie", "start", s)["status"] == "in_progress"
    for args in (["progress", s, "--percent", "10"], ["complete", s], ["fail", s], ["block", s]):
        err = fleet(fleet_repo, "mallory", "sortie", *args, code=3)["error"]
        assert err["code"] == "not_claimant" and "ada" in err["message"]
    env = {"FLEET_ACTOR": "mallory"}  # the environment names the actor just as well
    got = run_cli("-C", str(fleet_repo), "sortie", "complete", s, env=env)
    assert got.returncode == 3 and "claimed by ada" in got.stderr
    assert fleet(fleet_repo, "ada", "sortie", "show", s)["status"] == "in_progress"
    assert fleet(fleet_repo, "ada", "sortie", "progress", s, "--percent", "50")["progress"] == 50
    assert fleet(fleet_repo, "ada", "sortie", "complete", s)["status"] == "completed"


def test_force_overrides_ownership_and_is_recorded(fleet_repo: Path):
    _, s = _mission(fleet_repo)
    fleet(fleet_repo, "ada", "sortie", "claim", s)
    fleet(fleet_repo, "ada", "sortie", "start", s)
    done = fleet(fleet_repo, "mallory", "sortie", "complete", s, "--force", "--reason", "took over")
    assert done["status"] == "completed"
    last = _events(fleet_repo, f"sortie:{s}")[-1]
    assert last["type"] == "sortie_completed" and last["actor"] == "mallory"
    assert last["data"]["forced"] is True
    started = [e for e in _events(fleet_repo, f"sortie:{s}") if e["type"] == "sortie_started"]
    assert started[0]["data"]["forced"] is False  # the claimant's own step is not forced


def test_who_recorded_the_claim_may_work_on_it_too(fleet_repo: Path):
    """A dispatcher claims for a worker and records the worker's outcome; a third actor
    may not."""
    _, s = _mission(fleet_repo)
    fleet(fleet_repo, "dispatcher", "sortie", "claim", s, "--specialist", "w1")
    fleet(fleet_repo, "w1", "sortie", "start", s)
    fleet(fleet_repo, "mallory", "sortie", "complete", s, code=3)
    assert fleet(fleet_repo, "dispatcher", "sortie", "complete", s)["claimed_by"] == "w1"


def test_a_claim_reserves_the_sortie_files_and_completing_releases_them(fleet_repo: Path):
    _, s = _mission(fleet_repo, "src/**", "docs/api.md")
    fleet(fleet_repo, "ada", "sortie", "claim", s)
    held = fleet(fleet_repo, "ada", "lock", "list")
    assert {(r["path"], r["holder"], r["mode"]) for r in held} == {
        ("src/**", "ada", "exclusive"), ("docs/api.md", "ada", "exclusive")}
    got = fleet(fleet_repo, "bob", "lock", "acquire", "src/core.py", "--holder", "bob", code=3)
    assert "ada" in got["error"]["message"]
    fleet(fleet_repo, "ada", "sortie", "start", s)
    fleet(fleet_repo, "ada", "sortie", "complete", s)
    assert fleet(fleet_repo, "ada", "lock", "list") == []
    fleet(fleet_repo, "bob", "lock", "acquire", "src/core.py", "--holder", "bob")


@pytest.mark.parametrize("ending", [["fail"], ["cancel"], ["start", "fail"]])
def test_every_end_of_a_claim_releases_its_files(fleet_repo: Path, ending: list[str]):
    _, s = _mission(fleet_repo, "src/**")
    fleet(fleet_repo, "ada", "sortie", "claim", s)
    for action in ending:
        fleet(fleet_repo, "ada", "sortie", action, s)
    assert fleet(fleet_repo, "ada", "lock", "list") == []
    if ending[-1] == "fail":  # retry: pending, unclaimed, claimable (and reserving) again
        fleet(fleet_repo, "coordinator", "sortie", "retry", s)
        fleet(fleet_repo, "bob", "sortie", "claim", s)
        assert [r["holder"] for r in fleet(fleet_repo, "bob", "lock", "list")] == ["bob"]


@pytest.mark.parametrize("end", ["cancel", "delete"])
def test_cancelling_or_deleting_a_mission_releases_its_claims(fleet_repo: Path, end: str):
    m, s = _mission(fleet_repo, "src/**", "docs/api.md")
    t = fleet(fleet_repo, "coordinator", "sortie", "add", m, "more", "--file", "tests/**")["id"]
    fleet(fleet_repo, "ada", "sortie", "claim", s)
    fleet(fleet_repo, "bob", "sortie", "claim", t)
    fleet(fleet_repo, "carol", "lock", "acquire", "notes.txt", "--holder", "carol")
    fleet(fleet_repo, "coordinator", "mission", "start", m)
    fleet(fleet_repo, "coordinator", "mission", end, m)
    assert [(r["path"], r["holder"]) for r in fleet(fleet_repo, "x", "lock", "list")] == [
        ("notes.txt", "carol")]  # only what no sortie of the mission claimed
    fleet(fleet_repo, "dave", "lock", "acquire", "src/core.py", "--holder", "dave")


def test_changing_a_claimed_sorties_files_moves_its_reservations(fleet_repo: Path):
    _, s = _mission(fleet_repo, "src/**", "docs/api.md")
    fleet(fleet_repo, "ada", "sortie", "claim", s)
    fleet(fleet_repo, "ada", "sortie", "update", s, "--file", "src/**", "--file", "lib/**")
    held = {(r["path"], r["holder"]) for r in fleet(fleet_repo, "x", "lock", "list")}
    assert held == {("src/**", "ada"), ("lib/**", "ada")}
    fleet(fleet_repo, "bob", "lock", "acquire", "docs/api.md", "--holder", "bob")
    # a file someone else holds: the update is refused, nothing changes
    err = fleet(fleet_repo, "ada", "sortie", "update", s, "--file", "docs/**", code=3)["error"]
    assert "bob" in err["message"]
    assert fleet(fleet_repo, "x", "sortie", "show", s)["files"] == ["src/**", "lib/**"]
    held = {(r["path"], r["holder"]) for r in fleet(fleet_repo, "x", "lock", "list")}
    assert held == {("src/**", "ada"), ("lib/**", "ada"), ("docs/api.md", "bob")}


def test_retry_releases_what_the_claimant_still_holds(fleet_repo: Path):
    _, s = _mission(fleet_repo, "src/**")
    fleet(fleet_repo, "ada", "sortie", "claim", s)
    fleet(fleet_repo, "ada", "sortie", "fail", s)
    fleet(fleet_repo, "ada", "lock", "acquire", "src/**", "--holder", "ada")  # again, by hand
    fleet(fleet_repo, "coordinator", "sortie", "retry", s)
    assert fleet(fleet_repo, "ada", "lock", "list") == []


def test_a_claim_whose_files_someone_else_holds_is_refused_all_or_nothing(fleet_repo: Path):
    _, s = _mission(fleet_repo, "docs/**", "src/**")
    fleet(fleet_repo, "bob", "lock", "acquire", "src/core.py", "--holder", "bob")
    before = fleet_files(fleet_repo)
    err = fleet(fleet_repo, "ada", "sortie", "claim", s, code=3)["error"]
    assert "bob" in err["message"] and "src/core.py" in err["message"], err
    assert "--wait" not in err["hint"] and "bob" in err["hint"]
    assert fleet_files(fleet_repo) == before  # no claim, and docs/** not reserved either
    shown = fleet(fleet_repo, "ada", "sortie", "show", s)
    assert shown["status"] == "pending" and shown["claimed_by"] is None
    assert [r["holder"] for r in fleet(fleet_repo, "ada", "lock", "list")] == ["bob"]
    fleet(fleet_repo, "bob", "lock", "release", "src/core.py", "--holder", "bob")
    assert fleet(fleet_repo, "ada", "sortie", "claim", s)["claimed_by"] == "ada"


def test_a_stale_branch_cannot_fail_the_claimants_sortie(fleet_repo: Path):
    """mallory's branch still sees ada's sortie in progress; ada completes it on main.
    mallory's ``fail`` is refused where it is made, so it never reaches the merge."""
    _, s = _mission(fleet_repo)
    fleet(fleet_repo, "ada", "sortie", "claim", s)
    fleet(fleet_repo, "ada", "sortie", "start", s)
    git(fleet_repo, "add", ".fleet")
    git(fleet_repo, "commit", "-q", "-m", "claimed")
    git(fleet_repo, "branch", "stale")
    fleet(fleet_repo, "ada", "sortie", "complete", s)
    git(fleet_repo, "add", ".fleet")
    git(fleet_repo, "commit", "-q", "-m", "completed")
    git(fleet_repo, "checkout", "-q", "stale")
    assert fleet(fleet_repo, "mallory", "sortie", "show", s)["status"] == "in_progress"
    err = fleet(fleet_repo, "mallory", "sortie", "fail", s, code=3)["error"]
    assert err["code"] == "not_claimant"
    git(fleet_repo, "checkout", "-q", "main")
    assert fleet(fleet_repo, "ada", "sortie", "show", s)["status"] == "completed"


def test_claim_next_takes_the_most_urgent_ready_sortie(fleet_repo: Path):
    m = fleet(fleet_repo, "c", "mission", "create", "M")["id"]
    low = fleet(fleet_repo, "c", "sortie", "add", m, "low", "--priority", "3")["id"]
    urgent = fleet(fleet_repo, "c", "sortie", "add", m, "urgent", "--priority", "0",
                   "--file", "src/a.py")["id"]
    later = fleet(fleet_repo, "c", "sortie", "add", m, "after", "--priority", "0",
                  "--after", low)["id"]
    other = fleet(fleet_repo, "c", "mission", "create", "other")["id"]
    fleet(fleet_repo, "c", "sortie", "add", other, "elsewhere", "--priority", "0")
    fleet(fleet_repo, "bob", "lock", "acquire", "src/a.py", "--holder", "bob")
    # urgent's file is bob's: passed over; ``after`` waits for ``low``; so ``low``
    got = fleet(fleet_repo, "ada", "sortie", "claim", "--next", "--mission", m[:6])
    assert got["id"] == low and got["claimed_by"] == "ada"
    err = fleet(fleet_repo, "ada", "sortie", "claim", "--next", "--mission", m, code=3)["error"]
    assert err["code"] == "nothing_ready" and urgent in err["message"]
    assert "bob" in err["message"]
    assert later not in err["message"]
    api = fleet_hive.open(fleet_repo, actor="carol")
    try:
        s = api.sorties.claim_next()  # any mission
        assert s.title == "elsewhere" and s.claimed_by == "carol"
        with pytest.raises(ConflictError, match="nothing ready"):
            api.sorties.claim_next(specialist="dave")
    finally:
        api.close()


def test_claim_next_under_contention_gives_each_sortie_to_one_claimer(fleet_repo: Path):
    m = fleet(fleet_repo, "c", "mission", "create", "race")["id"]
    sorties = {fleet(fleet_repo, "c", "sortie", "add", m, f"s{i}", "--file",
                     f"src/f{i}.py")["id"] for i in range(4)}
    procs = [subprocess.Popen([sys.executable, "-m", "fleet_hive", "-C", str(fleet_repo),
                               "--json", "sortie", "claim", "--next", "--specialist", f"w{i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ)) for i in range(7)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    won = [json.loads(out) for code, out, _ in results if code == 0]
    lost = [json.loads(out) for code, out, _ in results if code != 0]
    assert sorted(s["id"] for s in won) == sorted(sorties), results
    assert len(lost) == 3 and all(e["error"]["code"] == "nothing_ready" for e in lost)
    with fleet_hive.open(fleet_repo) as h:
        for s in won:
            assert h.sorties.get(s["id"]).claimed_by == s["claimed_by"]
            claims = [e for e in h.events.by_stream(f"sortie:{s['id']}")
                      if e.type == "sortie_claimed"]
            assert len(claims) == 1
        holders = {(r.path, r.holder) for r in h.reservations.active()}
        assert holders == {(f, s["claimed_by"]) for s in won for f in s["files"]}
