"""Missions across real processes and real git branches: racing claims, concurrent
writers of one mission, and conflicting outcomes merged with the git CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import fleet_hive
from fleet_hive.app.verify import verify
from tests.support import git, run_cli


def spawn(repo: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "fleet_hive", "-C", str(repo), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))


def test_racing_claims_one_wins(hive, repo: Path):
    m = hive.missions.create("race")
    sorties = [hive.sorties.add(m.id, "contested").id]
    hive.close()
    for sortie_id in sorties:
        procs = [spawn(repo, "--json", "sortie", "claim", sortie_id, "--specialist", f"w{i}")
                 for i in range(6)]
        results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 3, 3, 3, 3, 3], results
        winner = next(json.loads(out) for code, out, _ in results if code == 0)
        for code, out, _ in results:
            if code == 3:
                assert json.loads(out)["error"]["code"] == "already_claimed"
        with fleet_hive.open(repo) as h:
            s = h.sorties.get(sortie_id)
            assert s.claimed_by == winner["claimed_by"] and s.status == "assigned"
            claims = [e for e in h.events.by_stream(f"sortie:{sortie_id}")
                      if e.type == "sortie_claimed"]
            assert len(claims) == 1 and s.conflicts == []


def test_concurrent_writers_keep_every_sortie_and_the_snapshot(hive, repo: Path):
    m = hive.missions.create("busy")
    hive.close()
    script = ("import sys, fleet_hive\n"
              "h = fleet_hive.open(sys.argv[1], actor=sys.argv[2])\n"
              "for i in range(8):\n"
              "    h.sorties.add(sys.argv[3], f'{sys.argv[2]}-{i}')\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(repo), f"p{k}", m.id])
             for k in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    with fleet_hive.open(repo) as h:
        got = h.missions.get(m.id)
        assert sorted(s.title for s in got.sorties) == sorted(f"p{k}-{i}" for k in range(4)
                                                              for i in range(8))
        snapshot = (repo / ".fleet" / "missions" / f"{m.id}.yaml").read_text()
        assert all(s.id in snapshot for s in got.sorties)
        assert verify(h).ok, verify(h).to_json()


def fleet(repo: Path, *args: str, code: int = 0) -> dict:
    got = run_cli("-C", str(repo), "--actor", "tester", "--json", *args)
    assert got.returncode == code, (got.stdout, got.stderr)
    return json.loads(got.stdout)


def commit(repo: Path, message: str) -> None:
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", message)


def test_conflicting_outcomes_on_two_branches_are_surfaced_after_merge(repo: Path):
    assert run_cli("-C", str(repo), "init").returncode == 0
    m = fleet(repo, "mission", "create", "merge me")["id"]
    s = fleet(repo, "sortie", "add", m, "the sortie")["id"]
    fleet(repo, "sortie", "claim", s, "--specialist", "w1")
    fleet(repo, "sortie", "start", s)
    commit(repo, "base")

    git(repo, "checkout", "-q", "-b", "other")
    assert fleet(repo, "--actor", "bob", "sortie", "fail", s, "--force", "--reason", "tests red")[
        "status"] == "failed"
    commit(repo, "fail it")

    git(repo, "checkout", "-q", "main")
    assert fleet(repo, "sortie", "show", s)["status"] == "in_progress"  # the branch's state
    assert fleet(repo, "--actor", "alice", "sortie", "complete", s, "--force")[
        "status"] == "completed"
    commit(repo, "complete it")

    merged = git(repo, "merge", "--no-edit", "other", check=False)
    conflicted = git(repo, "diff", "--name-only", "--diff-filter=U").stdout.split()
    # the event segments never conflict; only the derived snapshot may
    assert all(p.startswith(".fleet/missions/") for p in conflicted), (merged.stdout,
                                                                        conflicted)
    if conflicted:
        error = fleet(repo, "verify", code=1)["error"]  # the error object, problems inside
        assert {(p["kind"], p["severity"]) for p in error["problems"]} == {
            ("snapshot_mismatch", "error"), ("conflict", "warning")}
    assert fleet(repo, "verify", "--repair")["ok"] is True
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "--no-edit", "-m", "merge", check=False)
    problems = fleet(repo, "verify")["problems"]  # exit 0: a conflict is only a warning
    assert [(p["kind"], p["severity"]) for p in problems] == [("conflict", "warning")]
    assert s in problems[0]["message"] and "resolve" in problems[0]["message"]

    shown = fleet(repo, "sortie", "show", s)
    (conflict,) = shown["conflicts"]
    assert conflict["kind"] == "outcome" and conflict["resolved_by"] is None
    facts = {f["type"]: f for f in conflict["facts"]}
    assert set(facts) == {"sortie_completed", "sortie_failed"}
    assert facts["sortie_failed"]["actor"] == "bob" and facts["sortie_completed"]["actor"] == \
        "alice"
    assert facts["sortie_failed"]["writer"] != facts["sortie_completed"]["writer"]
    assert conflict["kept"] in {f["event_id"] for f in conflict["facts"]}
    assert shown["status"] in ("completed", "failed")

    status = fleet(repo, "status")
    assert [(c["sortie_id"], c["kind"]) for c in status["conflicts"]] == [(s, "outcome")]
    human = run_cli("-C", str(repo), "status")
    assert "outcome" in human.stdout and s in human.stdout
    snapshot = (repo / ".fleet" / "missions" / f"{m}.yaml").read_text()
    assert "conflicts:" in snapshot and "kind: outcome" in snapshot

    # someone who saw both facts settles it: the conflict leaves status, stays in show
    fleet(repo, "sortie", "resolve", s, "--reason", "the tests were flaky")
    assert fleet(repo, "status")["conflicts"] == []
    assert fleet(repo, "sortie", "show", s)["conflicts"][0]["resolved_by"] is not None
    assert fleet(repo, "verify")["problems"] == []
