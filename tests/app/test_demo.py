"""``fleet-hive demo`` runs a whole mission end to end, and the README's quick start uses it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import fleet_hive
from tests.support import PROJECT, git, run_cli

README = PROJECT / "README.md"


def test_demo_runs_a_whole_mission(tmp_path: Path):
    target = tmp_path / "demo"
    result = run_cli("demo", str(target), "--json", timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    mission = out["mission"]
    assert mission["status"] == "completed" and mission["progress"] == 100
    # decomposed by the heuristic planner: six features, each with the file it names,
    # and an integration sortie that waits for all of them
    assert out["plan"]["strategy"]["used"] == "feature"
    assert out["plan"]["waves"] == [[0, 1, 2, 3, 4, 5], [6]]
    sorties = mission["sorties"]
    assert [s["status"] for s in sorties] == ["completed"] * 7
    assert [s["files"] for s in sorties[:6]] == [
        ["shop/discounts.py"], ["shop/cart.py"], ["shop/prices.py"],
        ["tests/test_discounts.py"], ["docs/discounts.md"], ["CHANGELOG.md"]]
    assert sorties[6]["depends_on"] == [s["id"] for s in sorties[:6]]
    # dispatched to real agent processes: one sortie failed once and passed on its retry
    summary = out["dispatch"]
    assert summary["ok"] is True and summary["tries"] == 8 and summary["retries"] == 1
    assert out["verify"]["ok"] is True
    assert "Add discounts to the shop" in out["history_markdown"]
    # the agents really edited the codebase
    assert out["edited"] == sorted(["CHANGELOG.md", "docs/discounts.md", "shop/cart.py",
                                    "shop/discounts.py", "shop/prices.py",
                                    "tests/test_discounts.py"])
    assert "def total_with_discount" in (target / "shop" / "cart.py").read_text()
    assert "def euros" in (target / "shop" / "prices.py").read_text()
    # the mission's history really is in git, committed through dulwich
    log = git(target, "log", "--format=%s").stdout.splitlines()
    assert log == ["fleet-hive: discounts mission complete",
                   "fleet-hive: start tracking missions"]
    assert git(target, "status", "--porcelain", ".fleet").stdout.strip() == ""
    status = run_cli("-C", str(target), "status", "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["reservations"] == []
    with fleet_hive.open(target) as hive:
        tries = hive.events.query(type="sortie_try_ended")
        flaky = [e.data for e in tries if e.data["outcome"] == "retried"]
        assert len(flaky) == 1 and flaky[0]["exit_code"] == 1
        actors = {e.actor for e in hive.events.query(type="sortie_progressed")}
        assert actors and all(a.startswith("coordinator/w") for a in actors)
        # the documentation agent mailed the coordinator
        (message,) = hive.mail.inbox("coordinator")
        assert message.subject == "Discount docs are ready"
        assert message.sender.startswith("coordinator/w")


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
