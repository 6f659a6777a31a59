"""A unique id prefix wherever an id is accepted (issue 10, item 12): ``events list
--stream mission:<prefix>`` / ``sortie:<prefix>`` and ``--correlation``, ``history
--mission``, ``sortie claim --next --mission``; an ambiguous prefix is an error listing
the matches."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

import fleet_hive
from tests.support import git, run_cli


def fleet(repo: Path, *args: str, code: int = 0) -> Any:
    got = run_cli("-C", str(repo), "--actor", "ada", "--json", *args)
    assert got.returncode == code, (args, got.stdout, got.stderr)
    return json.loads(got.stdout)


@pytest.fixture
def fleet_repo(repo: Path) -> Path:
    assert run_cli("-C", str(repo), "init").returncode == 0
    return repo


def test_events_list_resolves_the_id_of_a_mission_or_sortie_stream(fleet_repo: Path):
    m = fleet(fleet_repo, "mission", "create", "M")["id"]
    s = fleet(fleet_repo, "sortie", "add", m, "S")["id"]
    fleet(fleet_repo, "mission", "update", m, "--title", "M2")
    full = fleet(fleet_repo, "events", "list", "--stream", f"mission:{m}")
    assert [e["type"] for e in full] == ["mission_created", "mission_updated"]
    for short in (m[2:7], m[:7], m[2:7].upper()):  # without or with m-, any case
        assert fleet(fleet_repo, "events", "list", "--stream", f"mission:{short}") == full
    (added,) = fleet(fleet_repo, "events", "list", "--stream", f"sortie:{s[2:7]}")
    assert added["stream"] == f"sortie:{s}"
    by_mission = fleet(fleet_repo, "events", "list", "--correlation", m[:7])
    assert {e["stream"] for e in by_mission} == {f"mission:{m}", f"sortie:{s}"}
    fleet(fleet_repo, "mission", "delete", m)  # a deleted mission's events are still its own
    assert len(fleet(fleet_repo, "events", "list", "--stream", f"mission:{m[2:7]}")) == 3
    # a stream that names no mission is taken as given
    assert fleet(fleet_repo, "events", "list", "--stream", "mission:m-zzzzzzzz") == []


def test_an_ambiguous_prefix_is_an_error_listing_the_matches(fleet_repo: Path):
    by_first: dict[str, list[str]] = defaultdict(list)
    with fleet_hive.open(fleet_repo, actor="ada") as hive:
        while not any(len(ids) > 1 for ids in by_first.values()):
            m = hive.missions.create("M").id
            by_first[m[2]].append(m)
    first, ids = next((k, v) for k, v in by_first.items() if len(v) > 1)
    for args in (["events", "list", "--stream", f"mission:{first}"],
                 ["events", "list", "--correlation", f"m-{first}"],
                 ["sortie", "claim", "--next", "--mission", first]):
        err = fleet(fleet_repo, *args, code=1)["error"]
        assert err["code"] == "ambiguous_id", (args, err)
        assert all(i in err["message"] for i in ids), err


def test_history_accepts_a_mission_id_prefix(fleet_repo: Path):
    git(fleet_repo, "add", ".fleet")
    git(fleet_repo, "commit", "-q", "-m", "fleet")
    base = git(fleet_repo, "rev-parse", "HEAD").stdout.strip()
    m = fleet(fleet_repo, "mission", "create", "Ship it")["id"]
    fleet(fleet_repo, "mission", "create", "Another")
    git(fleet_repo, "add", ".fleet")
    git(fleet_repo, "commit", "-q", "-m", "missions")
    for short in (m[2:7], m[:7]):
        got = fleet(fleet_repo, "history", "--since", base, "--mission", short)
        assert got["mission"] == m and [x["id"] for x in got["missions"]] == [m]
