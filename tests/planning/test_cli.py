"""``decompose`` and ``plan validate|apply`` as real processes: JSON on stdout, exit
codes of ``spec/cli.md``, nothing created from a refused plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import run_cli, segment_lines
from tests.support.planning import FakeLLM, plan, python_project, sortie


@pytest.fixture
def project(hive, repo: Path) -> Path:
    python_project(repo)
    return repo


def fleet(repo: Path, *args: str, timeout: float = 60):
    return run_cli("-C", str(repo), "--actor", "ada", *args, timeout=timeout)


def test_decompose_prints_a_plan_and_writes_nothing(project: Path):
    before = segment_lines(project)
    done = fleet(project, "decompose", "Add token refresh to auth", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["mission"] is None and out["strategy"]["chosen"] == "feature"
    assert out["strategy"]["reasons"][0].startswith("chose feature")
    assert out["validation"]["ok"]
    md = fleet(project, "decompose", "Add token refresh to auth")
    assert md.returncode == 0 and md.stdout.startswith("# Plan: Add token refresh to auth")
    assert "## Sorties" in md.stdout and "Critical path" in md.stdout
    assert segment_lines(project) == before


def test_decompose_format_json_then_plan_apply(project: Path, tmp_path: Path):
    done = fleet(project, "decompose", "Refactor the auth tokens", "--strategy", "risk",
                 "--format", "json")
    assert done.returncode == 0, done.stderr
    edited = json.loads(done.stdout)
    assert set(edited) >= {"title", "strategy", "sorties"}
    edited["sorties"][0]["specialist"] = "security"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(edited))
    applied = fleet(project, "plan", "apply", str(path), "--json")
    assert applied.returncode == 0, applied.stderr
    mission = json.loads(applied.stdout)["mission"]
    shown = json.loads(fleet(project, "mission", "show", mission["id"], "--json").stdout)
    assert shown["sorties"][0]["specialist"] == "security"
    assert shown["sorties"][0]["files"] == ["src/app/auth/tokens.py"]
    ok = fleet(project, "plan", "validate", mission["id"], "--json")
    assert ok.returncode == 0, ok.stdout
    assert json.loads(ok.stdout)["ok"] is True


def test_plan_validate_exits_3_on_conflicts_with_a_fix(project: Path, tmp_path: Path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan(sortie("auth", ["src/app/auth/**"]),
                                    sortie("tokens", ["src/app/*/tokens.py"]))))
    applied = fleet(project, "plan", "apply", str(path), "--json")
    assert applied.returncode == 0
    assert "conflict:" in applied.stderr
    mission = json.loads(applied.stdout)["mission"]["id"]
    checked = fleet(project, "plan", "validate", mission[:6], "--json")
    assert checked.returncode == 3
    out = json.loads(checked.stdout)
    (conflict,) = out["conflicts"]
    assert "--add-after" in conflict["hint"]
    human = fleet(project, "plan", "validate", mission)
    assert human.returncode == 3 and "fix: serialize" in human.stdout


def test_a_refused_plan_exits_1_and_creates_nothing(project: Path, tmp_path: Path):
    before = segment_lines(project)
    fake = FakeLLM(tmp_path / "llm", ["no", "still no"])
    done = fleet(project, "decompose", "Add token refresh", "--planner", fake.planner,
                 "--create", "--json")
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "plan_refused" and "nothing was created" in error["hint"]
    assert segment_lines(project) == before


def test_a_hanging_planner_exits_4(project: Path, tmp_path: Path):
    fake = FakeLLM(tmp_path / "llm", [{"sleep": 60}])
    done = fleet(project, "decompose", "x", "--planner", fake.planner, "--timeout", "1",
                 "--create", "--json", timeout=30)
    assert done.returncode == 4
    assert json.loads(done.stdout)["error"]["code"] == "planner_timeout"


def test_decompose_create_with_a_command_planner(project: Path, tmp_path: Path):
    fake = FakeLLM(tmp_path / "llm", [plan(sortie("one", ["docs/**"]),
                                           sortie("two", ["src/**"], [0], specialist="py",
                                                  priority=1))])
    done = fleet(project, "decompose", "Do it", "--planner", fake.planner, "--create",
                 "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    shown = json.loads(fleet(project, "mission", "show", out["mission"]["id"],
                             "--json").stdout)
    two = shown["sorties"][1]
    assert (two["specialist"], two["priority"]) == ("py", 1)
    assert two["depends_on"] == [shown["sorties"][0]["id"]]


def test_bad_input_and_help(project: Path, tmp_path: Path):
    assert fleet(project, "decompose", "x", "--strategy", "nope").returncode == 2
    missing = fleet(project, "plan", "apply", str(tmp_path / "none.json"), "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"
    for args in (("decompose", "--help"), ("plan", "validate", "--help"),
                 ("plan", "apply", "--help")):
        shown = fleet(project, *args)
        assert shown.returncode == 0 and "Usage:" in shown.stdout and len(shown.stdout) > 200
