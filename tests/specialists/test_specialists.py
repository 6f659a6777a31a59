"""Specialists: register (idempotent), heartbeat (coalesced), list, capable (least loaded
first), silent (threshold), and how status and recover report a silent one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.kernel.errors import InvalidInputError, NotFoundError
from fleet_hive.specialists import Specialists
from fleet_hive.specialists.model import HEARTBEAT_COALESCE
from tests.support import run_cli


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _service(hive, clock: Clock, claims=None, silent_after: float = 300.0) -> Specialists:
    return Specialists(lambda: hive.uow, hive.index, claims=claims or (lambda: {}),
                       silent_after=lambda: silent_after, now=clock)


def test_register_is_idempotent_and_replaces_capabilities(hive):
    s = hive.specialists.register("py-1", ["python", "tests", "python"])
    assert s.capabilities == ["python", "tests"] and s.status == "active" and s.load == 0
    assert set(s.to_dict()) >= {"name", "capabilities", "status", "last_seen", "load",
                                "sorties"}
    again = hive.specialists.register("py-1", ["tests", "python"])
    assert again.capabilities == ["python", "tests"]
    types = [e.type for e in hive.events.query(stream="specialist:py-1")]
    assert types == ["specialist_registered", "specialist_heartbeat"]  # same: a heartbeat
    changed = hive.specialists.register("py-1", ["docs"])
    assert changed.capabilities == ["docs"]
    assert [s.name for s in hive.specialists.list()] == ["py-1"]


def test_heartbeats_are_coalesced(hive):
    clock = Clock()
    svc = _service(hive, clock)
    svc.register("agent", ["python"])
    for _ in range(20):
        clock.t += 1
        svc.heartbeat("agent")
    assert len(hive.events.query(stream="specialist:agent")) == 2  # one beat after 15 s
    clock.t += HEARTBEAT_COALESCE
    seen = svc.heartbeat("agent").last_seen
    assert len(hive.events.query(stream="specialist:agent")) == 3
    assert seen == svc.get("agent").last_seen


def test_silent_after_the_threshold_and_active_again_after_a_heartbeat(hive):
    clock = Clock()
    svc = _service(hive, clock, silent_after=60)
    svc.register("a", ["python"])
    svc.register("b", ["python"])
    clock.t += 61
    svc.heartbeat("b")
    assert [s.name for s in svc.silent()] == ["a"]
    assert [s.name for s in svc.silent(120)] == []
    assert svc.get("a").status == "silent" and svc.get("b").status == "active"
    assert [s.name for s in svc.capable("python")] == ["b"]  # silent ones are not offered
    svc.heartbeat("a")
    assert svc.silent() == []


def test_capable_filters_by_kind_and_balances_by_load(hive):
    clock = Clock()
    held = {"py-b": ["s-1", "s-2"], "py-c": ["s-3"]}
    svc = _service(hive, clock, claims=lambda: held)
    for name, caps in [("py-a", ["python"]), ("py-b", ["python", "docs"]),
                       ("py-c", ["python"]), ("writer", ["docs"])]:
        svc.register(name, caps)
    assert [s.name for s in svc.capable("python")] == ["py-a", "py-c", "py-b"]
    assert [(s.name, s.load) for s in svc.capable("docs")] == [("writer", 0), ("py-b", 2)]
    assert [s.name for s in svc.capable(None)] == ["py-a", "writer", "py-c", "py-b"]
    assert [s.name for s in svc.capable("")] == [s.name for s in svc.capable(None)]
    assert svc.capable("rust") == []
    held["py-a"] = ["s-4", "s-5", "s-6"]
    assert next(s.name for s in svc.capable("python")) == "py-c"


def test_load_comes_from_the_sorties_claims(hive):
    hive.specialists.register("py-1", ["python"])
    m = hive.missions.create("m")
    a, b, c = (hive.sorties.add(m.id, f"s{i}").id for i in range(3))
    hive.sorties.claim(a, specialist="py-1")
    hive.sorties.claim(b, specialist="py-1")
    hive.sorties.claim(c, specialist="py-1")
    hive.sorties.start(c, force=True)
    hive.sorties.complete(c, force=True)
    s = hive.specialists.get("py-1")
    assert s.load == 2 and s.sorties == sorted([a, b])


@pytest.mark.parametrize("call, error", [
    (lambda h: h.specialists.register("two\nlines", []), InvalidInputError),
    (lambda h: h.specialists.register("", []), InvalidInputError),
    (lambda h: h.specialists.register("ok", ["bad cap"]), InvalidInputError),
    (lambda h: h.specialists.heartbeat("never-registered"), NotFoundError),
    (lambda h: h.specialists.get("nobody"), NotFoundError),
])
def test_bad_input_is_refused_and_nothing_is_written(hive, call, error):
    before = len(hive.events.query())
    with pytest.raises(error):
        call(hive)
    assert len(hive.events.query()) == before


def test_the_projection_is_the_fold_of_the_log(hive):
    from fleet_hive.app.verify import verify

    hive.specialists.register("a", ["python"])
    hive.specialists.register("b", ["docs"])
    assert not [p for p in verify(hive).problems if p.kind == "projection_mismatch"]
    hive.index.db.execute("UPDATE specialists SET capabilities = '[]'")
    hive.index.db.commit()
    assert any(p.kind == "projection_mismatch" for p in verify(hive).problems)
    verify(hive, repair=True)
    assert hive.specialists.get("a").capabilities == ["python"]


def _silent_config(repo: Path, value: str) -> None:
    config = repo / ".fleet" / "config.yaml"
    text = config.read_text()
    config.write_text(text.replace("specialist_silent_after: 5m",
                                   f"specialist_silent_after: {value}"))


def test_status_reports_a_silent_specialist_and_recover_requeues_its_sortie(repo: Path):
    hive = fleet_hive.init(repo, actor="lead")
    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "work", files=["src/a.py"])
    hive.specialists.register("py-1", ["python"])
    hive.sorties.claim(s.id, specialist="py-1")
    hive.close()
    _silent_config(repo, "1s")
    import time

    time.sleep(1.5)
    r = run_cli("-C", str(repo), "status", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)["specialists"]
    assert [x["name"] for x in report["silent"]] == ["py-1"]
    assert report["silent"][0]["sorties"] == [s.id] and "fleet-hive recover" in report["hint"]
    human = run_cli("-C", str(repo), "status")
    assert "specialist py-1 silent" in human.stderr or "1 specialist silent" in human.stderr
    plan = json.loads(run_cli("-C", str(repo), "recover", "--json").stdout)
    assert [x["name"] for x in plan["silent_specialists"]] == ["py-1"]
    (action,) = [a for mm in plan["missions"] for a in mm["actions"]]
    assert action["sortie_id"] == s.id and action["silent_specialist"] == "py-1"
    done = json.loads(run_cli("-C", str(repo), "recover", "--apply", "--json").stdout)
    assert done["done"] == 1
    with fleet_hive.open(repo) as h:
        again = h.sorties.get(s.id)
        assert again.status == "pending" and again.claimed_by is None
        assert h.reservations.list(holder="py-1") == []


def test_the_cli(hive, repo: Path):
    def cli(*args: str) -> tuple[int, object]:
        r = run_cli("-C", str(repo), *args, "--json")
        return r.returncode, json.loads(r.stdout)

    code, s = cli("specialist", "register", "py-1", "--capability", "python",
                  "--capability", "tests")
    assert code == 0 and s["capabilities"] == ["python", "tests"]
    code, listed = cli("specialist", "list")
    assert [x["name"] for x in listed] == ["py-1"] and listed[0]["status"] == "active"
    code, beat = cli("specialist", "heartbeat", "py-1")
    assert code == 0 and beat["name"] == "py-1"
    code, err = cli("specialist", "heartbeat", "nobody")
    assert code == 1 and err["error"]["code"] == "not_found"
    code, err = cli("specialist", "register", "x" * 201)
    assert code == 1 and err["error"]["code"] == "invalid_input"


def test_a_bad_silent_after_setting_is_reported_by_status_not_raised(hive, repo: Path):
    hive.specialists.register("py-1", ["python"])
    _silent_config(repo, "soon")
    r = run_cli("-C", str(repo), "status", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)["specialists"]
    assert "specialist_silent_after" in report["error"] and report["silent"] == []


def test_any_actor_name_is_a_specialist_name(hive):
    """Dispatch registers its workers as ``ACTOR/wN`` and actors may hold spaces: such a
    name gets a stream of its own (a slug and a hash), and two names never share one."""
    from fleet_hive.specialists.model import stream_key

    for name in ("Ada Lovelace/w1", "Ada Lovelace/w2", "lead/w1", "ünï cödé"):
        s = hive.specialists.register(name, ["python"])
        assert s.name == name and hive.specialists.get(name).capabilities == ["python"]
    assert stream_key("plain-name") == "plain-name"
    keys = {stream_key(n) for n in ("Ada Lovelace/w1", "Ada Lovelace/w2", "ünï cödé")}
    assert len(keys) == 3
    assert sorted(s.name for s in hive.specialists.list()) == sorted(
        ["Ada Lovelace/w1", "Ada Lovelace/w2", "lead/w1", "ünï cödé"])
    hive.index.rebuild()
    assert len(hive.specialists.list()) == 4
