"""Concurrent edits of one field on two branches, met by a plain ``git merge``: the state
picks the later in total order, and the conflict is surfaced in show, status and verify
(``storage.md`` invariant 5)."""

from __future__ import annotations

import json
from pathlib import Path

import fleet_hive
from fleet_hive.app.verify import verify
from tests.support import run_cli
from tests.support.branches import diverge


def test_two_renames_of_a_mission_are_an_open_conflict_until_resolved(repo: Path):
    hive = fleet_hive.init(repo, actor="alice")
    m = hive.missions.create("Old title")
    diverge(repo, lambda: hive.missions.update(m.id, title="Title from b1"),
            lambda: hive.missions.update(m.id, title="Title from b2"))
    shown = json.loads(run_cli("-C", str(repo), "mission", "show", m.id, "--json").stdout)
    assert shown["title"] in ("Title from b1", "Title from b2")
    (c,) = shown["conflicts"]
    assert (c["kind"], c["field"], c["resolved_by"]) == ("field", "title", None)
    assert {f["value"] for f in c["facts"]} == {"Title from b1", "Title from b2"}
    assert shown["title"] == next(f["value"] for f in c["facts"] if f["event_id"] == c["kept"])
    status = json.loads(run_cli("-C", str(repo), "status", "--json").stdout)
    assert [(x["mission_id"], x["kind"]) for x in status["conflicts"]] == [(m.id, "field")]
    human = run_cli("-C", str(repo), "status").stdout
    assert "title set to" in human
    problems = [p for p in verify(hive).problems if p.kind == "conflict"]
    assert len(problems) == 1 and "title" in problems[0].message
    # choosing a title having seen both resolves it
    hive.missions.update(m.id, title="Agreed title")
    again = hive.missions.get(m.id)
    assert again.title == "Agreed title" and again.open_conflicts == []
    assert not [p for p in verify(hive).problems if p.kind == "conflict"]


def test_concurrent_sortie_edits_of_every_field(repo: Path):
    hive = fleet_hive.init(repo, actor="alice")
    m = hive.missions.create("M")
    dep1 = hive.sorties.add(m.id, "dep 1")
    dep2 = hive.sorties.add(m.id, "dep 2")
    s = hive.sorties.add(m.id, "S")
    diverge(repo,
            lambda: hive.sorties.update(s.id, title="t1", description="d1", priority=0,
                                        files=["a.py"], after=[dep1.id], specialist="py"),
            lambda: hive.sorties.update(s.id, title="t2", description="d2", priority=4,
                                        files=["b.py"], after=[dep2.id], specialist="rs"))
    shown = json.loads(run_cli("-C", str(repo), "sortie", "show", s.id, "--json").stdout)
    fields = sorted(c["field"] for c in shown["conflicts"] if c["resolved_by"] is None)
    assert fields == ["depends_on", "description", "files", "priority", "specialist", "title"]
    listed = run_cli("-C", str(repo), "sortie", "list", "--mission", m.id).stdout
    assert "!" in listed
    hive.sorties.resolve(s.id, reason="b2's plan")
    assert hive.sorties.get(s.id).open_conflicts == []
