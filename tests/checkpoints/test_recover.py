"""``recover``: a killed agent's sortie is found stale and put back, nothing completed is
redone, and every change is an event in the log.

The agent is a real process that claims, starts and reports progress on a sortie through
the library and is then SIGKILLed; the commands are real ``python -m fleet_hive``
processes. A short ``--stale-after`` (1s) and a short wait make the sortie stale; nothing
asserts a timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import fleet_hive
from fleet_hive.checkpoints.recovery import MARK, Recovery
from tests.support import run_cli

AGENT = textwrap.dedent("""
    import sys, time
    import fleet_hive
    hive = fleet_hive.open(sys.argv[1], actor="agent-7")
    done, work = sys.argv[2], sys.argv[3]
    hive.sorties.claim(done); hive.sorties.start(done); hive.sorties.complete(done)
    hive.sorties.claim(work); hive.sorties.start(work)
    hive.sorties.progress(work, 40, note="parser half done")
    print("working", flush=True)
    time.sleep(600)
""")


def cli(repo: Path, *args: str, actor: str = "operator") -> Any:
    result = run_cli("-C", str(repo), "--actor", actor, *args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _until(cond: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _idle_past(repo: Path, seconds: float = 1.0) -> None:
    """Wait until the newest event in the log is more than ``seconds`` old."""
    with fleet_hive.open(repo) as h:
        newest = max(e.time for e in h.events.query(limit=10_000))
    from fleet_hive.kernel.clock import epoch

    _until(lambda: time.time() - epoch(newest) > seconds + 0.05)


@pytest.fixture
def killed(hive, repo: Path) -> dict[str, str]:
    """A mission whose agent completed one sortie and was SIGKILLed in the middle of the
    next (claimed, started, 40 %, its file reserved)."""
    m = hive.missions.create("Parser rewrite")
    hive.missions.start(m.id)
    done = hive.sorties.add(m.id, "Tokenizer", files=["src/tokenizer.py"])
    work = hive.sorties.add(m.id, "Parser", files=["src/parser/**"], after=[done.id])
    later = hive.sorties.add(m.id, "Docs", files=["docs/parser.md"], after=[work.id])
    agent = subprocess.Popen([sys.executable, "-c", AGENT, str(repo), done.id, work.id],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert agent.stdout is not None
        line = agent.stdout.readline()
        assert line.strip() == "working", agent.stderr.read() if agent.stderr else line
    finally:
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(30)
    assert agent.returncode == -signal.SIGKILL
    return {"mission": m.id, "done": done.id, "work": work.id, "later": later.id}


def test_a_killed_agents_sortie_is_recovered(repo: Path, killed: dict[str, str]):
    mission, done, work = killed["mission"], killed["done"], killed["work"]
    # right after the kill, with the default (30m), nothing is stale yet
    assert cli(repo, "recover")["count"] == 0
    _idle_past(repo)

    plan = cli(repo, "recover", "--stale-after", "1s")
    assert plan["applied"] is False and plan["count"] == 1
    (m,) = plan["missions"]
    (action,) = m["actions"]
    assert m["id"] == mission and action["sortie_id"] == work
    assert action["action"] == "requeue" and action["claimed_by"] == "agent-7"
    assert action["status"] == "in_progress" and action["progress"] == 40
    assert action["idle_seconds"] >= 1 and action["outcome"] == "proposed"
    # listing changed nothing
    assert cli(repo, "sortie", "show", work)["status"] == "in_progress"
    assert [r["path"] for r in cli(repo, "lock", "list")] == ["src/parser/**"]

    result = cli(repo, "recover", "--stale-after", "1s", "--apply")
    (action,) = result["missions"][0]["actions"]
    assert result["applied"] is True and result["done"] == 1
    assert action["outcome"] == "done" and action["released"] == ["src/parser/**"]

    # consistent again: the sortie is ready, unclaimed; its reservation is gone
    sortie = cli(repo, "sortie", "show", work)
    assert sortie["status"] == "pending" and sortie["claimed_by"] is None
    assert sortie["retries"] == 1 and sortie["reason"].startswith("re-queued by")
    assert [s["id"] for s in cli(repo, "ready")] == [work]
    assert cli(repo, "lock", "list") == []
    # nothing completed is redone: the completed sortie is untouched, completed once
    assert cli(repo, "sortie", "show", done)["status"] == "completed"
    completions = cli(repo, "events", "list", "--stream", f"sortie:{done}",
                      "--type", "sortie_completed")
    assert len(completions) == 1
    # every change is an event, recorded by the operator
    types = [(e["type"], e["actor"]) for e in cli(repo, "events", "list", "--stream",
                                                   f"sortie:{work}")]
    assert types[-2:] == [("sortie_failed", "operator"), ("sortie_retried", "operator")]
    (failed,) = cli(repo, "events", "list", "--stream", f"sortie:{work}",
                    "--type", "sortie_failed")
    assert failed["data"]["forced"] is True and failed["data"]["reason"].startswith(MARK)
    assert "agent-7" in failed["data"]["reason"]
    # nothing stale is left, and a second apply does nothing
    again = cli(repo, "recover", "--stale-after", "1s", "--apply")
    assert again["count"] == 0 and again["done"] == 0
    assert run_cli("-C", str(repo), "verify", "--json").returncode == 0

    # context describes it: the mission, the re-queued sortie and how far it had got
    brief = run_cli("-C", str(repo), "context", mission)
    assert brief.returncode == 0, brief.stderr
    assert mission in brief.stdout and "Parser rewrite" in brief.stdout
    ready_part = brief.stdout.split("## Next: ready to claim")[1].split("## ")[0]
    assert work in ready_part and "try 2" in ready_part
    assert "previous try got to 40%: parser half done" in ready_part
    assert done in brief.stdout.split("## Done")[1]

    # a new agent picks it up and finishes it: the mission completes
    picked = cli(repo, "sortie", "claim", "--next", actor="agent-8")
    assert picked["id"] == work


def test_context_describes_the_stale_sortie_before_recovery(repo: Path,
                                                             killed: dict[str, str]):
    (repo / ".fleet" / "config.yaml").write_text("stale_after: 1s\n")
    _idle_past(repo)
    brief = run_cli("-C", str(repo), "context", killed["mission"], "--format", "json")
    data = json.loads(brief.stdout)
    assert data["mission"]["stale"] == 1
    (flight,) = data["in_flight"]
    assert flight["id"] == killed["work"] and flight["stale"] is True
    assert flight["claimed_by"] == "agent-7" and flight["note"] == "parser half done"
    assert [r["path"] for r in data["reservations"]] == ["src/parser/**"]
    md = run_cli("-C", str(repo), "context", killed["mission"]).stdout
    assert "STALE: no activity for" in md and "fleet-hive recover" in md


def test_work_completed_between_the_plan_and_the_apply_is_left_alone(hive, repo: Path):
    m = hive.missions.create("m")
    a = hive.sorties.add(m.id, "a", files=["a.py"])
    hive.sorties.claim(a.id, specialist="tester")
    hive.sorties.start(a.id)
    recovery = _recovery(hive, now=lambda: time.time() + 3600)
    plan = recovery.plan("30m")
    assert [x.sortie_id for x in plan.actions] == [a.id]
    hive.sorties.complete(a.id)  # the agent was alive after all
    report = recovery.recover("30m", apply=True)
    assert report.actions == []  # the new plan has nothing to do
    # and an action planned before the completion is skipped, saying why
    stale_action = plan.actions[0]
    recovery._apply(stale_action, 1800)
    assert stale_action.outcome == "skipped"
    assert "completed" in stale_action.detail
    assert hive.sorties.get(a.id).status == "completed"
    assert len(hive.events.query(stream=f"sortie:{a.id}", type="sortie_completed")) == 1


def test_activity_between_the_plan_and_the_apply_keeps_the_claim(hive, repo: Path):
    m = hive.missions.create("m")
    a = hive.sorties.add(m.id, "a")
    hive.sorties.claim(a.id)
    hive.sorties.start(a.id)
    clock = [time.time() + 120]
    recovery = _recovery(hive, now=lambda: clock[0])
    plan = recovery.plan("1m")
    assert len(plan.actions) == 1
    clock[0] = time.time() + 30  # the agent reported progress 30 s "ago": fresh again
    hive.sorties.progress(a.id, 10)
    recovery._apply(plan.actions[0], 60)
    assert plan.actions[0].outcome == "skipped"
    assert "no longer stale" in plan.actions[0].detail
    s = hive.sorties.get(a.id)
    assert s.status == "in_progress" and s.claimed_by == "tester"


def test_the_claims_other_reservations_are_released_too(hive, repo: Path):
    """A reservation made for the claim that is no longer one of the sortie's files (an
    update moves them now; a log from before that still has such leftovers): the failure
    releases the sortie's files, recovery the rest."""
    m = hive.missions.create("m")
    a = hive.sorties.add(m.id, "a", files=["keep.py"])
    hive.sorties.claim(a.id, specialist="w1")
    hive.reservations.acquire(["old/**"], holder="w1", reason=f"claimed sortie {a.id}")
    hive.reservations.acquire(["unrelated.py"], holder="w1")
    recovery = _recovery(hive, now=lambda: time.time() + 7200)
    report = recovery.recover("1h", apply=True)
    (action,) = report.actions
    assert action.outcome == "done" and action.released == ["keep.py", "old/**"]
    assert [r.path for r in hive.reservations.list()] == ["unrelated.py"]
    assert hive.sorties.get(a.id).status == "pending"


def test_an_interrupted_recovery_is_finished(hive, repo: Path):
    """A recovery killed between the failure and the retry leaves a failed sortie whose
    reason starts with the mark: the next recover re-queues it."""
    m = hive.missions.create("m")
    a = hive.sorties.add(m.id, "a")
    b = hive.sorties.add(m.id, "b")
    hive.sorties.claim(a.id)
    hive.sorties.fail(a.id, reason=f"{MARK} no activity by tester (simulated)")
    hive.sorties.claim(b.id)
    hive.sorties.fail(b.id, reason="tests fail")  # a real failure: not ours to retry
    recovery = _recovery(hive)
    (action,) = recovery.plan().actions
    assert action.sortie_id == a.id and action.stale is None
    assert action.to_json()["why"] == "interrupted recovery"
    report = recovery.recover(apply=True)
    assert report.actions[0].outcome == "done"
    assert hive.sorties.get(a.id).status == "pending"
    assert hive.sorties.get(b.id).status == "failed"


class FakeCheckpoints:
    """The checkpoints port as recovery sees it."""

    def __init__(self, good: dict[str, str]) -> None:
        self.good = good

    def newest_good(self, mission_id: str) -> Any:
        cid = self.good.get(mission_id)
        return None if cid is None else type("Info", (), {"id": cid})()


def test_a_good_checkpoint_is_named_but_the_dead_claim_is_still_ended(hive, repo: Path):
    """Restoring a checkpoint would bring the dead claim back: recover re-queues, and
    names the checkpoint the next claimant starts from."""
    m1, m2 = hive.missions.create("with"), hive.missions.create("without")
    sorties = [hive.sorties.add(m.id, f"s{i}") for m in (m1, m2) for i in range(2)]
    for s in sorties:
        hive.sorties.claim(s.id)
    port = FakeCheckpoints({m1.id: "c-1"})
    recovery = _recovery(hive, now=lambda: time.time() + 3600, checkpoints=port)
    plan = recovery.plan("30m")
    assert {(a.mission_id, a.action, a.checkpoint_id) for a in plan.actions} == {
        (m1.id, "requeue", "c-1"), (m2.id, "requeue", None)}
    assert all("checkpoint c-1" in a.describe() for a in plan.actions if a.mission_id == m1.id)
    report = recovery.recover("30m", apply=True)
    assert all(a.outcome == "done" for a in report.actions)
    assert [hive.sorties.get(s.id).status for s in sorties] == ["pending"] * 4


def test_recover_cli_human_output_and_bad_input(hive, repo: Path):
    m = hive.missions.create("m")
    a = hive.sorties.add(m.id, "Write the spec")
    hive.sorties.claim(a.id)
    none = run_cli("-C", str(repo), "recover")
    assert none.returncode == 0 and "no stale work" in none.stdout
    time.sleep(1.1)
    listed = run_cli("-C", str(repo), "recover", "--stale-after", "1s", "--mission", m.id)
    assert listed.returncode == 0, listed.stderr
    assert a.id in listed.stdout and "re-queue" in listed.stdout
    assert "fleet-hive recover --apply" in listed.stdout
    bad = run_cli("-C", str(repo), "recover", "--stale-after", "soon", "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["error"]["code"] == "invalid_input"
    unknown = run_cli("-C", str(repo), "recover", "--mission", "m-nope", "--json")
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout)["error"]["code"] == "not_found"
    assert hive.sorties.get(a.id).status == "assigned"  # listing writes nothing


def _recovery(hive: Any, *, now: Any = time.time, checkpoints: Any = None) -> Recovery:
    """The hive's recovery service with another clock (and a checkpoints port)."""
    return Recovery(lambda: hive.uow, hive.index, sorties=lambda: hive.sorties,
                    missions=lambda: hive.missions, leases=lambda: hive.reservations,
                    checkpoints=None if checkpoints is None else lambda: checkpoints,
                    now=now)
