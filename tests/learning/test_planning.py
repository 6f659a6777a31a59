"""Learning and planning wired together: a mission made by ``decompose --create`` records
outcomes under its plan's strategy and features, and the next ``decompose`` of a task like
it gets the learned scores and anti-patterns (what ``--strategy auto`` and the planner
prompt use)."""

from __future__ import annotations

from tests.support.planning import FakeLLM, plan, python_project, sortie


def test_outcomes_of_a_planned_mission_feed_the_next_decomposition(hive, repo, tmp_path):
    python_project(repo)
    task = "Refactor the billing code"
    assert hive.planning.decompose(task)["strategy"]["chosen"] == "risk"
    out = hive.planning.decompose(task, strategy="risk", create=True)
    features = out["features"]
    assert features and out["advice"]["scores"] == {s: 0.0 for s in
                                                      ("file", "feature", "risk", "hybrid")}
    mission_id = out["mission"]["id"]
    # every sortie takes five tries: four failures, then a success
    while ready := hive.ready(mission=mission_id):
        sid = ready[0].id
        for _ in range(4):
            hive.sorties.claim(sid, specialist="ada")
            hive.sorties.fail(sid, reason="billing tests failed")
            hive.sorties.retry(sid)
        hive.sorties.claim(sid, specialist="ada")
        hive.sorties.start(sid)
        hive.sorties.complete(sid)
    outcomes = hive.learning.outcomes(mission=mission_id, subject="sortie")
    assert len(outcomes) == len(out["sortie_ids"])
    assert all((o.strategy, o.features, o.planner, o.tries, o.success) == (
        "risk", sorted(features), out["planner"], 5, True) for o in outcomes)
    planned = {sid: s["files"] for sid, s in zip(out["sortie_ids"], out["plan"]["sorties"],
                                                 strict=True)}
    assert {o.sortie_id: o.planned_files for o in outcomes} == planned

    again = hive.planning.decompose(task)
    assert again["features"] == features
    assert again["advice"]["scores"]["risk"] < -0.5  # 1 success for 4 failures, each sortie
    assert any(s.startswith("avoid the risk strategy") and "billing tests failed" in s
               for s in again["advice"]["anti_patterns"])
    # the task alone made auto choose risk; what was learned makes it choose another
    assert again["strategy"]["chosen"] != "risk"
    # and an LLM planner is told what failed: the anti-pattern is in its prompt
    llm = FakeLLM(tmp_path / "llm", [plan(sortie("billing", ["src/app/billing/**"]),
                                          strategy="file")])
    hive.planning.decompose(task, strategy="risk", planner=llm.planner)
    (prompt,) = llm.prompts()
    assert "avoid the risk strategy" in prompt and "billing tests failed" in prompt
