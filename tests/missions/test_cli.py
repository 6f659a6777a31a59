"""``mission``, ``sortie``, ``ready`` and ``status`` on the command line (``spec/cli.md``):
JSON shapes, exit codes, refusals that write nothing, human tables, startup imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from fleet_hive.cli import cli, main
from tests.support import run_cli, segment_lines
from tests.support.missions import (
    MISSION_ALLOWED,
    MISSION_KEYS,
    MISSION_PATHS,
    SORTIE_ALLOWED,
    SORTIE_KEYS,
    SORTIE_PATHS,
    fleet_files,
)


class Fleet:
    """Runs the real entry point in-process against one repository."""

    def __init__(self, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.repo = repo
        self.capsys = capsys

    def run(self, *args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main(["-C", str(self.repo), "--actor", "cli-tester", *args])
        out = self.capsys.readouterr()
        return info.value.code, out.out, out.err

    def json(self, *args: str, code: int = 0) -> Any:
        got, out, err = self.run("--json", *args)
        assert got == code, (got, out, err)
        return json.loads(out)


@pytest.fixture
def fleet(repo: Path, capsys) -> Fleet:
    f = Fleet(repo, capsys)
    assert f.run("init")[0] == 0
    return f


def sortie_step(fleet: Fleet, action: str, sortie_id: str, who: str = "worker",
                code: int = 0) -> Any:
    if action == "claim":
        args = ["sortie", "claim", sortie_id, "--specialist", who]
    elif action == "progress":
        args = ["sortie", "progress", sortie_id, "--percent", "30", "--note", "n"]
    else:
        args = ["sortie", action, sortie_id, "--reason", f"{action} reason"]
    return fleet.json(*args, code=code)


@pytest.mark.parametrize("action", sorted(SORTIE_ALLOWED))
@pytest.mark.parametrize("status", sorted(SORTIE_PATHS))
def test_every_sortie_transition(fleet: Fleet, repo: Path, action: str, status: str):
    m = fleet.json("mission", "create", "M")
    s = fleet.json("sortie", "add", m["id"], "S")
    for step in SORTIE_PATHS[status]:
        sortie_step(fleet, step, s["id"])
    before = fleet_files(repo)
    target = SORTIE_ALLOWED[action].get(status)
    if target is None:
        err = sortie_step(fleet, action, s["id"], who="someone-else", code=3)
        assert err["error"]["code"] in ("transition_not_allowed", "already_claimed")
        assert status in err["error"]["message"] or "already claimed" in err["error"]["message"]
        assert fleet_files(repo) == before, "a refused transition writes nothing"
    else:
        got = sortie_step(fleet, action, s["id"], who="someone-else")
        assert set(got) >= SORTIE_KEYS and got["status"] == target
        assert fleet.json("sortie", "show", s["id"])["status"] == target


@pytest.mark.parametrize("action", sorted(MISSION_ALLOWED))
@pytest.mark.parametrize("status", sorted(MISSION_PATHS))
def test_every_mission_transition(fleet: Fleet, repo: Path, action: str, status: str):
    m = fleet.json("mission", "create", "M")
    for step in MISSION_PATHS[status]:
        fleet.json("mission", step, m["id"])
    before = fleet_files(repo)
    target = MISSION_ALLOWED[action].get(status)
    if target is None:
        err = fleet.json("mission", action, m["id"], "--reason", "r", code=3)
        assert err["error"]["code"] == "transition_not_allowed"
        assert fleet_files(repo) == before
    else:
        got = fleet.json("mission", action, m["id"], "--reason", "r")
        assert set(got) >= MISSION_KEYS and got["status"] == target


def test_shapes_and_json_position(fleet: Fleet):
    m = fleet.json("mission", "create", "Auth", "--description", "d", "--priority", "1",
                   "--label", "x", "--label", "y")
    assert set(m) >= MISSION_KEYS and m["labels"] == ["x", "y"] and m["priority"] == 1
    code, out, _ = fleet.run("sortie", "add", m["id"][:5], "models", "--file", "src/**",
                             "--specialist", "python", "--priority", "0", "--json")
    s = json.loads(out)
    assert code == 0 and set(s) >= SORTIE_KEYS and s["mission_id"] == m["id"]
    shown = fleet.json("mission", "show", m["id"])
    assert set(shown) >= MISSION_KEYS and [x["id"] for x in shown["sorties"]] == [s["id"]]
    listed = fleet.json("mission", "list")
    assert isinstance(listed, list) and listed[0]["id"] == m["id"] and "sorties" not in listed[0]
    assert [x["id"] for x in fleet.json("ready")] == [s["id"]]
    assert [x["id"] for x in fleet.json("sortie", "list", "--ready")] == [s["id"]]
    assert fleet.json("sortie", "list", "--status", "completed") == []
    assert fleet.json("mission", "list", "--label", "nope") == []


def test_mission_complete_refused_while_sorties_open(fleet: Fleet, repo: Path):
    m = fleet.json("mission", "create", "M")
    fleet.json("mission", "start", m["id"])
    fleet.json("sortie", "add", m["id"], "open one")
    before = fleet_files(repo)
    err = fleet.json("mission", "complete", m["id"], code=3)
    assert "still open" in err["error"]["message"] and "--force" in err["error"]["hint"]
    assert fleet_files(repo) == before
    done = fleet.json("mission", "complete", m["id"], "--force")
    assert done["status"] == "completed" and done["forced"] is True


@pytest.mark.parametrize("args, code, error", [
    (["mission", "create", ""], 1, "invalid_input"),
    (["mission", "create", "t", "--priority", "9"], 1, "invalid_input"),
    (["mission", "create", "t", "--priority", "high"], 2, "usage"),
    (["mission", "list", "--status", "bogus"], 2, "usage"),
    (["mission", "show", "m-doesnotexist"], 1, "not_found"),
    (["sortie", "add", "m-doesnotexist", "t"], 1, "not_found"),
    (["sortie", "show", "zzzz"], 1, "not_found"),
    (["sortie", "claim", "zzzz"], 1, "not_found"),  # --specialist defaults to the actor
    (["sortie", "claim"], 2, "usage"),  # an ID or --next
    (["sortie", "claim", "zzzz", "--next"], 2, "usage"),
    (["sortie", "progress", "zzzz", "--percent", "5"], 1, "not_found"),
])
def test_bad_input_errors(fleet: Fleet, repo: Path, args: list[str], code: int, error: str):
    before = fleet_files(repo)
    got, out, err = fleet.run("--json", *args)
    assert got == code
    assert json.loads(out)["error"]["code"] == error
    assert err.strip(), "a message for people on stderr"
    assert fleet_files(repo) == before


def test_dependency_errors_on_the_command_line(fleet: Fleet, repo: Path):
    m = fleet.json("mission", "create", "M")["id"]
    a = fleet.json("sortie", "add", m, "a")["id"]
    b = fleet.json("sortie", "add", m, "b", "--after", a)["id"]
    before = fleet_files(repo)
    err = fleet.json("sortie", "update", a, "--after", b, code=1)
    assert err["error"]["message"] == f"dependency cycle: {a} -> {b} -> {a}"
    err = fleet.json("sortie", "add", m, "c", "--after", "s-unknown", code=1)
    assert err["error"]["code"] == "not_found"
    assert fleet_files(repo) == before
    assert fleet.json("sortie", "update", b, "--clear-after")["depends_on"] == []


def test_ambiguous_prefix_lists_the_matches(fleet: Fleet, repo: Path):
    ids = [fleet.json("mission", "create", f"m{i}")["id"] for i in range(40)]
    first = next(i for i in ids if sum(j[2] == i[2] for j in ids) > 1)
    matches = [j for j in ids if j[2] == first[2]]
    before = fleet_files(repo)
    err = fleet.json("mission", "start", first[2], code=1)
    assert err["error"]["code"] == "ambiguous_id"
    assert all(j in err["error"]["message"] for j in matches)
    assert fleet_files(repo) == before


def test_human_output_is_an_aligned_table(fleet: Fleet):
    m = fleet.json("mission", "create", "A mission", "--label", "x")["id"]
    fleet.json("sortie", "add", m, "first sortie")
    fleet.json("sortie", "add", m, "second one, with a longer title")
    code, out, _ = fleet.run("sortie", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["ID", "STATUS", "PRI"]
    col = lines[0].index("TITLE")
    assert [ln[col:] for ln in lines[1:]] == ["first sortie", "second one, with a longer title"]
    code, out, _ = fleet.run("mission", "show", m)
    assert code == 0 and "A mission" in out and "progress   0%" in out and "first sortie" in out
    code, out, _ = fleet.run("status")
    assert code == 0 and "Missions" in out and "Blocked sorties" in out and "Index:" in out
    code, out, _ = fleet.run("ready")
    assert code == 0 and out.splitlines()[0].startswith("ID")


def test_status_json(fleet: Fleet):
    m = fleet.json("mission", "create", "M")["id"]
    a = fleet.json("sortie", "add", m, "a")["id"]
    b = fleet.json("sortie", "add", m, "b", "--after", a)["id"]
    sortie_step(fleet, "claim", a)
    sortie_step(fleet, "start", a)
    sortie_step(fleet, "block", a)
    report = fleet.json("status")
    assert set(report) >= {"missions", "active_sorties", "blocked", "conflicts",
                           "reservations", "index"}
    assert report["missions"][0]["id"] == m and report["missions"][0]["progress"] == 0
    blocked = {x["id"]: x for x in report["blocked"]}
    assert blocked[a]["reason"] == "block reason" and blocked[b]["blocked_by"] == [a]
    assert report["index"]["events"] == 7  # the block's escalation mail included


def test_every_command_has_help():
    ctx = click.Context(cli)
    for group in ("mission", "sortie"):
        cmd = cli.get_command(ctx, group)
        assert cmd.help
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub.help and sub.help.strip(), f"{group} {name} has no help"
            assert any(p.name == "json_" for p in sub.params), f"{group} {name} lacks --json"
    for name in ("ready", "status"):
        assert cli.get_command(ctx, name).help
    mission_cmds = set(cli.get_command(ctx, "mission").list_commands(ctx))
    assert mission_cmds >= {"create", "list", "show", "update", "start", "complete", "cancel",
                            "reopen", "delete"}
    sortie_cmds = set(cli.get_command(ctx, "sortie").list_commands(ctx))
    assert sortie_cmds >= {"add", "list", "show", "update", "claim", "start", "progress",
                           "complete", "fail", "block", "unblock", "cancel", "retry", "delete"}


def test_as_real_processes(repo: Path):
    assert run_cli("-C", str(repo), "init").returncode == 0
    got = run_cli("-C", str(repo), "--json", "mission", "create", "Proc")
    m = json.loads(got.stdout)["id"]
    s = json.loads(run_cli("-C", str(repo), "--json", "sortie", "add", m, "s").stdout)["id"]
    assert run_cli("-C", str(repo), "sortie", "claim", s, "--specialist", "a").returncode == 0
    lines = len(segment_lines(repo))
    got = run_cli("-C", str(repo), "sortie", "claim", s, "--specialist", "b", "--json")
    assert got.returncode == 3 and json.loads(got.stdout)["error"]["code"] == "already_claimed"
    got = run_cli("-C", str(repo), "sortie", "complete", s)
    assert got.returncode == 3 and "it is assigned" in got.stderr
    assert len(segment_lines(repo)) == lines
    assert run_cli("-C", str(repo), "verify").returncode == 0


HEAVY = ["pydantic", "dulwich", "jinja2", "filelock", "ruamel", "fastapi", "uvicorn"]


@pytest.mark.parametrize("argv", [
    ["ready", "--json"],
    ["mission", "list", "--json"],
    ["mission", "show", "MID", "--json"],
    ["sortie", "list", "--json"],
    ["sortie", "show", "SID", "--json"],
    ["status", "--json"],
])
def test_read_commands_stay_light(hive, repo: Path, argv: list[str]):
    m = hive.missions.create("M")
    s = hive.sorties.add(m.id, "s")
    argv = [a.replace("MID", m.id).replace("SID", s.id) for a in argv]
    probe = (
        "import sys, runpy, json\n"
        f"sys.argv = ['fleet-hive', '-C', {str(repo)!r}] + {argv!r}\n"
        "try:\n    runpy.run_module('fleet_hive', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "sys.stderr.write(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stderr.strip().splitlines()[-1]))
    assert json.loads(result.stdout) is not None
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_delete_on_the_command_line(fleet: Fleet, repo: Path):
    m = fleet.json("mission", "create", "M")["id"]
    s = fleet.json("sortie", "add", m, "s")["id"]
    gone = fleet.json("sortie", "delete", s, "--reason", "dup")
    assert gone["id"] == s and gone["deleted"] is True
    assert fleet.json("sortie", "list") == []
    err = fleet.json("sortie", "show", s, code=1)
    assert err["error"]["code"] == "not_found" and "was deleted" in err["error"]["message"]
    assert fleet.json("mission", "delete", m)["deleted"] is True
    assert fleet.json("mission", "list") == []
    assert not (repo / ".fleet" / "missions" / f"{m}.yaml").exists()
