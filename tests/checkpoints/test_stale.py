"""Stale work: the boundaries of ``stale_after``, what counts as activity, durations, the
setting, and ``status``/``ready`` mentioning it on every run.

The boundary tests move ``now`` instead of sleeping: a sortie's last activity is a time in
the log, and ``find_stale`` takes the current time as an argument.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from fleet_hive.app.plain_settings import plain_setting
from fleet_hive.checkpoints.stale import DEFAULT_STALE_AFTER, find_stale, format_duration
from fleet_hive.kernel.clock import epoch, parse_duration
from fleet_hive.kernel.errors import InvalidInputError
from tests.support import modules_loaded_by, run_cli


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1w", 604800),
    ("1h30m", 5400), ("1.5h", 5400), ("45", 45), (" 2H ", 7200), (10, 10),
])
def test_durations(text: Any, seconds: float):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "-5m", "5 minutes", "m", "1y", "1h 30m",
                                  "nan", None, True, [1]])
def test_bad_durations_are_refused(text: Any):
    with pytest.raises(InvalidInputError):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"), (3660, "1h 1m"),
    (86400, "1d"), (90000, "1d 1h")])
def test_format_duration(seconds: float, text: str):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("config", "expected"), [
    (None, DEFAULT_STALE_AFTER),
    ("durability: fsync\n", DEFAULT_STALE_AFTER),
    ("stale_after: 2h\n", "2h"),
    ("stale_after: '45m'  # quoted, with a comment\n", "45m"),
    ('durability: none\nstale_after: "1d"\n', "1d"),
])
def test_the_setting_is_read_without_the_yaml_library(tmp_path: Path, config: str | None,
                                                       expected: str):
    path = tmp_path / "config.yaml"
    if config is not None:
        path.write_text(config)

    def load() -> str:
        raise AssertionError("the full configuration was loaded")

    assert plain_setting(path, "stale_after", DEFAULT_STALE_AFTER, load) == expected


def test_an_elaborate_setting_goes_through_the_configuration(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text("stale_after: &a 2h\n")
    assert plain_setting(path, "stale_after", DEFAULT_STALE_AFTER, lambda: "2h") == "2h"


def test_a_bad_setting_is_refused_by_the_configuration(hive, repo: Path):
    (repo / ".fleet" / "config.yaml").write_text("stale_after: soon\n")
    from fleet_hive.app.config import load_config

    with pytest.raises(InvalidInputError, match="stale_after"):
        load_config(repo / ".fleet" / "config.yaml")
    # a read does not fail on it: status reports it
    status = run_cli("-C", str(repo), "status", "--json")
    assert status.returncode == 0, status.stderr
    assert "invalid duration" in json.loads(status.stdout)["stale"]["error"]


def _started(hive: Any, title: str = "s", claimant: str | None = None) -> Any:
    m = hive.missions.create(f"mission of {title}")
    s = hive.sorties.add(m.id, title)
    hive.sorties.claim(s.id, specialist=claimant)
    return hive.sorties.start(s.id, force=claimant is not None)


def _stale(hive: Any, now: float, after: float = 60.0, **kw: Any) -> list[str]:
    return [s.id for s in find_stale(hive.index, now=now, stale_after=after, **kw)]


def test_the_boundary_and_activity_resetting_it(hive):
    s = _started(hive)
    last = epoch(s.updated_at)
    assert _stale(hive, last + 59.9) == []
    assert _stale(hive, last + 60.0) == []  # exactly stale_after: still fresh
    assert _stale(hive, last + 60.1) == [s.id]
    time.sleep(0.3)
    # progress is activity: the clock starts again from it
    s = hive.sorties.progress(s.id, 20, note="on it")
    again = epoch(s.updated_at)
    assert again > last + 0.25
    assert _stale(hive, last + 60.1) == []  # stale a moment ago, fresh again now
    assert _stale(hive, again + 59.9) == []
    assert _stale(hive, again + 60.1) == [s.id]
    (found,) = find_stale(hive.index, now=again + 90, stale_after=60)
    assert found.last_activity == s.updated_at and 89 < found.idle <= 90.001
    assert found.claimant == "tester" and "last event on sortie" in found.why


def test_a_claimed_sortie_never_started_goes_stale_too(hive):
    m = hive.missions.create("m")
    s = hive.sorties.claim(hive.sorties.add(m.id, "s").id)
    assert s.status == "assigned"
    assert _stale(hive, epoch(s.updated_at) + 61) == [s.id]


def test_activity_by_the_claimant_elsewhere_keeps_it_fresh(hive):
    s = _started(hive, "slow", claimant="w1")
    time.sleep(0.3)
    # someone else's activity does not count, even naming w1 in its data
    hive.events.append("note_added", stream="agent:w2", data={"text": '"actor":"w1"'},
                       actor="w2")
    (other,) = hive.events.query(stream="agent:w2")
    assert epoch(other.time) > epoch(s.updated_at) + 0.25
    assert _stale(hive, epoch(other.time) + 0.05, after=0.2) == [s.id]
    # the claimant writes a note on another stream (a heartbeat of sorts)
    hive.events.append("note_added", stream="agent:w1", data={"text": "still here"},
                       actor="w1")
    (note,) = hive.events.query(stream="agent:w1")
    assert _stale(hive, epoch(note.time) + 0.05, after=0.2) == []
    (found,) = find_stale(hive.index, now=epoch(note.time) + 0.3, stale_after=0.2)
    assert found.last_activity == note.time and "note_added by w1" in found.why


def test_work_on_another_sortie_by_the_same_claimant_keeps_both_fresh(hive):
    a = _started(hive, "a", claimant="w1")
    time.sleep(0.3)  # so that a's own last event is older than b's by more than 0.2 s
    b = hive.sorties.progress(_started(hive, "b", claimant="w1").id, 50, force=True)
    busy = epoch(b.updated_at)
    assert epoch(a.updated_at) < busy - 0.25
    assert _stale(hive, busy + 0.1, after=0.2) == []
    (found,) = find_stale(hive.index, now=busy + 0.1, stale_after=0.01,
                          mission_id=a.mission_id)
    assert found.id == a.id and found.last_activity == b.updated_at
    assert f"its other sortie {b.id}" in found.why
    assert sorted(_stale(hive, busy + 0.25, after=0.2)) == sorted([a.id, b.id])


def test_what_is_not_stale(hive):
    blocked = _started(hive, "blocked")
    hive.sorties.block(blocked.id, reason="waiting for review")
    done = _started(hive, "done")
    hive.sorties.complete(done.id)
    cancelled_mission = _started(hive, "in a cancelled mission")
    hive.missions.cancel(cancelled_mission.mission_id)
    deleted = _started(hive, "deleted")
    hive.sorties.delete(deleted.id)
    hive.sorties.add(hive.missions.create("pending").id, "never claimed")
    assert _stale(hive, time.time() + 86400) == []


def test_mission_and_only_filters(hive):
    a, b = _started(hive, "a"), _started(hive, "b")
    later = time.time() + 3600
    assert sorted(_stale(hive, later)) == sorted([a.id, b.id])
    assert _stale(hive, later, mission_id=a.mission_id) == [a.id]
    assert _stale(hive, later, only=[b.id]) == [b.id]


def _claim_and_wait(repo: Path) -> str:
    mission = json.loads(run_cli("-C", str(repo), "--json", "mission", "create", "m").stdout)
    sortie = json.loads(run_cli("-C", str(repo), "--json", "sortie", "add", mission["id"],
                                "s").stdout)
    assert run_cli("-C", str(repo), "--actor", "w1", "sortie", "claim",
                   sortie["id"]).returncode == 0
    (repo / ".fleet" / "config.yaml").write_text("stale_after: 1s\n")
    time.sleep(1.2)
    return str(sortie["id"])


def test_status_and_ready_mention_stale_work(hive, repo: Path):
    fresh = run_cli("-C", str(repo), "status")
    assert fresh.returncode == 0 and "stale" not in fresh.stderr
    sortie = _claim_and_wait(repo)
    for _ in range(2):  # on every run
        status = run_cli("-C", str(repo), "status")
        assert status.returncode == 0, status.stderr
        assert "1 sortie stale: fleet-hive recover" in status.stderr
        assert "stale" not in status.stdout
        ready = run_cli("-C", str(repo), "ready")
        assert "1 sortie stale: fleet-hive recover" in ready.stderr
    as_json = run_cli("-C", str(repo), "status", "--json")
    report = json.loads(as_json.stdout)
    for key in ("missions", "mission_counts", "active_sorties", "blocked", "conflicts",
                "reservations", "index", "integrity"):
        assert key in report  # the existing shape is kept
    stale = report["stale"]
    assert stale["count"] == 1 and stale["stale_after"] == "1s"
    assert stale["hint"] == "1 sortie stale: fleet-hive recover"
    assert [s["id"] for s in stale["sorties"]] == [sortie]
    assert stale["sorties"][0]["claimed_by"] == "w1"
    ready_json = run_cli("-C", str(repo), "ready", "--json")
    assert isinstance(json.loads(ready_json.stdout), list)  # still a list: hint on stderr
    assert "1 sortie stale: fleet-hive recover" in ready_json.stderr
    assert "1 sortie stale" not in as_json.stderr  # --json status: in the field only


def test_a_note_on_the_sorties_stream_is_activity_whoever_wrote_it(hive):
    s = _started(hive, "noted", claimant="w1")
    time.sleep(0.3)
    hive.events.append("note_added", stream=f"sortie:{s.id}", data={"text": "seen it"},
                       actor="reviewer")
    (note,) = hive.events.query(stream=f"sortie:{s.id}", type="note_added")
    assert _stale(hive, epoch(note.time) + 0.1, after=0.2) == []
    (found,) = find_stale(hive.index, now=epoch(note.time) + 0.3, stale_after=0.2)
    assert found.last_activity == note.time and "note_added by reviewer" in found.why



def test_notes_count_for_their_own_sortie_only_across_query_chunks(hive, monkeypatch):
    """The newest event of every stale-looking sortie's stream is read in chunks of
    ``_IN_CHUNK``: a note keeps exactly its own sortie fresh, wherever it falls."""
    from fleet_hive.checkpoints import stale

    monkeypatch.setattr(stale, "_IN_CHUNK", 3)
    m = hive.missions.create("many")
    ids = [hive.sorties.add(m.id, f"s{i}").id for i in range(8)]
    for i, sid in enumerate(ids):
        hive.sorties.claim(sid, specialist=f"w{i}")
        hive.sorties.start(sid, force=True)
    time.sleep(0.3)
    noted = {ids[1], ids[3], ids[7]}  # in the first, second and third chunk
    for sid in sorted(noted):
        hive.events.append("note_added", stream=f"sortie:{sid}", data={"text": "seen"},
                           actor="reviewer")
    last = max(e.time for e in hive.events.query(type="note_added"))
    assert set(_stale(hive, epoch(last) + 0.1, after=0.2)) == set(ids) - noted
    found = {s.id: s for s in find_stale(hive.index, now=epoch(last) + 0.3, stale_after=0.2)}
    assert set(found) == set(ids)
    assert all(("note_added by reviewer" in found[sid].why) == (sid in noted) for sid in ids)

HEAVY = ("pydantic", "ruamel", "jinja2", "dulwich")


@pytest.mark.parametrize(("argv", "not_loaded"), [
    (("ready", "--json"), ("reservations", "git")),
    (("status", "--json"), ("git",)),
    (("recover", "--json"), ("reservations", "git")),
])
def test_reads_with_stale_work_stay_light(hive, repo: Path, argv: tuple[str, ...],
                                          not_loaded: tuple[str, ...]):
    """With stale work to report (the slower path: the claimant's events are looked
    through), ``ready``, ``status`` and ``recover`` load no heavy library and no
    capability they do not serve."""
    _claim_and_wait(repo)
    loaded, result = modules_loaded_by(repo, *argv)
    assert json.loads(result.stdout) is not None
    assert "stale" in result.stdout or "stale" in result.stderr
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)
    ours = {m.split(".")[1] for m in loaded if m.startswith("fleet_hive.")}
    assert not ours & set(not_loaded), sorted(ours & set(not_loaded))
