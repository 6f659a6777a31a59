"""Missions and sorties through the library (``hive.missions`` / ``hive.sorties``) on real
repositories: transitions, refusals that write nothing, dependencies, ready, ids,
tombstones, snapshots and ``verify``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

import fleet_hive
from fleet_hive.app.verify import verify
from fleet_hive.kernel.errors import (
    ConflictError,
    FleetHiveError,
    InvalidInputError,
    NotFoundError,
    TransitionError,
)
from tests.support import mission_lines, segment_lines
from tests.support.missions import (
    MISSION_ALLOWED,
    MISSION_KEYS,
    MISSION_PATHS,
    SORTIE_ALLOWED,
    SORTIE_KEYS,
    SORTIE_PATHS,
    fleet_files,
)


def do_sortie(hive: Any, action: str, sortie_id: str, who: str = "worker") -> Any:
    if action == "claim":
        return hive.sorties.claim(sortie_id, specialist=who)
    if action == "progress":
        return hive.sorties.progress(sortie_id, 30, note="n")
    return getattr(hive.sorties, action)(sortie_id, reason=f"{action} reason")


@pytest.mark.parametrize("action", sorted(SORTIE_ALLOWED))
@pytest.mark.parametrize("status", sorted(SORTIE_PATHS))
def test_every_sortie_transition(hive, repo: Path, action: str, status: str):
    m = hive.missions.create("M")
    s = hive.sorties.add(m.id, "S")
    for step in SORTIE_PATHS[status]:
        do_sortie(hive, step, s.id)
    assert hive.sorties.get(s.id).status == status
    before = fleet_files(repo)
    lines = len(mission_lines(repo))
    target = SORTIE_ALLOWED[action].get(status)
    if target is None:
        with pytest.raises((TransitionError, ConflictError)) as info:
            do_sortie(hive, action, s.id, who="someone-else")
        assert info.value.exit_code == 3
        assert fleet_files(repo) == before, "a refused transition writes nothing"
        assert hive.sorties.get(s.id).status == status
    else:
        got = do_sortie(hive, action, s.id, who="someone-else")
        assert got.status == target == hive.sorties.get(s.id).status
        assert len(mission_lines(repo)) == lines + 1  # (checkpoints it triggers aside)
        hive.settle()  # as a command does when it ends
        snapshot = (repo / ".fleet" / "missions" / f"{m.id}.yaml").read_text()
        assert f"status: {target}" in snapshot


@pytest.mark.parametrize("action", sorted(MISSION_ALLOWED))
@pytest.mark.parametrize("status", sorted(MISSION_PATHS))
def test_every_mission_transition(hive, repo: Path, action: str, status: str):
    m = hive.missions.create("M")
    for step in MISSION_PATHS[status]:
        getattr(hive.missions, step)(m.id)
    before = fleet_files(repo)
    target = MISSION_ALLOWED[action].get(status)
    if target is None:
        with pytest.raises(TransitionError) as info:
            getattr(hive.missions, action)(m.id, reason="why")
        assert info.value.exit_code == 3
        assert fleet_files(repo) == before
    else:
        got = getattr(hive.missions, action)(m.id, reason="why")
        assert got.status == target and got.reason == "why"
        assert len(mission_lines(repo)) == len(MISSION_PATHS[status]) + 2


def test_json_shapes(hive):
    m = hive.missions.create("Auth", description="d", priority=1, labels=["b", "a", "a"])
    s = hive.sorties.add(m.id, "models", files=["./src/auth/**"], specialist="python",
                         priority=0)
    mj = hive.missions.get(m.id).to_json()
    assert set(mj) >= MISSION_KEYS and "sorties" in mj
    assert mj["labels"] == ["a", "b"] and mj["priority"] == 1 and mj["status"] == "pending"
    (sj,) = mj["sorties"]
    assert set(sj) >= SORTIE_KEYS
    assert sj == hive.sorties.get(s.id).to_json()
    assert (sj["mission_id"], sj["files"], sj["specialist"], sj["priority"]) == \
        (m.id, ["src/auth/**"], "python", 0)
    assert sj["created_at"].endswith("Z") and sj["depends_on"] == [] and sj["progress"] == 0
    assert "sorties" not in hive.missions.list()[0].to_json()


def test_complete_mission_with_open_sorties_needs_force(hive, repo: Path):
    m = hive.missions.create("M")
    hive.missions.start(m.id)
    a = hive.sorties.add(m.id, "a")
    b = hive.sorties.add(m.id, "b")
    before = fleet_files(repo)
    with pytest.raises(TransitionError, match="2 sortie\\(s\\) still open") as info:
        hive.missions.complete(m.id)
    assert info.value.exit_code == 3 and fleet_files(repo) == before
    for step in ("claim", "start", "complete"):
        do_sortie(hive, step, a.id)
    hive.sorties.cancel(b.id)
    done = hive.missions.complete(m.id)
    assert done.status == "completed" and not done.forced and done.progress == 100
    hive.missions.reopen(m.id)
    hive.sorties.add(m.id, "c")
    forced = hive.missions.complete(m.id, force=True)
    assert forced.status == "completed" and forced.forced and forced.progress == 50


def test_progress_follows_sortie_completion(hive):
    m = hive.missions.create("M")
    ids = [hive.sorties.add(m.id, f"s{i}").id for i in range(4)]
    assert hive.missions.get(m.id).progress == 0
    for step in ("claim", "start", "complete"):
        do_sortie(hive, step, ids[0])
    assert hive.missions.get(m.id).progress == 25
    hive.sorties.cancel(ids[1])  # cancelled sorties do not count
    got = hive.missions.get(m.id)
    assert got.progress == 33 and got.sortie_counts == {"cancelled": 1, "completed": 1,
                                                         "pending": 2}
    hive.sorties.delete(ids[2])
    assert hive.missions.list()[0].progress == 50


def test_dependencies_and_ready(hive, repo: Path):
    m = hive.missions.create("M")
    a = hive.sorties.add(m.id, "a", priority=3)
    b = hive.sorties.add(m.id, "b", after=[a.id[:5]], priority=0)
    c = hive.sorties.add(m.id, "c", priority=1)
    d = hive.sorties.add(m.id, "d", priority=3)
    assert [s.id for s in hive.ready()] == [c.id, a.id, d.id]  # priority 0 first, then age
    assert hive.sorties.get(b.id).blocked_by == [a.id]
    assert [s.id for s in hive.ready(limit=1)] == [c.id]
    for step in ("claim", "start"):
        do_sortie(hive, step, a.id)
    assert [s.id for s in hive.ready()] == [c.id, d.id]  # claimed: not ready
    with pytest.raises(TransitionError, match="waits for"):
        hive.sorties.claim(b.id, specialist="x")
    hive.sorties.complete(a.id)
    assert [s.id for s in hive.ready()] == [b.id, c.id, d.id]
    assert hive.sorties.get(b.id).blocked_by == []
    assert [s.id for s in hive.sorties.list(ready=True, offset=1)] == [c.id, d.id]
    # a deleted dependency no longer blocks; a cancelled one does
    e = hive.sorties.add(m.id, "e", after=[c.id])
    f = hive.sorties.add(m.id, "f", after=[d.id])
    hive.sorties.delete(c.id)
    hive.sorties.cancel(d.id)
    ready = [s.id for s in hive.ready()]
    assert e.id in ready and f.id not in ready
    assert hive.sorties.get(f.id).blocked_by == [d.id]
    # sorties of a cancelled mission are not ready
    other = hive.missions.create("other")
    g = hive.sorties.add(other.id, "g")
    assert g.id in [s.id for s in hive.ready()]
    assert [s.id for s in hive.ready(mission=other.id)] == [g.id]
    hive.missions.cancel(other.id)
    assert g.id not in [s.id for s in hive.ready()]


def test_bad_dependencies_are_refused_and_write_nothing(hive, repo: Path):
    m = hive.missions.create("M")
    other = hive.missions.create("other")
    a = hive.sorties.add(m.id, "a")
    b = hive.sorties.add(m.id, "b", after=[a.id])
    c = hive.sorties.add(m.id, "c", after=[b.id])
    x = hive.sorties.add(other.id, "x")
    before = fleet_files(repo)
    with pytest.raises(NotFoundError, match="no sortie matches 's-nothere'"):
        hive.sorties.add(m.id, "n", after=["s-nothere"])
    with pytest.raises(InvalidInputError, match=f"belongs to mission {other.id}"):
        hive.sorties.add(m.id, "n", after=[x.id])
    with pytest.raises(InvalidInputError, match="dependency cycle: ") as info:
        hive.sorties.update(a.id, after=[c.id])
    assert info.value.exit_code == 1
    assert f"{a.id} -> {c.id} -> {b.id} -> {a.id}" in info.value.message
    with pytest.raises(InvalidInputError, match="itself"):
        hive.sorties.update(a.id, after=[a.id])
    assert fleet_files(repo) == before
    # replacing and clearing dependencies works
    assert hive.sorties.update(c.id, after=[a.id]).depends_on == [a.id]
    assert hive.sorties.update(c.id, after=[]).depends_on == []


@pytest.mark.parametrize("call, error, message", [
    (lambda h, m: h.missions.create(""), InvalidInputError, "title must not be empty"),
    (lambda h, m: h.missions.create("t", priority=7), InvalidInputError, "priority"),
    (lambda h, m: h.missions.create("t", labels=["a b"]), InvalidInputError, "label"),
    (lambda h, m: h.missions.update(m, priority=-1), InvalidInputError, "priority"),
    (lambda h, m: h.missions.update(m), InvalidInputError, "nothing to update"),
    (lambda h, m: h.missions.get("m-zzzzzzzzzz"), NotFoundError, "no mission matches"),
    (lambda h, m: h.missions.get("!!"), NotFoundError, "no mission matches"),
    (lambda h, m: h.missions.start(""), InvalidInputError, "id is required"),
    (lambda h, m: h.sorties.add(m, "  "), InvalidInputError, "title must not be empty"),
    (lambda h, m: h.sorties.add(m, "t", priority=5), InvalidInputError, "priority"),
    (lambda h, m: h.sorties.add(m, "t", files=["../x"]), InvalidInputError, "file pattern"),
    (lambda h, m: h.sorties.add("m-nope", "t"), NotFoundError, "no mission matches"),
    (lambda h, m: h.sorties.claim("s-nope", specialist="x"), NotFoundError, "no sortie"),
    (lambda h, m: h.sorties.claim(h.sorties.list()[0].id, specialist=" "), InvalidInputError,
     "specialist must not be empty"),
    (lambda h, m: h.sorties.progress(h.sorties.list()[0].id, 101), InvalidInputError,
     "percent"),
])
def test_bad_input_is_refused_and_writes_nothing(hive, repo: Path, call, error, message):
    m = hive.missions.create("M")
    hive.sorties.add(m.id, "s")
    before = fleet_files(repo)
    with pytest.raises(error, match=message) as info:
        call(hive, m.id)
    assert (info.value.exit_code == 1 and info.value.hint != "") or error is InvalidInputError
    assert fleet_files(repo) == before


def test_unique_prefixes_and_ambiguity(hive, repo: Path):
    ids = [hive.missions.create(f"m{i}").id for i in range(40)]  # 32 first characters
    by_first: dict[str, list[str]] = {}
    for i in ids:
        by_first.setdefault(i[2], []).append(i)
    shared = next(v for v in by_first.values() if len(v) > 1)
    before = fleet_files(repo)
    with pytest.raises(InvalidInputError) as info:
        hive.missions.start(shared[0][:3])
    assert info.value.code == "ambiguous_id"
    assert all(i in info.value.message for i in shared)
    assert fleet_files(repo) == before
    target = ids[0]
    unique = next(target[:k] for k in range(3, 15)
                  if sum(i.startswith(target[:k]) for i in ids) == 1)
    assert hive.missions.get(unique).id == target
    assert hive.missions.get(unique[2:].upper()).id == target  # without "m-", any case
    s = hive.sorties.add(unique, "s")
    assert hive.sorties.get(s.id[2:6]).id == s.id


def test_deletion_is_a_tombstone(hive, repo: Path):
    m = hive.missions.create("M")
    a = hive.sorties.add(m.id, "a")
    b = hive.sorties.add(m.id, "b")
    snap = repo / ".fleet" / "missions" / f"{m.id}.yaml"
    hive.settle()
    assert b.id in snap.read_text()
    hive.sorties.delete(b.id, reason="dup")
    assert [s.id for s in hive.sorties.list()] == [a.id]
    hive.settle()
    assert b.id not in snap.read_text() and a.id in snap.read_text()
    with pytest.raises(NotFoundError, match="was deleted"):
        hive.sorties.get(b.id)
    with pytest.raises(NotFoundError, match="was deleted"):
        hive.sorties.start(b.id)
    assert [e.type for e in hive.events.by_stream(f"sortie:{b.id}")] == \
        ["sortie_added", "sortie_deleted"]
    hive.missions.delete(m.id)
    assert hive.missions.list() == [] and hive.sorties.list() == [] and hive.ready() == []
    hive.settle()
    assert not snap.exists()
    with pytest.raises(NotFoundError, match="was deleted"):
        hive.sorties.get(a.id)  # gone with its mission
    with pytest.raises(NotFoundError, match="was deleted"):
        hive.missions.delete(m.id)
    assert len(hive.events.by_stream(f"mission:{m.id}")) == 2
    assert verify(hive).ok


def test_lists_filter_and_page(hive):
    ms = [hive.missions.create(f"m{i}", priority=i % 3, labels=["even" if i % 2 == 0 else "odd",
                                                                 "all"]) for i in range(6)]
    hive.missions.start(ms[1].id)
    order = [m.id for m in hive.missions.list()]
    assert order == [ms[0].id, ms[3].id, ms[1].id, ms[4].id, ms[2].id, ms[5].id]
    assert [m.id for m in hive.missions.list(limit=2, offset=1)] == order[1:3]
    assert [m.id for m in hive.missions.list(status="in_progress")] == [ms[1].id]
    assert {m.id for m in hive.missions.list(label="even")} == {ms[0].id, ms[2].id, ms[4].id}
    assert {m.id for m in hive.missions.list(label=["odd", "all"])} == \
        {ms[1].id, ms[3].id, ms[5].id}
    assert hive.missions.list(label=["odd", "even"]) == []
    with pytest.raises(InvalidInputError):
        hive.missions.list(status="bogus")
    with pytest.raises(InvalidInputError):
        hive.missions.list(limit=-1)
    s1 = hive.sorties.add(ms[0].id, "a")
    s2 = hive.sorties.add(ms[1].id, "b")
    hive.sorties.claim(s2.id, specialist="w")
    assert [s.id for s in hive.sorties.list(mission=ms[1].id)] == [s2.id]
    assert [s.id for s in hive.sorties.list(status="assigned")] == [s2.id]
    assert [s.id for s in hive.sorties.list(status=["assigned", "pending"])] == [s1.id, s2.id]


def test_update_records_only_changes(hive, repo: Path):
    m = hive.missions.create("M", labels=["x"])
    n = len(segment_lines(repo))
    assert hive.missions.update(m.id, title="M").title == "M"
    assert len(segment_lines(repo)) == n  # nothing changed, nothing written
    got = hive.missions.update(m.id, title="New", labels=["y", "z"], description="long\ntext")
    assert (got.title, got.labels, got.description) == ("New", ["y", "z"], "long\ntext")
    s = hive.sorties.add(m.id, "s", files=["a.py"])
    got = hive.sorties.update(s.id, files=["b/**", "c.py"], priority=4, specialist="go")
    assert (got.files, got.priority, got.specialist) == (["b/**", "c.py"], 4, "go")


def test_add_many_is_one_batch_with_plan_indices(hive, repo: Path):
    m = hive.missions.create("M")
    n = len(segment_lines(repo))
    made = hive.sorties.add_many(m.id, [{"title": "a"}, {"title": "b", "after": [0]},
                                        {"title": "c", "after": [0, 1]}])
    assert len(segment_lines(repo)) == n + 3
    assert made[2].depends_on == [made[0].id, made[1].id]
    with pytest.raises(InvalidInputError):
        hive.sorties.add_many(m.id, [{"title": "a"}, {"title": ""}])
    assert len(segment_lines(repo)) == n + 3  # all or nothing


def test_create_with_sorties_is_one_write(hive, repo: Path):
    n = len(segment_lines(repo))
    m = hive.missions.create("planned", sorties=[{"title": "a", "files": ["src/**"]},
                                                 {"title": "b", "after": [0]}])
    assert len(segment_lines(repo)) == n + 3
    a, b = m.sorties
    assert (a.files, b.depends_on) == (["src/**"], [a.id])
    with pytest.raises(InvalidInputError):  # a forward index: nothing at all is created
        hive.missions.create("bad", sorties=[{"title": "a", "after": [1]}, {"title": "b"}])
    assert len(segment_lines(repo)) == n + 3
    assert [x.title for x in hive.missions.list()] == ["planned"]


def test_create_records_the_callers_events_in_the_same_write(hive, repo: Path):
    from fleet_hive.index.unit_of_work import NewEvent

    seen = []

    def plan(mission_id, sortie_ids):
        seen.append((mission_id, sortie_ids))
        return [NewEvent("note_added", f"plan:{mission_id}", {"text": " ".join(sortie_ids)})]

    m = hive.missions.create("planned", sorties=[{"title": "a"}, {"title": "b"}], also=plan)
    assert seen == [(m.id, [s.id for s in m.sorties])]
    (note,) = hive.events.by_stream(f"plan:{m.id}")
    assert note.data["text"] == " ".join(s.id for s in m.sorties)
    created = hive.events.by_stream(f"mission:{m.id}")[0]
    assert note.seq == created.seq + 3  # the same batch: mission, two sorties, the plan


def test_claim_is_idempotent_for_the_same_specialist(hive, repo: Path):
    m = hive.missions.create("M")
    s = hive.sorties.add(m.id, "s")
    hive.sorties.claim(s.id, specialist="w1")
    n = len(segment_lines(repo))
    assert hive.sorties.claim(s.id, specialist="w1").claimed_by == "w1"
    assert len(segment_lines(repo)) == n
    with pytest.raises(ConflictError, match="already claimed by w1") as info:
        hive.sorties.claim(s.id, specialist="w2")
    assert info.value.exit_code == 3 and info.value.code == "already_claimed"
    hive.sorties.fail(s.id, reason="flaky")
    retried = hive.sorties.retry(s.id)
    assert (retried.status, retried.claimed_by, retried.retries) == ("pending", None, 1)
    assert hive.sorties.claim(s.id, specialist="w2").claimed_by == "w2"


def test_events_carry_prev_and_correlation(hive):
    m = hive.missions.create("M")
    s = hive.sorties.add(m.id, "s")
    hive.sorties.claim(s.id, specialist="w")
    added, claimed = hive.events.by_stream(f"sortie:{s.id}")
    assert claimed.data["prev"] == added.id and claimed.data["merged"] == []
    assert added.correlation_id == claimed.correlation_id == m.id
    assert {e.stream for e in hive.events.by_correlation(m.id)} == \
        {f"mission:{m.id}", f"sortie:{s.id}"}


# -- snapshots and verify ------------------------------------------------------------------
def build(hive) -> str:
    m = hive.missions.create("Snap", description="two\nlines", labels=["l"], priority=0)
    a = hive.sorties.add(m.id, "a", files=["src/**"], specialist="py")
    b = hive.sorties.add(m.id, "b: with colon", after=[a.id])
    for step in ("claim", "start"):
        do_sortie(hive, step, a.id)
    hive.sorties.progress(a.id, 40, note="half")
    hive.sorties.update(b.id, description="x" * 300)
    hive.settle()  # the snapshots, as a command leaves them when it ends
    return m.id


def test_snapshot_is_deterministic_readable_yaml(hive, repo: Path):
    mission_id = build(hive)
    path = repo / ".fleet" / "missions" / f"{mission_id}.yaml"
    first = path.read_bytes()
    assert b"generated" not in first.lower()
    doc = YAML(typ="safe").load(first)
    m = hive.missions.get(mission_id)
    assert list(doc)[:4] == ["id", "title", "description", "status"]
    assert doc["description"] == "two\nlines" and doc["progress"] == m.progress == 0
    assert [s["id"] for s in doc["sorties"]] == [s.id for s in m.sorties]
    assert doc["sorties"][1]["title"] == "b: with colon"
    assert doc["sorties"][0]["progress_note"] == "half"
    assert "two\n  lines" in first.decode(), "multi-line text is a literal block"
    # regenerating from scratch (no cache), later, gives the same bytes
    path.unlink()
    for cache in (repo / ".fleet" / ".cache" / "snapshots").glob("*.json"):
        cache.unlink()
    assert hive.missions.refresh_snapshots() == 1
    assert path.read_bytes() == first
    # a rebuilt index gives the same bytes too
    hive.index.rebuild()
    hive.missions.refresh_snapshots()
    assert path.read_bytes() == first


def test_verify_reports_and_repairs_snapshots(hive, repo: Path):
    mission_id = build(hive)
    other = hive.missions.create("other").id
    hive.settle()
    missions = repo / ".fleet" / "missions"
    good = (missions / f"{mission_id}.yaml").read_bytes()
    assert verify(hive).ok
    (missions / f"{mission_id}.yaml").write_bytes(good.replace(b"status: in_progress",
                                                               b"status: completed"))
    (missions / f"{other}.yaml").unlink()
    (missions / "m-000000000000.yaml").write_text("id: m-000000000000\n")
    report = verify(hive)
    assert not report.ok
    problems = sorted((p.kind, p.path, p.severity) for p in report.problems)
    assert problems == sorted([
        ("snapshot_mismatch", f".fleet/missions/{mission_id}.yaml", "error"),
        ("snapshot_mismatch", f".fleet/missions/{other}.yaml", "error"),
        ("snapshot_mismatch", ".fleet/missions/m-000000000000.yaml", "error"),
    ])
    lines = segment_lines(repo)
    repaired = verify(hive, repair=True)
    assert repaired.ok and {p.severity for p in repaired.problems} == {"repaired"}
    assert segment_lines(repo) == lines, "repair never touches the log"
    assert (missions / f"{mission_id}.yaml").read_bytes() == good
    assert (missions / f"{other}.yaml").exists()
    assert not (missions / "m-000000000000.yaml").exists()
    assert verify(hive).problems == []


def test_verify_checks_the_index_tables_against_the_log(hive, repo: Path):
    mission_id = build(hive)
    hive.index.close()
    db = sqlite3.connect(repo / ".fleet" / ".cache" / "index.sqlite")
    db.execute("UPDATE missions SET doc = json_set(doc, '$.title', 'forged') WHERE id = ?",
               (mission_id,))
    db.commit()
    db.close()
    assert hive.missions.get(mission_id).title == "forged"
    report = verify(hive)
    assert [p.kind for p in report.problems] == ["projection_mismatch"]
    assert verify(hive, repair=True).ok
    assert hive.missions.get(mission_id).title == "Snap"
    assert verify(hive).problems == []


def test_status_report(hive):
    from fleet_hive.app.status import status_report

    m = hive.missions.create("M")
    a = hive.sorties.add(m.id, "a")
    b = hive.sorties.add(m.id, "b", after=[a.id])
    c = hive.sorties.add(m.id, "c")
    for step in ("claim", "start"):
        do_sortie(hive, step, a.id)
        do_sortie(hive, step, c.id)
    hive.sorties.block(c.id, reason="needs API key")
    report = status_report(hive)
    assert set(report) >= {"missions", "active_sorties", "blocked", "conflicts",
                           "reservations", "index"}
    assert [x["id"] for x in report["active_sorties"]] == [a.id]
    blocked = {x["id"]: x for x in report["blocked"]}
    assert blocked[b.id]["blocked_by"] == [a.id]
    assert blocked[c.id]["status"] == "blocked" and blocked[c.id]["reason"] == "needs API key"
    assert report["conflicts"] == [] and report["index"]["fresh"] is True
    assert report["reservations"] == []
    hive.reservations.acquire(["src/auth/**"], holder="w1", ttl=600, reason="models")
    (held,) = status_report(hive)["reservations"]
    assert (held["path"], held["holder"], held["mode"]) == ("src/auth/**", "w1", "exclusive")


def test_every_error_is_a_fleet_hive_error(hive):
    with pytest.raises(FleetHiveError):
        hive.sorties.get("nope")
    assert fleet_hive.open(hive.root).missions.list() == []
