"""Both planners against the planner contract, and the command planner's failure modes
with a fake LLM command (a real script run through the shell)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet_hive.kernel.errors import FleetHiveError, TimeoutExpiredError
from fleet_hive.planning.model import Advice
from fleet_hive.planning.planners import (
    CommandPlanner,
    HeuristicPlanner,
    PlanRefusedError,
    PlanRequest,
    render_prompt,
    repository_context,
)
from fleet_hive.planning.repository import Repository
from tests.contracts.planner import PlannerContract
from tests.support import segment_lines
from tests.support.planning import FakeLLM, plan, python_project, sortie

VALID = plan(sortie("tokens", ["src/app/auth/**"]),
             sortie("invoices", ["src/app/billing/**"]),
             sortie("tests", ["tests/**"], [0, 1], specialist="tests", priority=3))


class TestHeuristicPlanner(PlannerContract):
    def make_planner(self, repo: Path, tmp_path: Path) -> HeuristicPlanner:
        return HeuristicPlanner()


class TestCommandPlanner(PlannerContract):
    def make_planner(self, repo: Path, tmp_path: Path) -> CommandPlanner:
        return CommandPlanner(FakeLLM(tmp_path / "llm", [VALID]).command, cwd=str(repo),
                              timeout=30)


@pytest.fixture
def project(hive, repo: Path):
    python_project(repo)
    return hive


TASK = "Add token refresh to auth and invoice export to billing"


def test_a_valid_answer_is_created_as_it_is(project, tmp_path: Path):
    fake = FakeLLM(tmp_path / "llm", [VALID])
    out = project.planning.decompose(TASK, planner=fake.planner, create=True)
    assert out["attempts"] == 1 and out["planner"] == fake.planner
    sorties = project.missions.get(out["mission"]["id"]).sorties
    assert [s.title for s in sorties] == ["tokens", "invoices", "tests"]
    assert sorties[2].depends_on == [sorties[0].id, sorties[1].id]
    assert (sorties[2].specialist, sorties[2].priority) == ("tests", 3)
    (prompt,) = fake.prompts()
    assert TASK in prompt and "src/app/auth/tokens.py" in prompt


def test_invalid_json_then_a_valid_plan_is_retried_with_the_errors(project, tmp_path: Path):
    fake = FakeLLM(tmp_path / "llm", ['{"title": "oops", "sorties": [', VALID])
    out = project.planning.decompose(TASK, planner=fake.planner, create=True)
    assert out["attempts"] == 2
    first, second = fake.prompts()
    assert "previous answer was refused" not in first
    assert "previous answer was refused" in second
    assert "not valid JSON" in second
    assert second.startswith(first.split("## Your previous answer")[0][:200])
    assert len(project.missions.get(out["mission"]["id"]).sorties) == 3


def test_an_answer_breaking_the_schema_names_the_field_in_the_retry(project, tmp_path: Path):
    bad = {"title": "t", "strategy": "sideways", "sorties": [{"title": "a", "priority": 9}]}
    fake = FakeLLM(tmp_path / "llm", [bad, VALID])
    out = project.planning.decompose(TASK, planner=fake.planner)
    assert out["attempts"] == 2
    retry = fake.prompts()[1]
    assert "strategy:" in retry and "sorties.0.priority:" in retry


def _nothing_created(hive, before: list[bytes], root: Path) -> None:
    assert hive.missions.list() == []
    assert segment_lines(root) == before


def test_garbage_twice_is_refused_and_creates_nothing(project, repo: Path, tmp_path: Path):
    before = segment_lines(repo)
    fake = FakeLLM(tmp_path / "llm", ["I think you should split it up!", "still no JSON"])
    with pytest.raises(PlanRefusedError) as e:
        project.planning.decompose(TASK, planner=fake.planner, create=True)
    assert e.value.exit_code == 1 and "refused twice" in e.value.message
    assert "nothing was created" in e.value.hint
    assert len(fake.prompts()) == 2, "one retry, no more"
    _nothing_created(project, before, repo)


def test_a_cycle_is_refused_and_creates_nothing(project, repo: Path, tmp_path: Path):
    before = segment_lines(repo)
    cyclic = plan(sortie("a", ["src/app/auth/**"], [1]), sortie("b", ["docs/**"], [0]))
    fake = FakeLLM(tmp_path / "llm", [cyclic])
    with pytest.raises(PlanRefusedError) as e:
        project.planning.decompose(TASK, planner=fake.planner, create=True)
    assert "dependency cycle: 0 -> 1 -> 0" in e.value.message
    assert "dependency cycle" in fake.prompts()[1]
    _nothing_created(project, before, repo)


def test_a_dangling_dependency_is_refused(project, repo: Path, tmp_path: Path):
    fake = FakeLLM(tmp_path / "llm", [plan(sortie("a", ["docs/**"], [4]))])
    with pytest.raises(PlanRefusedError, match="no sortie of the plan"):
        project.planning.decompose(TASK, planner=fake.planner, create=True)
    assert project.missions.list() == []


def test_overlapping_files_are_reported_with_a_fix(project, tmp_path: Path):
    overlapping = plan(sortie("auth", ["src/app/auth/**"]),
                       sortie("tokens", ["src/app/*/tokens.py"]))
    fake = FakeLLM(tmp_path / "llm", [overlapping])
    out = project.planning.decompose(TASK, planner=fake.planner, create=True)
    (conflict,) = out["validation"]["conflicts"]
    assert conflict["sorties"] == [0, 1]
    assert conflict["files"] == [["src/app/auth/**", "src/app/*/tokens.py"]]
    assert conflict["fix"] == {"serialize": {"sortie": 1, "add_depends_on": 0},
                               "merge": [0, 1]}
    checked = project.planning.validate_mission(out["mission"]["id"])
    a, b = out["sortie_ids"]
    assert [c["sorties"] for c in checked["conflicts"]] == [[a, b]]
    assert f"sortie update {b} --add-after {a}" in checked["conflicts"][0]["hint"]


def test_a_hang_times_out_and_creates_nothing(project, repo: Path, tmp_path: Path):
    before = segment_lines(repo)
    fake = FakeLLM(tmp_path / "llm", [{"sleep": 60, "stdout": json.dumps(VALID)}])
    with pytest.raises(TimeoutExpiredError) as e:
        project.planning.decompose(TASK, planner=fake.planner, create=True, timeout=1)
    assert e.value.exit_code == 4 and "timed out after 1 s" in e.value.message
    _nothing_created(project, before, repo)


def test_a_failing_command_says_so_with_its_stderr(project, tmp_path: Path):
    fake = FakeLLM(tmp_path / "llm", [{"exit": 3, "stderr": "quota exceeded"}])
    with pytest.raises(FleetHiveError) as e:
        project.planning.decompose(TASK, planner=fake.planner, create=True)
    assert e.value.code == "planner_failed"
    assert "exit status 3" in e.value.message and "quota exceeded" in e.value.message
    assert len(fake.prompts()) == 1
    assert project.missions.list() == []


def test_an_empty_answer_is_retried_then_refused(project, tmp_path: Path):
    fake = FakeLLM(tmp_path / "llm", [{"stdout": "  \n"}])
    with pytest.raises(PlanRefusedError, match="answer was empty"):
        project.planning.decompose(TASK, planner=fake.planner)
    assert "answer was empty" in fake.prompts()[1]


def test_a_fenced_answer_is_read(project, tmp_path: Path):
    fake = FakeLLM(tmp_path / "llm", ["```json\n" + json.dumps(VALID) + "\n```\n"])
    out = project.planning.decompose(TASK, planner=fake.planner)
    assert out["attempts"] == 1 and len(out["plan"]["sorties"]) == 3


def test_the_prompt_holds_guidelines_context_and_learned_patterns(repo: Path):
    python_project(repo)
    r = Repository(repo)
    advice = Advice({"risk": -0.8}, ["feature plans with a groundwork sortie merged well"],
                    ["risk plans on docs tasks mostly failed verification"])
    prompt = render_prompt(PlanRequest(TASK, "risk", ["risk as asked"], r.files, r, advice,
                                       ["feature"]))
    assert "Assess change impact" in prompt
    assert "feature plans with a groundwork sortie merged well" in prompt
    assert "What failed before" in prompt
    assert "risk plans on docs tasks mostly failed verification" in prompt
    assert "src/app/auth/tokens.py" in prompt and "risk as asked" in prompt
    assert "previous answer" not in prompt


def test_the_repository_context_keeps_to_its_byte_budget(repo: Path):
    files = [f"pkg{k}/module_{j}.py" for k in range(30) for j in range(40)]
    r = Repository(repo, files=files)
    text = repository_context(r, files, 2000)
    assert len(text.encode()) <= 2000
    assert "more lines cut to fit 2000 bytes" in text
    assert "1200 tracked files" in text
