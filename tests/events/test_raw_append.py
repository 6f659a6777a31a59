"""Raw appends keep to the rules (issue 10, item 8): a domain event type is recorded only by
its use case, and a note on a mission's or sortie's stream keeps the snapshot right, so
``verify`` and the pre-commit hook accept the repository afterwards."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from fleet_hive.app import capabilities
from fleet_hive.app.verify import verify
from fleet_hive.events import registry
from fleet_hive.kernel.errors import InvalidInputError
from tests.support import git, run_cli, segment_lines


def test_every_capability_type_names_its_use_case():
    for module in capabilities.event_type_modules():
        importlib.import_module(module)
    owned = {name for name, t in registry.known_types().items()
             if t.model.__module__ != "fleet_hive.events.core_types"}
    assert owned, "the capabilities declare event types"
    missing = sorted(name for name in owned if registry.use_case_of(name) is None)
    assert not missing, f"domain types without a use case: {missing}"
    assert registry.use_case_of("note_added") is None
    assert "fleet-hive sortie complete" in (registry.use_case_of("sortie_completed") or "")


def test_the_api_refuses_domain_types_and_writes_nothing(hive):
    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "s")
    before = len(segment_lines(hive.root))
    with pytest.raises(InvalidInputError, match="sortie_completed is a domain event") as info:
        hive.events.append("sortie_completed", stream=f"sortie:{s.id}", data={})
    assert "fleet-hive sortie complete" in (info.value.hint or "")
    with pytest.raises(InvalidInputError, match="batch item 1: reservation_acquired") as info:
        hive.events.append_batch([
            {"type": "note_added", "stream": "t:1", "data": {"text": "a"}},
            {"type": "reservation_acquired", "stream": "reservation:r1", "data": {}}])
    assert "lock acquire" in (info.value.hint or "")
    with pytest.raises(InvalidInputError, match="domain event"):  # custom does not get past it
        hive.events.append("mission_created", stream="mission:m-x", data={"title": "t"},
                           custom=True)
    assert len(segment_lines(hive.root)) == before, "nothing written"
    assert hive.sorties.get(s.id).status == "pending"


def test_notes_on_mission_and_sortie_streams_keep_snapshots_right(hive):
    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "s")
    hive.events.append("note_added", stream=f"mission:{m.id}", data={"text": "on mission"})
    hive.events.append("note_added", stream=f"sortie:{s.id}", data={"text": "on sortie"},
                       correlation_id="m-someotherid")  # a user's correlation id, not the mission
    hive.events.append_batch([{"type": "note_added", "stream": f"sortie:{s.id}",
                               "data": {"text": "batched"}}])
    hive.events.append("custom_thing_happened", stream=f"mission:{m.id}", data={"x": 1},
                       custom=True)
    report = verify(hive)
    assert report.ok, [p.text() for p in report.problems]
    assert "events: 6" in (hive.root / ".fleet" / "missions" / f"{m.id}.yaml").read_text()


def _cli(repo: Path, *args: str):
    return run_cli("-C", str(repo), *args)


def test_cli_readme_example_then_a_hooked_commit(repo: Path):
    assert _cli(repo, "init").returncode == 0
    assert _cli(repo, "hooks", "install").returncode == 0
    mission = json.loads(_cli(repo, "--json", "mission", "create", "m").stdout)
    sortie = json.loads(_cli(repo, "--json", "sortie", "add", mission["id"], "s").stdout)
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", "fleet")

    note = _cli(repo, "events", "append", "note_added", "--stream", f"mission:{mission['id']}",
                "--data", '{"text": "hi"}')
    assert note.returncode == 0, note.stderr
    lines = len(segment_lines(repo))
    refused = _cli(repo, "events", "append", "sortie_completed", "--stream",
                   f"sortie:{sortie['id']}")
    assert refused.returncode == 1
    assert "fleet-hive sortie complete" in refused.stderr and refused.stderr.count("\n") == 1
    assert len(segment_lines(repo)) == lines, "nothing written"
    shown = json.loads(_cli(repo, "--json", "sortie", "show", sortie["id"]).stdout)
    assert shown["status"] == "pending"

    checked = _cli(repo, "verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    git(repo, "add", ".fleet")
    done = git(repo, "commit", "-q", "-m", "a note", check=False)
    assert done.returncode == 0, done.stderr
    (repo / "code.py").write_text("x = 1\n")
    git(repo, "add", "code.py")
    assert git(repo, "commit", "-q", "-m", "later work", check=False).returncode == 0
