"""Reading checkpoints stays light: ``checkpoint list`` and ``show`` load no pydantic,
ruamel.yaml or jinja2 (the file is read back without a YAML parser), and no git."""

from __future__ import annotations

import json

import pytest

from tests.support import modules_loaded_by
from tests.support.checkpoints import started_mission

HEAVY = {"pydantic", "ruamel", "jinja2", "dulwich"}


@pytest.mark.parametrize("command", ["list", "show"])
def test_reading_checkpoints_loads_nothing_heavy(repo, hive, command):
    mission_id, _ = started_mission(hive, 3)
    c = hive.checkpoints.create(mission_id)
    hive.index.catch_up()
    target = mission_id if command == "list" else c.id
    loaded, result = modules_loaded_by(repo, "checkpoint", command, target, "--json")
    assert json.loads(result.stdout)  # it answered
    top = {m.split(".")[0] for m in loaded}
    assert top.isdisjoint(HEAVY), sorted(top & HEAVY)
    assert "fleet_hive.git" not in loaded


def _loaded_by(repo, *args: str) -> tuple[str, set[str]]:
    """What ``fleet-hive -C repo ARGS`` printed and the modules it loaded."""
    loaded, result = modules_loaded_by(repo, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, loaded


#: What ``context`` never needs: the write path's parsers and locks, click (the fast path
#: parses it), orjson (its floats are written by the standard library), git's config.
CONTEXT_NEVER = HEAVY - {"jinja2"} | {"click", "orjson", "filelock", "configparser"}


def test_context_loads_only_what_it_serves(repo, hive):
    mission_id, _ = started_mission(hive, 6)  # claimed: reservations, with float ttls
    hive.index.catch_up()
    miss, loaded = _loaded_by(repo, "context", mission_id)
    top = {m.split(".")[0] for m in loaded}
    assert "## " in miss or mission_id in miss
    assert top.isdisjoint(CONTEXT_NEVER), sorted(top & CONTEXT_NEVER)
    assert "fleet_hive.git" not in loaded
    hit, loaded = _loaded_by(repo, "context", mission_id)  # the brief remembered
    assert hit == miss
    top = {m.split(".")[0] for m in loaded}
    assert top.isdisjoint(CONTEXT_NEVER | HEAVY), sorted(top & (CONTEXT_NEVER | HEAVY))
    out, loaded = _loaded_by(repo, "context", mission_id, "--format", "json")
    assert json.loads(out)["reservations"][0]["ttl"] == 3600.0
    top = {m.split(".")[0] for m in loaded}
    assert top.isdisjoint(CONTEXT_NEVER | HEAVY), sorted(top & (CONTEXT_NEVER | HEAVY))
    assert "fleet_hive.git" not in loaded
