"""``resume``: sortie states come back through compensating events (the log only grows),
reservations are taken again for their holders (refusals reported, not fatal), completed
work is kept, and a resume stopped halfway leaves a consistent state that a second resume
finishes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet_hive.app.verify import verify
from fleet_hive.checkpoints.model import restore_steps
from fleet_hive.checkpoints.service import ResumeError
from fleet_hive.kernel.errors import StorageError
from tests.support import run_cli, segment_lines


def _setup(hive):
    """s0 in progress by ada (src/0.py, docs/0.md), s1 assigned to bob, s2 pending,
    s3 in progress by carol; a manual checkpoint of that."""
    m = hive.missions.create("resumable")
    s = hive.sorties.add_many(m.id, [
        {"title": "zero", "files": ["src/0.py", "docs/0.md"]},
        {"title": "one", "files": ["src/1.py"]},
        {"title": "two", "files": ["src/2.py"]},
        {"title": "three", "files": ["src/3.py"]}])
    ids = [x.id for x in s]
    hive.missions.start(m.id)
    hive.sorties.claim(ids[0], specialist="ada")
    hive.sorties.start(ids[0], force=True)
    hive.sorties.progress(ids[0], 40, note="parser done", force=True)
    hive.sorties.claim(ids[1], specialist="bob")
    hive.sorties.claim(ids[3], specialist="carol")
    hive.sorties.start(ids[3], force=True)
    c = hive.checkpoints.create(m.id, note="before the crash")
    return m.id, ids, c


def _state(hive, ids):
    return [(x.status, x.claimed_by if x.status in ("assigned", "in_progress", "blocked")
             else None, x.progress) for x in (hive.sorties.get(i) for i in ids)]


def test_resume_restores_sortie_states_and_reservations_by_appending(hive):
    mission_id, ids, c = _setup(hive)
    recorded = _state(hive, ids)
    # what happened after the checkpoint: ada's work failed (her leases released), the
    # pending sortie was taken by dan, carol finished hers
    hive.sorties.fail(ids[0], reason="agent crashed", force=True)
    hive.sorties.claim(ids[2], specialist="dan")
    hive.sorties.start(ids[2], force=True)
    hive.sorties.complete(ids[3], force=True)
    assert not any(r.holder == "ada" for r in hive.reservations.active())
    before = len(segment_lines(hive.root))

    report = hive.checkpoints.resume(c.id)

    assert _state(hive, ids[:3]) == recorded[:3]
    assert hive.sorties.get(ids[3]).status == "completed"  # completed work is kept
    assert {r["sortie_id"]: r["steps"] for r in report.restored} == {
        ids[0]: ["retry", "claim", "start", "progress"], ids[2]: ["fail", "retry"]}
    assert report.unchanged == [ids[1]]
    assert [(n["sortie_id"], n["reason"]) for n in report.not_restored] == [
        (ids[3], "completed since the checkpoint: completed work is kept")]
    held = {(r.path, r.holder) for r in hive.reservations.active()}
    assert {("src/0.py", "ada"), ("docs/0.md", "ada")} <= held
    assert {(t["path"], t["holder"]) for t in report.reservations_taken} >= {
        ("src/0.py", "ada"), ("docs/0.md", "ada"), ("src/1.py", "bob")}
    assert report.reservations_refused == [] and report.complete
    # the log only grew, and says what the resume did
    lines = segment_lines(hive.root)
    assert len(lines) > before
    (event,) = hive.events.by_type("checkpoint_resumed")
    assert event.data["complete"] and event.data["restored"] == [ids[0], ids[2]]
    assert verify(hive).ok
    # the resume's own `fail` step (taking dan's claim back) is no error to checkpoint
    errors = [c for c in hive.checkpoints.list(mission_id) if c.trigger == "error"]
    assert [c.note for c in errors] == [f"sortie_failed (sortie {ids[0]}): agent crashed"]


def test_resume_reports_reservations_someone_else_holds_now(hive):
    _mission_id, _ids, c = _setup(hive)
    hive.reservations.release_all("ada")  # ada's sortie stays in progress
    hive.reservations.acquire(["docs/0.md"], holder="mallory")

    report = hive.checkpoints.resume(c.id)

    assert report.complete
    assert {(t["path"], t["holder"]) for t in report.reservations_taken
            if not t["already_held"]} == {("src/0.py", "ada")}
    assert report.reservations_refused == [{
        "path": "docs/0.md", "holder": "ada", "mode": "exclusive", "held_by": ["mallory"],
        "message": report.reservations_refused[0]["message"]}]
    assert "mallory" in report.reservations_refused[0]["message"]
    held = {(r.path, r.holder) for r in hive.reservations.active()}
    assert ("docs/0.md", "mallory") in held and ("src/0.py", "ada") in held
    assert "refused: held by mallory" in hive.checkpoints.recovery_context(report)


def test_a_sortie_whose_files_someone_else_holds_is_reported_not_restored(hive):
    _mission_id, ids, c = _setup(hive)
    hive.sorties.fail(ids[0], reason="crash", force=True)
    hive.sorties.retry(ids[0])
    hive.reservations.acquire(["src/0.py"], holder="mallory")

    report = hive.checkpoints.resume(c.id)

    (missed,) = [n for n in report.not_restored if n["sortie_id"] == ids[0]]
    assert "mallory" in missed["reason"]
    assert hive.sorties.get(ids[0]).status == "pending"  # consistent: the claim was refused
    assert any(f["path"] == "src/0.py" and f["held_by"] == ["mallory"]
               for f in report.reservations_refused)


def test_resume_reopens_a_mission_completed_since(hive):
    m = hive.missions.create("closed later")
    (s,) = hive.sorties.add_many(m.id, [{"title": "only"}])
    hive.missions.start(m.id)
    c = hive.checkpoints.create(m.id)
    hive.sorties.cancel(s.id)
    hive.missions.complete(m.id)
    report = hive.checkpoints.resume(c.id)
    assert report.mission_restored == ["reopen"]
    assert hive.missions.get(m.id).status == "in_progress"


def test_a_resume_stopped_halfway_is_consistent_and_a_second_one_finishes(hive, monkeypatch):
    _mission_id, ids, c = _setup(hive)
    for i in (0, 3):
        hive.sorties.fail(ids[i], reason="crash", force=True)
    recorded_ok = [ids[0], ids[3]]
    sorties = hive.sorties
    real_start = type(sorties).start
    calls = []

    def failing_start(self, ref, **kwargs):
        calls.append(ref)
        if len(calls) == 2:
            raise StorageError("disk full (simulated)")
        return real_start(self, ref, **kwargs)

    monkeypatch.setattr(type(sorties), "start", failing_start)
    with pytest.raises(ResumeError) as caught:
        hive.checkpoints.resume(c.id)
    report = caught.value.report
    assert not report.complete and "disk full" in report.error
    assert [r["sortie_id"] for r in report.restored] == [ids[0]]
    assert "1 sortie(s) restored" in caught.value.message
    (event,) = hive.events.by_type("checkpoint_resumed")
    assert event.data["complete"] is False
    assert verify(hive).ok  # every step was a whole unit of work
    half = hive.sorties.get(ids[3])
    assert (half.status, half.claimed_by) == ("assigned", "carol")  # claimed, not started

    monkeypatch.setattr(type(sorties), "start", real_start)
    again = hive.checkpoints.resume(c.id)
    assert again.complete
    assert [r["sortie_id"] for r in again.restored] == [ids[3]]
    assert set(recorded_ok) - {ids[3]} <= set(again.unchanged)
    assert hive.sorties.get(ids[3]).status == "in_progress"


@pytest.mark.parametrize(("now", "who", "want", "claimant", "expected"), [
    ("in_progress", "ada", "in_progress", "ada", ()),
    ("pending", None, "in_progress", "ada", ("claim", "start")),
    ("failed", "ada", "in_progress", "ada", ("retry", "claim", "start")),
    ("in_progress", "bob", "in_progress", "ada", ("fail", "retry", "claim", "start")),
    ("blocked", "ada", "in_progress", "ada", ("unblock",)),
    ("in_progress", "ada", "blocked", "ada", ("block",)),
    ("assigned", "ada", "pending", None, ("fail", "retry")),
    ("blocked", "ada", "pending", None, ("unblock", "fail", "retry")),
    ("pending", None, "failed", "ada", ("claim", "fail")),
])
def test_restore_steps(now, who, want, claimant, expected):
    assert restore_steps(now, who, want, claimant) == expected


@pytest.mark.parametrize(("now", "want"), [("completed", "in_progress"),
                                           ("cancelled", "pending"),
                                           ("in_progress", "completed")])
def test_what_a_resume_never_does(now, want):
    assert isinstance(restore_steps(now, "ada", want, "ada"), str)


def test_resume_prints_the_missions_context_brief(hive, repo: Path):
    m = hive.missions.create("Brief after resume")
    s = hive.sorties.add(m.id, "the work", files=["src/brief.py"])
    hive.missions.start(m.id)
    hive.sorties.claim(s.id)
    c = hive.checkpoints.create(m.id, note="before")
    got = run_cli("-C", str(repo), "--json", "checkpoint", "resume", c.id)
    assert got.returncode == 0, got.stderr
    context = json.loads(got.stdout)["context"]
    assert "Brief after resume" in context and s.id in context
    assert len(context.encode()) < 8192 + 1024  # the summary, then a capped brief
