"""``fleet-hive demo`` runs a whole mission end to end, and the README's quick start uses it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support import PROJECT, git, run_cli

README = PROJECT / "README.md"


def test_demo_runs_a_whole_mission(tmp_path: Path):
    target = tmp_path / "demo"
    result = run_cli("demo", str(target), "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    mission = out["mission"]
    assert mission["status"] == "completed" and mission["progress"] == 100
    assert [s["status"] for s in mission["sorties"]] == ["completed"] * 4
    assert out["waves"] == 3, "design, then middleware and docs in parallel, then tests"
    assert out["refused"] and all("reserved by" in r for r in out["refused"])
    assert out["verify"]["ok"] is True
    assert "Add rate limiting" in out["history_markdown"]
    # the mission's history really is in git, committed through dulwich
    log = git(target, "log", "--format=%s").stdout.splitlines()
    assert log == ["fleet-hive: rate limiting mission complete",
                   "fleet-hive: start tracking missions"]
    assert git(target, "status", "--porcelain", ".fleet").stdout.strip() == ""
    status = run_cli("-C", str(target), "status", "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["reservations"] == []


def test_demo_refuses_a_directory_with_files(tmp_path: Path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    result = run_cli("demo", str(tmp_path / "busy"), "--json")
    assert result.returncode == 1
    assert "not an empty directory" in json.loads(result.stdout)["error"]["message"]
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]


def test_readme_gives_exactly_the_two_newcomer_commands():
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quick, re.S)
    assert len(commands) == 2
    run, test = commands
    assert "pip install ." in run and run.rstrip().endswith("fleet-hive demo")
    assert "pip install -e '.[test]'" in test and "pytest" in test
    ci = (README.parent / ".ci" / "run").read_text()
    assert "python -m pytest -q -n 2" in ci and "python -m pytest -q -n 2" in test


def test_readme_python_example_runs(repo: Path):
    code = re.search(r"## Python API\n\n```python\n(.*?)\n```", README.read_text(), re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(compile(code.group(1).replace('"path/to/repo"', repr(str(repo))), "README", "exec"),
         namespace)
    import fleet_hive

    with fleet_hive.open(repo) as hive:
        (mission,) = hive.missions.list()
        assert [s.status for s in hive.missions.get(mission.id).sorties] == ["completed",
                                                                              "pending"]
        assert [s.title for s in hive.ready()] == ["Build"]
    assert "fleet-hive: design done" in git(repo, "log", "-1", "--format=%s").stdout
