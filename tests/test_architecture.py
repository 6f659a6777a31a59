"""The architecture stays visible (``spec/architecture.md``): layers only import downwards,
no import cycles, one owner per outside dependency, read commands start light.

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a lazy
import is still a dependency, and a type-only one still couples the layers.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.support import modules_loaded_by

PACKAGE = Path(__file__).resolve().parent.parent / "fleet_hive"

#: Layers, lowest first. A module may import its own layer or a lower one.
LAYERS = {
    "kernel": 0,
    "formats": 1,
    "events": 2,
    "index": 3,
    "git": 3,
    # capabilities, in the order in which they may use one another
    "reservations": 4,
    "missions": 4,
    "mail": 4,
    "specialists": 4,
    "learning": 4,
    "checkpoints": 4,
    "planning": 4,
    "dispatch": 4,
    "app": 5,
    "cli": 6,
    "server": 6,
    "services": 6,
    "": 7,  # fleet_hive/__init__.py and __main__.py
}
CAPABILITY_ORDER = ["reservations", "missions", "mail", "specialists", "learning",
                    "checkpoints", "planning", "dispatch"]

#: outside dependency -> the only modules (relative to fleet_hive/; "dir/" = a package)
#: allowed to import it.
OWNERS = {
    "sqlite3": {"index/db.py"},
    "click": {"cli/"},
    "dulwich": {"git/repo.py"},
    "ruamel": {"formats/yaml.py"},
    "jinja2": {"formats/templates.py"},
    "fcntl": {"kernel/locking.py"},
    "filelock": {"git/commit.py"},
    "subprocess": {"kernel/processes.py"},
    "signal": {"kernel/processes.py"},
    "fastapi": {"server/"},
    "uvicorn": {"server/"},
    "mcp": {"server/"},
    "rich": {"cli/progress.py"},
    "pydantic": {"events/registry.py", "events/core_types.py", "app/config.py",
                 "*/event_types.py", "checkpoints/body.py", "planning/plan.py",
                 "server/"},  # the API's request bodies
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path) -> tuple[set[str], set[str]]:
    """(fleet_hive modules, outside top-level packages) that ``path`` imports anywhere."""
    known = modules()
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    inside: set[str] = set()
    outside: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "fleet_hive":
                    inside.add(alias.name)
                else:
                    outside.add(alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "fleet_hive":
                outside.add(target.split(".")[0])
                continue
            submodules = [f"{target}.{a.name}" for a in node.names
                          if f"{target}.{a.name}" in known]
            inside.update(submodules or [target])
    # importing a child runs its parents' __init__ first: that is not a dependency of ours
    inside = {m for m in inside if m in known and not name.startswith(m + ".")
              and m != name}
    return inside, outside


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ""


def test_layers_only_import_downwards():
    offenders = []
    for name, path in modules().items():
        here = layer_of(name)
        for target in imports_of(path)[0]:
            there = layer_of(target)
            if LAYERS[there] > LAYERS[here]:
                offenders.append(f"{name} ({here or 'top'}) imports {target} ({there or 'top'})")
            elif here == "git" and there not in ("git", "kernel"):
                offenders.append(f"{name}: git/ imports only kernel/, not {target}")
            elif here in CAPABILITY_ORDER and there in CAPABILITY_ORDER and here != there:
                earlier = CAPABILITY_ORDER.index(there) < CAPABILITY_ORDER.index(here)
                if not earlier or target.split(".")[-1] != "model":
                    offenders.append(f"{name} imports {target}: a capability may import "
                                     "only an earlier capability's model")
    assert sorted(offenders) == []


def test_no_import_cycles():
    graph = {name: imports_of(path)[0] for name, path in modules().items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert [" -> ".join(c) for c in cycles] == []


def _allowed(rel: str, owners: set[str]) -> bool:
    for owner in owners:
        if owner.startswith("*/"):
            if rel.endswith(owner[1:]):
                return True
        elif rel == owner or (owner.endswith("/") and rel.startswith(owner)):
            return True
    return False


def test_each_outside_dependency_has_one_owner():
    offenders = []
    for path in modules().values():
        rel = path.relative_to(PACKAGE).as_posix()
        for dep in imports_of(path)[1] & set(OWNERS):
            if not _allowed(rel, OWNERS[dep]):
                offenders.append(f"{rel} imports {dep}")
    assert sorted(offenders) == []


def test_the_composition_root_is_imported_by_nothing_below_it():
    offenders = [name for name, path in modules().items()
                 if "fleet_hive.app.hive" in imports_of(path)[0]
                 and layer_of(name) not in ("app", "cli", "server", "services", "")]
    assert offenders == []


def test_only_the_capability_list_names_every_capability():
    """Below app/, no module names a capability package by string (the registries are
    given their modules, projections and checks from ``app/capabilities.py``)."""
    offenders = []
    for name, path in modules().items():
        if LAYERS[layer_of(name)] >= LAYERS["app"] or layer_of(name) in CAPABILITY_ORDER:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for cap in CAPABILITY_ORDER:
                    if f"fleet_hive.{cap}" in node.value:
                        offenders.append(f"{name} names fleet_hive.{cap}")
    assert offenders == []


def test_this_check_can_fail(tmp_path):
    """The walk sees type-checking and function-level imports (so a green run means
    something)."""
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                     "    import sqlite3\n"
                     "def f():\n    from ruamel.yaml import YAML\n")
    assert imports_of_outside(probe) == {"typing", "sqlite3", "ruamel"}


def imports_of_outside(path: Path) -> set[str]:
    outside = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            outside.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            outside.add(node.module.split(".")[0])
    return outside


HEAVY = ["pydantic", "dulwich", "jinja2", "filelock", "ruamel", "fastapi", "uvicorn"]

#: read command -> fleet_hive packages it must not load (capabilities it does not serve,
#: and the write path)
READ_COMMANDS = {
    ("events", "list", "--json", "--limit", "10"): ["missions", "reservations", "git"],
    ("index", "status", "--json"): ["git"],
    ("ready", "--json"): ["reservations", "git"],
    ("status", "--json"): ["git"],
    ("lock", "check", "src/a.py", "--json"): ["missions", "git"],
    ("lock", "list", "--json"): ["missions", "git"],
    ("mail", "inbox", "bob", "--json"): ["missions", "reservations", "specialists", "git"],
    ("specialist", "list", "--json"): ["reservations", "mail", "git"],
}


@pytest.mark.parametrize("argv", list(READ_COMMANDS), ids=" ".join)
def test_read_commands_load_only_what_they_serve(hive, repo: Path, argv):
    mission = hive.missions.create("m")
    hive.sorties.add(mission.id, "s", files=["src/a.py"])
    hive.reservations.acquire(["docs/**"], holder="ada")
    hive.index.catch_up()  # so the command's own catch-up has nothing new to fold
    loaded, result = modules_loaded_by(repo, *argv)
    assert json.loads(result.stdout) is not None
    top = {m.split(".")[0] for m in loaded}
    assert top.isdisjoint(HEAVY), sorted(top & set(HEAVY))
    ours = {m.split(".")[1] for m in loaded if m.startswith("fleet_hive.")}
    assert ours.isdisjoint(READ_COMMANDS[argv]), sorted(ours & set(READ_COMMANDS[argv]))
    # ready and status read stale work (checkpoints/stale.py), not recovery or checkpoints
    assert loaded.isdisjoint({"fleet_hive.checkpoints.recovery", "fleet_hive.checkpoints.model",
                              "fleet_hive.checkpoints.service"}), \
        sorted(m for m in loaded if "checkpoints" in m)


@pytest.mark.parametrize("argv", [("events", "list", "--json", "--limit", "10"),
                                  ("ready", "--json"), ("status", "--json")], ids=" ".join)
def test_read_commands_never_load_the_log_writer(hive, repo: Path, argv):
    """The appender (``events/log.py``: new segments, ids, the writer's state, fsync)
    belongs to the write path: a read, catching up with new lines or not, never loads it."""
    hive.events.append("note_added", stream="note:x", data={"text": "unread"})  # new lines
    loaded, result = modules_loaded_by(repo, *argv)
    assert result.returncode == 0, result.stderr
    assert "fleet_hive.events" in loaded, "the probe sees fleet-hive's modules"
    assert "fleet_hive.events.log" not in loaded


#: What read commands do in the library (without the CLI's own imports): the outside modules
#: none of them may load. orjson's module init imports dataclasses, inspect, uuid and
#: datetime (about 10 ms): a read that ingests nothing parses its rows with the stdlib.
LIBRARY_READS = {
    "ready": "[s.to_json() for s in hive.sorties.ready()]",
    "sortie show": "hive.sorties.get(hive.sorties.ready()[0].id).to_json()",
    "lock check": "hive.reservations.check(['src/a.py'], holder='bob').to_json()",
    "events list": "[e.to_json() for e in hive.events.query(limit=10)]",
    "mail inbox": "[m.to_json() for m in hive.mail.inbox('bob')]",
    "specialist list": "[s.to_dict() for s in hive.specialists.list()]",
}
LEAN = [*HEAVY, "orjson", "dataclasses", "inspect", "uuid", "hashlib", "tempfile",
        "traceback", "configparser", "getpass"]  # the last two: finding the actor (reads
# do not act: only a write asks who the actor is)


@pytest.mark.parametrize("call", list(LIBRARY_READS.values()), ids=list(LIBRARY_READS))
def test_library_reads_load_no_module_they_do_not_need(hive, repo: Path, call: str):
    mission = hive.missions.create("m")
    hive.sorties.add(mission.id, "s", files=["src/a.py"])
    hive.reservations.acquire(["docs/**"], holder="ada")
    hive.mail.send(["bob"], "hi", mission=mission.id)
    hive.specialists.register("py-1", ["python"])
    hive.index.catch_up()  # nothing new for the read below
    probe = (
        "import sys, json\n"
        "from fleet_hive.app.hive import open as open_hive\n"
        f"hive = open_hive({str(repo)!r})\n"
        f"out = {call}\n"
        "from fleet_hive.app.status import index_warnings\n"
        "list(index_warnings(hive.index))\n"
        "hive.close()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=60, cwd=repo)
    assert result.returncode == 0, result.stderr
    top = {m.split(".")[0] for m in json.loads(result.stdout.splitlines()[-1])}
    assert top.isdisjoint(LEAN), sorted(top & set(LEAN))


#: hot commands agents run once per action, as processes: none may import click (the fast
#: path, cli/fast.py, parses them); the reads also load nothing in HEAVY.
HOT_READS = [("ready", "--json"), ("status", "--json"), ("lock", "check", "src/a.py"),
             ("events", "list", "--limit", "10", "--json"), ("sortie", "show", "{sortie}"),
             ("mission", "list"), ("sortie", "list", "--status", "pending"),
             ("mail", "inbox", "ada", "--json"), ("specialist", "list", "--json")]
HOT_WRITES = [("sortie", "claim", "{sortie}"), ("sortie", "start", "{sortie}"),
              ("sortie", "progress", "{sortie}", "--percent", "50", "--note", "half"),
              ("sortie", "complete", "{sortie}", "--json"),
              ("lock", "acquire", "docs/a.md", "--ttl", "60"),
              ("events", "append", "note_added", "--stream", "mission:m1", "--data",
               '{"text": "hi"}'),
              ("mail", "send", "--to", "bob", "--subject", "hi", "--json"),
              ("specialist", "register", "py-1", "--capability", "python")]
#: what a one-event write has no use for (see kernel/jsonload.py, kernel/digest.py;
#: typing: kernel/typenames.py; configparser: the actor's name, kernel/actors.py; pathlib,
#: which imports re, enum, fnmatch and urllib.parse with ipaddress, ~12 ms: the places
#: every command opens are strings, kernel/layout.py)
WRITE_LEAN = {"orjson", "dataclasses", "inspect", "uuid", "hashlib", "typing", "configparser",
              "pathlib", "fnmatch", "urllib", "ipaddress"}
#: ... nor re (kernel/textshapes.py, kernel/patterns.py; an outcome recorded as a sortie
#: ends tags no task: learning/model.py) or json's package (kernel/jsonload.py,
#: kernel/jsondump.py)
PLAIN_WRITE_LEAN = {*WRITE_LEAN, "re", "enum", "json"}
#: ... and a read none of them (nor a lock: threading comes with the writer's)
READ_LEAN = {*PLAIN_WRITE_LEAN, "threading"}
#: how agents start it: ``python -m fleet_hive`` and the console script (which calls main()
#: from its own __main__)
ENTRY_POINTS = {"-m": ["-m", "fleet_hive"],
                "script": ["-c", "import sys; from fleet_hive.cli import main; "
                                 "sys.argv[0] = 'fleet-hive'; sys.exit(main())"]}


def _imported_by_process(entry: list[str], repo: Path, argv: list[str]) -> set[str]:
    """Top-level packages a real ``fleet-hive`` process imported (``-X importtime``)."""
    result = subprocess.run([sys.executable, "-X", "importtime", *entry, "-C", str(repo),
                             "--actor", "ada", *argv], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_hot_commands_as_processes_never_import_click(hive, repo: Path, entry: str):
    mission = hive.missions.create("m")
    sortie = hive.sorties.add(mission.id, "s", files=["src/a.py"]).id
    for i in range(4):  # completing one of five crosses no checkpoint threshold (25 %)
        hive.sorties.add(mission.id, f"other {i}")
    hive.index.catch_up()
    for argv in HOT_READS:
        top = _imported_by_process(ENTRY_POINTS[entry], repo,
                                   [a.replace("{sortie}", sortie) for a in argv])
        assert "fleet_hive" in top, "the probe sees the imports"
        assert top.isdisjoint({"click", *HEAVY, *READ_LEAN}), \
            (argv, sorted(top & {"click", *HEAVY, *READ_LEAN}))
    for argv in HOT_WRITES:
        top = _imported_by_process(ENTRY_POINTS[entry], repo,
                                   [a.replace("{sortie}", sortie) for a in argv])
        # settings remembered, data checked against the committed schemas: no pydantic
        # (ruamel still renders the snapshot with the default snapshots: every_write); one
        # event written and read back through the stdlib's JSON (the same bytes): no
        # orjson, whose init imports dataclasses, inspect and uuid; no OpenSSL for hashes
        assert top.isdisjoint({"click", "pydantic", "jinja2", *PLAIN_WRITE_LEAN}), \
            (argv, sorted(top & {"click", "pydantic", "jinja2", *PLAIN_WRITE_LEAN}))
    assert hive.sorties.get(sortie).status == "completed", "the writes happened"


def test_no_test_imports_another_test_module():
    """Shared helpers live in tests/support, contract base classes in tests/contracts."""
    tests = PACKAGE.parent / "tests"
    offenders = []
    for path in tests.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.split(".")[-1].startswith("test_") or n.endswith("conftest")
                   for n in names):
                offenders.append(f"{path.relative_to(tests)} imports {names}")
    assert offenders == []


def test_services_never_import_the_server():
    """``services/`` manages the server as a process and talks to it over HTTP: it works
    (and reports the extra missing) without fastapi, uvicorn or mcp installed."""
    offenders = [f"{name} imports {target}" for name, path in modules().items()
                 if layer_of(name) == "services"
                 for target in imports_of(path)[0] if layer_of(target) == "server"]
    assert offenders == []


#: after-write policies built only when a write's events concern them (app/policies.py)
LAZY_POLICIES = {"fleet_hive.reservations.manifest", "fleet_hive.checkpoints.triggers",
                 "fleet_hive.mail.escalation", "fleet_hive.learning.policy"}


def test_a_write_imports_only_the_policies_its_events_concern(hive, repo: Path):
    mission = hive.missions.create("m")
    sortie = hive.sorties.add(mission.id, "s", files=["src/a.py"]).id
    hive.sorties.claim(sortie, specialist="ada")
    hive.sorties.start(sortie)
    hive.close()
    loaded, result = modules_loaded_by(repo, "--actor", "ada", "sortie", "progress", sortie,
                                       "--percent", "40", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fleet_hive.index.unit_of_work" in loaded, "the write path ran"
    assert loaded.isdisjoint(LAZY_POLICIES), sorted(loaded & LAZY_POLICIES)
    loaded, result = modules_loaded_by(repo, "--actor", "ada", "sortie", "complete", sortie,
                                       "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"fleet_hive.checkpoints.triggers", "fleet_hive.learning.policy",
            "fleet_hive.reservations.manifest"} <= loaded  # a completion concerns them
    loaded, result = modules_loaded_by(repo, "--actor", "ada", "lock", "acquire", "docs/x.md",
                                       "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fleet_hive.reservations.manifest" in loaded
    assert "fleet_hive.missions.snapshots" not in loaded  # no mission event, nothing owed


def test_a_completion_that_crosses_no_threshold_does_not_build_the_checkpoint_service(
        hive, repo: Path):
    """The trigger tells a write that fires nothing apart itself (the mission's progress
    and the thresholds fired, from the index): the checkpoint service, its files and its
    YAML are loaded only for a checkpoint to take."""
    mission = hive.missions.create("m")
    hive.missions.start(mission.id)
    ids = [s.id for s in hive.sorties.add_many(mission.id, [{"title": f"s{i}"}
                                                            for i in range(10)])]
    for sid in ids[:3]:
        hive.sorties.claim(sid, specialist="ada")
        hive.sorties.start(sid)
    hive.close()
    loaded, result = modules_loaded_by(repo, "--actor", "ada", "sortie", "complete", ids[0],
                                       "--json")  # 10 %: no threshold
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fleet_hive.checkpoints.triggers" in loaded, "the trigger ran"
    assert "fleet_hive.checkpoints.service" not in loaded
    for sid in ids[1:3]:  # 20 %, then 30 %: crosses 25
        loaded, result = modules_loaded_by(repo, "--actor", "ada", "sortie", "complete", sid,
                                           "--json")
        assert result.returncode == 0, result.stderr[-2000:]
    assert "fleet_hive.checkpoints.service" in loaded
    import fleet_hive

    again = fleet_hive.open(repo)
    try:
        assert [c.trigger for c in again.checkpoints.list(mission.id)] == ["progress"]
    finally:
        again.close()


def test_the_lazy_policies_filters_cover_the_policies_own():
    """OnEvents runs a policy only for the events its filter names: each filter must cover
    what the policy itself acts on, or the policy would silently not run."""
    from fleet_hive.app import policies as p
    from fleet_hive.checkpoints import triggers
    from fleet_hive.learning import decide as learning_decide
    from fleet_hive.learning import policy as learning_policy
    from fleet_hive.mail import escalation
    from fleet_hive.reservations import manifest

    assert triggers.PROGRESS_EVENTS | triggers.FAILURE_EVENTS <= p.CHECKPOINT_TRIGGER_TYPES
    assert {escalation.BLOCKED} <= p.BLOCKER_TYPES
    assert learning_decide.ENDINGS | {learning_policy.TRY_ENDED} <= p.OUTCOME_TYPES
    assert manifest._LEASE.startswith(p.MANIFEST_STREAMS)
