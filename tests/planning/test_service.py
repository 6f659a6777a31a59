"""hive.planning end to end on a real repository: ``--create`` carries files,
dependencies, specialist kinds and priorities into the sorties; the plan record learning
reads; ``plan apply``; validating any mission; the learning ports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet_hive.app.verify import verify
from fleet_hive.planning import Advice
from fleet_hive.planning.planners import PlanRefusedError
from fleet_hive.planning.service import Planning
from tests.contracts.projection import ProjectionContract
from tests.support import segment_lines
from tests.support.planning import plan, python_project, sortie


@pytest.fixture
def project(hive, repo: Path):
    python_project(repo)
    return hive


def test_create_carries_files_dependencies_specialists_and_priorities(project):
    out = project.planning.decompose("Refactor the auth tokens", strategy="risk",
                                     create=True)
    planned = out["plan"]["sorties"]
    mission = project.missions.get(out["mission"]["id"])
    assert mission.description == "Refactor the auth tokens"
    assert [s.id for s in mission.sorties] == out["sortie_ids"]
    for s, p in zip(mission.sorties, planned, strict=True):
        assert (s.title, s.files, s.specialist, s.priority) == (
            p["title"], p["files"], p["specialist"], p["priority"])
        assert s.depends_on == [out["sortie_ids"][i] for i in p["depends_on"]]
    assert mission.sorties[0].priority == 0 and mission.sorties[0].files == [
        "src/app/auth/tokens.py"]
    assert any(s.depends_on for s in mission.sorties)
    # dispatch's view: the risky sortie is the one to claim first
    assert project.ready()[0].id == mission.sorties[0].id


def test_the_plan_record_has_the_shape_learning_reads(project):
    out = project.planning.decompose("Add token refresh to auth and invoice export to "
                                     "billing", create=True)
    record = project.planning.plan_of(out["mission"]["id"])
    assert record is not None
    assert {"task", "strategy", "planner", "features", "sorties"} <= set(record)
    assert record["task"].startswith("Add token refresh")
    assert (record["strategy"], record["planner"]) == ("feature", "heuristic")
    assert record["features"] == ["feature", "security"]
    assert record["sorties"] == {sid: {"files": s["files"]} for sid, s in
                                 zip(out["sortie_ids"], out["plan"]["sorties"], strict=True)}
    assert record["reasons"] == out["strategy"]["reasons"] + out["planner_reasons"]
    assert project.planning.plan_of(project.missions.create("by hand").id) is None


def test_the_plan_record_survives_an_index_rebuild(project):
    out = project.planning.decompose("Refactor sessions and add token refresh", create=True)
    before = project.planning.plan_of(out["mission"]["id"])
    project.index.rebuild()
    assert project.planning.plan_of(out["mission"]["id"]) == before
    assert verify(project).ok


def test_without_create_nothing_is_written(project, repo: Path):
    before = segment_lines(repo)
    out = project.planning.decompose("Add token refresh to auth")
    assert out["mission"] is None and out["plan"]["sorties"]
    assert segment_lines(repo) == before


def test_file_globs_limit_the_scope(project):
    out = project.planning.decompose("Reorganize", strategy="file", files=["docs/**"])
    assert out["scope"]["files"] == 2
    assert all(f.startswith("docs/") for s in out["plan"]["sorties"] for f in s["files"])
    with pytest.raises(Exception, match="no tracked file matches"):
        project.planning.decompose("Reorganize", files=["nowhere/**"])


def test_bad_input_is_refused(project):
    for kwargs, message in (({"strategy": "random"}, "unknown strategy"),
                            ({"planner": "gpt"}, "unknown planner"),
                            ({"files": ["a//b"]}, "invalid file pattern")):
        with pytest.raises(Exception, match=message):
            project.planning.decompose("task", **kwargs)
    with pytest.raises(Exception, match="must not be empty"):
        project.planning.decompose("  ")


def test_apply_an_edited_plan_file(project, tmp_path: Path):
    out = project.planning.decompose("Add token refresh to auth and invoice export to "
                                     "billing")
    edited = out["plan"]
    edited["sorties"][0]["title"] = "Token refresh, edited by hand"
    edited["sorties"][0]["priority"] = 1
    edited["sorties"].append(sortie("Write the changelog", ["CHANGELOG.md"], [0, 1],
                                    specialist="docs", priority=4))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(edited))
    applied = project.planning.apply(path)
    mission = project.missions.get(applied["mission"]["id"])
    titles = [s.title for s in mission.sorties]
    assert titles[0] == "Token refresh, edited by hand" and titles[-1] == "Write the changelog"
    last = mission.sorties[-1]
    assert (last.specialist, last.priority, last.files) == ("docs", 4, ["CHANGELOG.md"])
    assert last.depends_on == [mission.sorties[0].id, mission.sorties[1].id]
    record = project.planning.plan_of(mission.id)
    assert record["planner"] == "file:plan.json" and record["strategy"] == "feature"


def test_apply_reads_yaml_and_orders_sorties(project, tmp_path: Path):
    path = tmp_path / "plan.yaml"
    path.write_text("title: by hand\nstrategy: file\nsorties:\n"
                    "  - title: second\n    files: [docs/**]\n    depends_on: [1]\n"
                    "  - title: first\n    files: [src/**]\n")
    applied = project.planning.apply(path)
    mission = project.missions.get(applied["mission"]["id"])
    assert [s.title for s in mission.sorties] == ["first", "second"]
    assert mission.sorties[1].depends_on == [mission.sorties[0].id]


def test_apply_refuses_an_invalid_plan_and_creates_nothing(project, repo: Path,
                                                           tmp_path: Path):
    before = segment_lines(repo)
    cases = {"cycle.json": json.dumps(plan(sortie("a", [], [1]), sortie("b", [], [0]))),
             "schema.json": json.dumps({"title": "x", "strategy": "file", "sorties": []}),
             "broken.json": '{"title": ',
             "broken.yaml": "title: [unclosed\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(Exception) as e:
            project.planning.apply(tmp_path / name)
        assert e.value.exit_code == 1, name
        assert "nothing was created" in e.value.hint, name
    with pytest.raises(PlanRefusedError, match="dependency cycle"):
        project.planning.apply(tmp_path / "cycle.json")
    assert segment_lines(repo) == before
    assert project.missions.list() == []


def test_validate_any_mission(project):
    m = project.missions.create("by hand")
    a = project.sorties.add(m.id, "a", files=["src/**"])
    b = project.sorties.add(m.id, "b", files=["src/app/api/routes.py"])
    c = project.sorties.add(m.id, "c", files=["src/app/auth/*.py"], after=[a.id])
    found = project.planning.validate_mission(m.id)
    assert not found["ok"] and found["errors"] == []
    assert [x["sorties"] for x in found["conflicts"]] == [[a.id, b.id]]
    assert found["waves"] == [[a.id, b.id], [c.id]]
    project.sorties.update(b.id, after=[a.id])
    assert project.planning.validate_mission(m.id)["conflicts"] == []
    # a completed sortie's files no longer conflict
    d = project.sorties.add(m.id, "d", files=["src/app/api/*.py"])
    assert [x["sorties"] for x in project.planning.validate_mission(m.id)["conflicts"]] == [
        [a.id, d.id], [b.id, d.id]]
    for action in ("claim", "start", "complete"):
        getattr(project.sorties, action)(d.id, **({"specialist": "ada"} if action == "claim"
                                                   else {"force": True}))
    assert project.planning.validate_mission(m.id)["conflicts"] == []


class _Learning:
    """A learning port written out by hand: features -> advice."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def __call__(self, features: list[str]) -> Advice:
        self.asked.append(features)
        return Advice({"feature": -0.9, "file": 0.4}, ["file plans merged cleanly"],
                      ["feature plans on auth tasks failed verification"])


def test_learned_advice_changes_auto_and_reaches_the_record(hive, repo: Path):
    python_project(repo)
    learning = _Learning()
    planning = Planning(hive.index, root=hive.root, missions=lambda: hive.missions,
                        advice=learning, features=lambda task: ["auth", "feature"])
    task = "Add token refresh to auth and invoice export to billing"
    assert hive.planning.decompose(task)["strategy"]["chosen"] == "feature"
    out = planning.decompose(task, create=True)
    assert learning.asked == [["auth", "feature"]]
    assert out["strategy"]["chosen"] == "file"
    assert out["advice"]["anti_patterns"] == ["feature plans on auth tasks failed "
                                              "verification"]
    assert any("learned from past outcomes" in r for r in out["strategy"]["reasons"])
    assert planning.plan_of(out["mission"]["id"])["features"] == ["auth", "feature"]


class TestPlansProjection(ProjectionContract):
    name = "planning"
    tables = ("plans",)

    def scenario(self, hive: Any) -> Iterator[str]:
        python_project(hive.root, history=False)
        hive.planning.decompose("Add token refresh to auth", create=True)
        yield "one planned mission"
        hive.planning.decompose("Reorganize the docs", strategy="file", create=True)
        yield "two planned missions"


def test_one_dependency_is_added_or_removed_at_a_time(project):
    """What a plan's conflict fix asks for: ``sortie update B --add-after A``."""
    from tests.support import run_cli

    m = project.missions.create("by hand")
    a = project.sorties.add(m.id, "a", files=["src/**"])
    b = project.sorties.add(m.id, "b", files=["docs/**"])
    c = project.sorties.add(m.id, "c", files=["src/app/auth/*.py"], after=[b.id])
    project.close()
    done = run_cli("-C", str(project.root), "sortie", "update", c.id, "--add-after",
                   a.id[:8], "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["depends_on"] == [b.id, a.id]
    assert project.planning.validate_mission(m.id)["conflicts"] == []
    done = run_cli("-C", str(project.root), "sortie", "update", c.id, "--remove-after",
                   b.id, "--json")
    assert json.loads(done.stdout)["depends_on"] == [a.id]
    again = run_cli("-C", str(project.root), "sortie", "update", c.id, "--remove-after",
                    b.id, "--json")
    assert again.returncode == 1 and "does not depend on" in again.stdout
    cycle = run_cli("-C", str(project.root), "sortie", "update", a.id, "--add-after", c.id)
    assert cycle.returncode == 1 and "dependency cycle" in cycle.stderr


def test_a_claim_reserves_the_planned_files(project):
    out = project.planning.decompose("Refactor the auth tokens", strategy="risk",
                                     create=True)
    first = project.sorties.claim(out["sortie_ids"][0], specialist="ada")
    held = project.reservations.list(holder="ada")
    assert [r.path for r in held] == first.files == ["src/app/auth/tokens.py"]


def test_verify_finds_a_plans_table_that_lost_a_row(project):
    out = project.planning.decompose("Add token refresh to auth", create=True)
    project.index.catch_up()
    project.index.db.execute("DELETE FROM plans")
    report = verify(project)
    (problem,) = [p for p in report.problems if p.kind == "projection_mismatch"]
    assert "plan tables" in problem.message and problem.severity == "error"
    repaired = verify(project, repair=True)
    assert [p.severity for p in repaired.problems if p.kind == "projection_mismatch"] == [
        "repaired"]
    assert project.planning.plan_of(out["mission"]["id"]) is not None
    assert verify(project).ok


def test_a_worktree_is_planned_from_its_own_index(project, repo: Path, tmp_path: Path):
    from fleet_hive.planning.repository import Repository
    from tests.support import git

    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(worktree), "-b", "side")
    r = Repository(worktree, git_dir=Path(git(worktree, "rev-parse", "--git-dir").stdout
                                          .strip()))
    assert "src/app/auth/tokens.py" in r.files
    assert r.files == Repository(repo).files


def test_a_mission_without_sorties_validates_with_a_warning(project):
    m = project.missions.create("empty for now")
    found = project.planning.validate_mission(m.id)
    assert found["ok"] and found["errors"] == []
    assert found["warnings"][0]["message"] == "the mission has no sorties"
