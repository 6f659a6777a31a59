"""Outcomes are recorded by the after-write policy when real sorties and missions end,
driven through the missions service: claim, start, fail, retry, complete."""

from __future__ import annotations

import json
import time

import pytest

from fleet_hive.kernel.clock import epoch
from tests.support import run_cli


def outcome_events(hive, subject_id=None):
    events = hive.events.query(type="outcome_recorded")
    if subject_id is not None:
        events = [e for e in events if e.stream == f"outcome:{subject_id}"]
    return events


def test_a_failed_then_retried_then_completed_sortie(hive):
    m = hive.missions.create("fix the export crash")
    hive.missions.start(m.id)
    s = hive.sorties.add(m.id, "fix it", files=["src/export/**"], specialist="python")
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.start(s.id)
    time.sleep(0.05)
    before_fail = time.time()
    hive.sorties.fail(s.id, reason="tests failed: test_export")

    (failed,) = outcome_events(hive, s.id)
    fail_event = hive.events.query(stream=f"sortie:{s.id}", type="sortie_failed")[0]
    assert failed.causation_id == fail_event.id
    assert failed.correlation_id == m.id
    d = failed.data
    assert (d["subject"], d["status"], d["success"], d["tries"]) == (
        "sortie", "failed", False, 1)
    assert d["errors"] == ["tests failed: test_export"]
    assert d["duration_s"] >= 0.05 and d["duration_s"] <= time.time() - before_fail + 5
    assert d["agent"] == "ada" and d["specialist"] == "python"
    assert d["planned_files"] == ["src/export/**"]
    assert d["changed_files"] is None and d["verified"] is None and d["merged"] is None
    assert d["strategy"] == "unplanned" and d["features"] == []
    assert hive.learning.outcome(s.id).success is False

    hive.sorties.retry(s.id)
    hive.sorties.claim(s.id, specialist="bob")
    time.sleep(0.02)
    hive.sorties.start(s.id)
    hive.sorties.complete(s.id)
    first, second = outcome_events(hive, s.id)
    assert first == failed
    d = second.data
    assert (d["status"], d["success"], d["tries"], d["agent"]) == ("completed", True, 2, "bob")
    assert d["errors"] == ["tests failed: test_export"]
    claims = hive.events.query(stream=f"sortie:{s.id}", type="sortie_claimed")
    done = hive.events.query(stream=f"sortie:{s.id}", type="sortie_completed")[0]
    # duration of the last try: from its claim; total: from the first claim
    assert d["duration_s"] == pytest.approx(epoch(done.time) - epoch(claims[1].time),
                                            abs=1e-5)
    assert d["total_s"] == pytest.approx(epoch(done.time) - epoch(claims[0].time), abs=1e-5)
    assert d["total_s"] > d["duration_s"] >= 0.02

    # the latest outcome supersedes: one outcome per sortie
    (only,) = hive.learning.outcomes(subject="sortie")
    assert (only.subject_id, only.success, only.tries) == (s.id, True, 2)


def test_a_sortie_failed_from_assigned_counts_its_claim(hive):
    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "s")
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.fail(s.id, reason="")
    (e,) = outcome_events(hive, s.id)
    assert e.data["errors"] == ["failed (no reason given)"]
    assert e.data["duration_s"] is not None and e.data["duration_s"] >= 0


def test_missions_completed_and_cancelled(hive):
    done = hive.missions.create("ship it")
    hive.missions.start(done.id)
    s = hive.sorties.add(done.id, "only", files=["a.py"])
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.fail(s.id, reason="flaky")
    hive.sorties.retry(s.id)
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.start(s.id)
    hive.sorties.complete(s.id)
    hive.missions.complete(done.id)
    (e,) = outcome_events(hive, done.id)
    d = e.data
    assert (d["subject"], d["status"], d["success"], d["sortie_id"]) == (
        "mission", "completed", True, None)
    assert d["tries"] == 1 and d["errors"] == ["flaky"] and d["planned_files"] == ["a.py"]
    assert d["duration_s"] > 0

    hive.missions.reopen(done.id)
    hive.missions.complete(done.id)
    assert outcome_events(hive, done.id)[-1].data["tries"] == 2

    dropped = hive.missions.create("never mind")
    hive.missions.cancel(dropped.id, reason="out of scope")
    (e,) = outcome_events(hive, dropped.id)
    assert (e.data["status"], e.data["success"], e.data["errors"]) == (
        "cancelled", False, ["out of scope"])
    assert {o.subject_id for o in hive.learning.outcomes(subject="mission")} == {
        done.id, dropped.id}


def test_writes_that_end_nothing_record_nothing(hive):
    m = hive.missions.create("m", description="d")
    hive.missions.start(m.id)
    s = hive.sorties.add(m.id, "s", files=["x.py"])
    hive.sorties.update(s.id, title="s2")
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.start(s.id)
    hive.sorties.progress(s.id, 40, note="half")
    hive.sorties.block(s.id, reason="waiting")
    hive.sorties.unblock(s.id)
    hive.reservations.acquire(["docs/**"], holder="ada")
    hive.events.append("note_added", stream=f"mission:{m.id}", data={"text": "hi"})
    other = hive.sorties.add(m.id, "cancelled one")
    hive.sorties.cancel(other.id)
    hive.missions.update(m.id, title="renamed")
    assert outcome_events(hive) == []
    assert hive.learning.outcomes() == []
    # and the first ending does record one
    hive.sorties.complete(s.id)
    assert len(outcome_events(hive)) == 1


def test_an_ending_is_recorded_once_and_a_resume_unwinding_is_no_failure(hive):
    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "s")
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.fail(s.id, reason="resumed from checkpoint c-1234: unwinding")
    assert outcome_events(hive) == []
    hive.sorties.retry(s.id)
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.start(s.id)
    hive.sorties.complete(s.id)
    (done,) = hive.events.query(type="sortie_completed")
    assert len(outcome_events(hive)) == 1
    assert hive.learning.record_endings([done]) == []  # already recorded for this event
    assert len(outcome_events(hive)) == 1


def test_the_plan_and_changed_files_ports(hive, monkeypatch):
    m = hive.missions.create("Fix the login crash")
    s = hive.sorties.add(m.id, "fix", files=["src/auth/login.py"])
    plan = {"task": "Fix the login crash", "strategy": "file", "planner": "heuristic",
            "features": ["kind:bugfix", "area:auth"],
            "sorties": {s.id: {"files": ["src/auth/**"]}}}
    monkeypatch.setattr(hive, "_plan_of", lambda mission_id: plan if mission_id == m.id
                        else None)
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.start(s.id)
    hive.sorties.complete(s.id)
    (e,) = outcome_events(hive, s.id)
    assert (e.data["strategy"], e.data["planner"], e.data["features"]) == (
        "file", "heuristic", ["area:auth", "kind:bugfix"])
    assert e.data["planned_files"] == ["src/auth/**"]
    outcome = hive.learning.outcome(s.id)
    assert outcome.changed_files is None and outcome.drifted is None

    # dispatch amends it: verified, not merged, the files it changed
    amended = hive.learning.amend(s.id, verified=True, merged=False,
                                  changed_files=["src/auth/login.py", "setup.cfg"],
                                  errors=["merge conflict in setup.cfg"])
    assert (amended.verified, amended.merged, amended.amendments) == (True, False, 1)
    assert amended.success is True and amended.succeeded is False  # refuted by the merge
    assert amended.drifted is True  # setup.cfg was not planned
    assert amended.errors == ["merge conflict in setup.cfg"]
    (p,) = hive.learning.patterns(strategy="file", feature="kind:bugfix")
    assert (p.successes, p.failures, p.drifted, p.known_changes) == (0.0, 1.0, 1, 1)


def test_a_policy_failure_is_a_warning_and_the_write_stands(hive, monkeypatch):
    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "s")
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.start(s.id)

    def broken(_mission_id):
        raise RuntimeError("plan store unreadable")

    monkeypatch.setattr(hive, "_plan_of", broken)
    assert hive.sorties.complete(s.id).status == "completed"
    assert outcome_events(hive) == []
    (warning,) = hive.uow.warnings
    assert "outcome" in warning.message and "plan store unreadable" in warning.message


def test_backfill_records_the_endings_a_crash_left_without_outcome(hive, repo):
    """A write whose policy never ran (the process died right after the append) leaves an
    ending without outcome: ``learn backfill`` records it, from the log, once."""
    m = hive.missions.create("m")
    hive.missions.start(m.id)
    sorties = [hive.sorties.add(m.id, f"s{k}").id for k in range(3)]
    recorder = hive._outcomes
    at = hive.uow.policy_index(recorder)
    removed = hive.uow.policies.pop(at)
    for sid in sorties:
        hive.sorties.claim(sid, specialist="ada")
        hive.sorties.start(sid)
    time.sleep(0.02)
    hive.sorties.complete(sorties[0])
    hive.sorties.fail(sorties[1], reason="boom")
    hive.sorties.complete(sorties[2])
    hive.sorties.delete(sorties[2])
    hive.missions.complete(m.id, force=True)
    hive.uow.policies.insert(at, removed)
    assert outcome_events(hive) == []
    missing = hive.learning.unrecorded()
    # the deleted sortie has nothing to learn
    assert [e.stream for e in missing] == [f"sortie:{sorties[0]}", f"sortie:{sorties[1]}",
                                           f"mission:{m.id}"]
    assert hive.learning.stats()["unrecorded"] == 3
    hive.close()

    result = run_cli("-C", str(repo), "--json", "learn", "backfill", "--dry-run")
    assert result.returncode == 0 and len(json.loads(result.stdout)) == 3
    result = run_cli("-C", str(repo), "--json", "learn", "backfill")
    assert result.returncode == 0, result.stderr
    recorded = json.loads(result.stdout)
    # the mission's outcome sees its sorties' outcomes
    assert [(o["subject_id"], o["success"]) for o in recorded] == [
        (sorties[0], True), (sorties[1], False), (m.id, True)]
    assert recorded[0]["duration_s"] >= 0.02 and recorded[2]["errors"] == ["boom"]
    result = run_cli("-C", str(repo), "--json", "learn", "backfill")
    assert json.loads(result.stdout) == []
    result = run_cli("-C", str(repo), "--json", "learn", "stats")
    assert json.loads(result.stdout)["unrecorded"] == 0
