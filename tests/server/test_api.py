"""Every endpoint over a real server on loopback: its happy path and its error codes, with
the CLI's JSON shapes and error object; writes seen by the CLI and the reverse."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from ..support.api import ApiServer, cli, new_repo, serving

ERROR_KEYS = {"code", "message", "hint"}


def error_of(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) >= ERROR_KEYS, body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


# -- security -------------------------------------------------------------------------------
def test_health_needs_no_token_and_says_who_it_is(server: ApiServer):
    r = httpx.get(f"{server.api}/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["pid"] == server.pid and body["version"]
    assert body["uptime"] >= 0


@pytest.mark.parametrize("path", ["/status", "/missions", "/sorties", "/ready", "/events",
                                  "/reservations", "/recovery", "/events/stream"])
def test_every_other_route_needs_the_token(server: ApiServer, path: str):
    error_of(httpx.get(f"{server.api}{path}"), 401, "unauthorized")
    wrong = {"Authorization": "Bearer " + "x" * len(server.token)}
    error_of(httpx.get(f"{server.api}{path}", headers=wrong), 401, "unauthorized")
    basic = {"Authorization": f"Basic {server.token}"}
    error_of(httpx.get(f"{server.api}{path}", headers=basic), 401, "unauthorized")
    prefix = {"Authorization": f"Bearer {server.token[:-1]}"}
    error_of(httpx.get(f"{server.api}{path}", headers=prefix), 401, "unauthorized")


def test_writes_need_the_token_and_leave_nothing(server: ApiServer):
    before = len(cli(server.root, "mission", "list"))
    r = httpx.post(f"{server.api}/missions", json={"title": "intruder"})
    error_of(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert len(cli(server.root, "mission", "list")) == before


def test_init_makes_a_private_token(server: ApiServer):
    path = server.root / ".fleet" / "local" / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(server.token) >= 40
    ignored = (server.root / ".fleet" / ".gitignore").read_text()
    assert "local/" in ignored


def test_a_body_over_the_limit_is_413_and_writes_nothing(server: ApiServer):
    with server.client() as c:
        before = len(c.get("/missions").json())
        r = c.post("/missions", content=json.dumps({"title": "x" * (1 << 20)}),
                   headers={"content-type": "application/json"})
        error_of(r, 413, "too_large")
        # without a Content-Length (chunked), counted as it arrives
        chunks = iter([b'{"title": "', b"y" * (1 << 20), b'"}'])
        r = c.post("/missions", content=chunks, headers={"content-type": "application/json"})
        error_of(r, 413, "too_large")
        assert len(c.get("/missions").json()) == before


def test_the_actor_header_is_recorded_on_every_write(server: ApiServer):
    with server.client("agent-7") as c:
        m = c.post("/missions", json={"title": "by an agent"}).json()
        assert m["created_by"] == "agent-7"
        events = c.get("/events", params={"stream": f"mission:{m['id']}"}).json()
        assert {e["actor"] for e in events} == {"agent-7"}
    with server.client() as c:
        m = c.post("/missions", json={"title": "anonymous"}).json()
        assert m["created_by"] == "api"
        error_of(c.post("/missions", json={"title": "t"}, headers={"X-Fleet-Actor": "a" * 300}),
                 400, "invalid_input")


def test_rate_limit_per_client_answers_429_with_retry_after(tmp_path: Path):
    repo = new_repo(tmp_path / "limited")
    with serving(repo, "--rate-limit", "1") as s, s.client("greedy") as c:
        codes = [c.get("/ready").status_code for _ in range(6)]
        assert 429 in codes and codes[0] == 200, codes
        r = c.get("/ready")
        error_of(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        with s.client("someone-else") as other:  # another client has its own bucket
            assert other.get("/ready").status_code == 200


# -- missions -------------------------------------------------------------------------------
def test_missions_happy_path_and_errors(server: ApiServer):
    with server.client("ada") as c:
        r = c.post("/missions", json={"title": "Ship it", "description": "all of it",
                                      "priority": 1, "labels": ["web"]})
        assert r.status_code == 201
        m = r.json()
        assert {"id", "title", "description", "status", "priority", "labels", "progress",
                "created_at", "updated_at", "sorties"} <= set(m)
        assert m["status"] == "pending" and m["labels"] == ["web"]
        mid = m["id"]
        assert c.get(f"/missions/{mid[:6]}").json()["id"] == mid  # a unique prefix
        assert mid in [x["id"] for x in c.get("/missions", params={"label": "web"}).json()]
        assert c.get("/missions", params={"status": "completed", "label": "web"}).json() == []
        page = c.get("/missions", params={"limit": 1, "offset": 0}).json()
        assert len(page) == 1
        assert c.patch(f"/missions/{mid}", json={"title": "Ship all"}).json()["title"] == \
            "Ship all"
        assert c.post(f"/missions/{mid}/start").json()["status"] == "in_progress"
        error_of(c.post(f"/missions/{mid}/reopen"), 409, "transition_not_allowed")
        done = c.post(f"/missions/{mid}/complete", json={"reason": "done"}).json()
        assert done["status"] == "completed"
        assert c.delete(f"/missions/{mid}").json()["deleted"] is True
        error_of(c.get(f"/missions/{mid}"), 404, "not_found")
        error_of(c.get("/missions/m-nothing"), 404, "not_found")
        error_of(c.post("/missions", json={}), 422, "invalid_input")
        error_of(c.post("/missions", json={"title": "t", "colour": "red"}), 422)
        error_of(c.post("/missions", json={"title": "t", "priority": 9}), 422)
        error_of(c.get("/missions", params={"status": "sleeping"}), 422)
        error_of(c.get("/missions", params={"limit": -1}), 422)
        error_of(c.post("/missions", content=b"{not json",
                        headers={"content-type": "application/json"}), 422)
        error_of(c.post(f"/missions/{mid}/explode"), 422)
        error_of(c.get("/no-such-route"), 404, "not_found")


def test_mission_complete_with_open_sorties_is_a_conflict_unless_forced(server: ApiServer):
    with server.client("ada") as c:
        mid = c.post("/missions", json={"title": "half"}).json()["id"]
        c.post("/sorties", json={"mission_id": mid, "title": "open"})
        c.post(f"/missions/{mid}/start")
        error_of(c.post(f"/missions/{mid}/complete"), 409)
        assert c.post(f"/missions/{mid}/complete", json={"force": True}).json()["status"] == \
            "completed"


# -- sorties --------------------------------------------------------------------------------
def test_sorties_claim_transitions_and_errors(server: ApiServer):
    with server.client("ada") as ada, server.client("bob") as bob:
        mid = ada.post("/missions", json={"title": "sorties"}).json()["id"]
        first = ada.post("/sorties", json={"mission_id": mid, "title": "first",
                                           "files": ["src/first/**"], "priority": 0})
        assert first.status_code == 201
        s1 = first.json()
        assert {"id", "mission_id", "title", "description", "status", "priority", "files",
                "depends_on", "specialist", "progress", "created_at", "updated_at"} <= set(s1)
        s2 = ada.post("/sorties", json={"mission_id": mid, "title": "second",
                                        "after": [s1["id"]]}).json()
        assert s2["depends_on"] == [s1["id"]]
        ready = [s["id"] for s in ada.get("/ready", params={"mission": mid}).json()]
        assert ready == [s1["id"]]
        listed = ada.get("/sorties", params={"mission": mid, "status": "pending"}).json()
        assert {s["id"] for s in listed} == {s1["id"], s2["id"]}
        assert [s["id"] for s in ada.get("/sorties", params={"mission": mid, "ready": True}
                                         ).json()] == [s1["id"]]
        assert ada.get(f"/sorties/{s1['id']}").json()["title"] == "first"
        assert ada.patch(f"/sorties/{s2['id']}", json={"title": "2nd"}).json()["title"] == "2nd"

        claimed = ada.post(f"/sorties/{s1['id']}/claim").json()
        assert claimed["status"] == "assigned" and claimed["claimed_by"] == "ada"
        error_of(bob.post(f"/sorties/{s1['id']}/claim"), 409)
        held = bob.get("/reservations", params={"holder": "ada"}).json()
        assert [r["path"] for r in held] == ["src/first/**"]
        error_of(bob.post(f"/sorties/{s1['id']}/start"), 409)  # not bob's
        assert ada.post(f"/sorties/{s1['id']}/start").json()["status"] == "in_progress"
        p = ada.post(f"/sorties/{s1['id']}/progress", json={"percent": 40, "note": "half"})
        assert p.json()["progress"] == 40
        error_of(ada.post(f"/sorties/{s1['id']}/progress", json={"percent": 140}), 422)
        assert ada.post(f"/sorties/{s1['id']}/block", json={"reason": "wait"}).json()[
            "status"] == "blocked"
        assert ada.post(f"/sorties/{s1['id']}/unblock").json()["status"] == "in_progress"
        assert ada.post(f"/sorties/{s1['id']}/complete").json()["status"] == "completed"
        assert ada.get("/reservations", params={"holder": "ada"}).json() == []
        # second is ready now: claim-next finds it
        nxt = bob.post("/sorties/claim-next", json={"mission_id": mid}).json()
        assert nxt["id"] == s2["id"] and nxt["claimed_by"] == "bob"
        error_of(bob.post("/sorties/claim-next", json={"mission_id": mid}), 409)
        assert bob.post(f"/sorties/{s2['id']}/fail", json={"reason": "broke"}).json()[
            "status"] == "failed"
        assert bob.post(f"/sorties/{s2['id']}/retry").json()["status"] == "pending"
        assert bob.post(f"/sorties/{s2['id']}/cancel").json()["status"] == "cancelled"
        error_of(bob.post(f"/sorties/{s2['id']}/start"), 409)
        assert bob.delete(f"/sorties/{s2['id']}").json()["deleted"] is True
        error_of(bob.get(f"/sorties/{s2['id']}"), 404)
        error_of(bob.post("/sorties", json={"mission_id": "m-none", "title": "x"}), 404)
        error_of(bob.post("/sorties", json={"mission_id": mid, "title": "x",
                                            "after": ["s-none"]}), 404)
        error_of(bob.post("/sorties", json={"mission_id": mid}), 422)


# -- events ---------------------------------------------------------------------------------
def test_events_list_and_append(server: ApiServer):
    with server.client("ada") as c:
        mid = c.post("/missions", json={"title": "noted"}).json()["id"]
        r = c.post("/events", json={"type": "note_added", "stream": f"mission:{mid}",
                                    "data": {"text": "hi"}})
        assert r.status_code == 201, r.text
        event = r.json()
        assert {"id", "seq", "type", "stream", "clock", "writer", "n", "time", "actor",
                "causation_id", "correlation_id", "data"} <= set(event)
        assert event["actor"] == "ada" and event["data"] == {"text": "hi"}
        mine = c.get("/events", params={"stream": f"mission:{mid[:8]}"}).json()
        assert [e["type"] for e in mine][-1] == "note_added"
        after = c.get("/events", params={"after": event["seq"] - 1}).json()
        assert after[0]["id"] == event["id"]
        assert len(c.get("/events", params={"limit": 2}).json()) == 2
        assert c.get("/events", params={"type": "note_added", "limit": 1, "offset": 0}
                     ).json()[0]["type"] == "note_added"
        error_of(c.post("/events", json={"type": "no_such_type", "stream": "x:1"}), 400)
        error_of(c.post("/events", json={"type": "note_added", "stream": f"mission:{mid}",
                                         "data": {"text": 3}}), 400)
        error_of(c.post("/events", json={"type": "note_added", "stream": "x:1",
                                         "data": []}), 422)
        custom = c.post("/events", json={"type": "build_finished", "stream": "build:1",
                                         "data": {"env": "prod"}, "custom": True})
        assert custom.status_code == 201, custom.text


# -- reservations ---------------------------------------------------------------------------
def test_reservations_acquire_check_renew_release(server: ApiServer):
    with server.client("ada") as ada, server.client("bob") as bob:
        r = ada.post("/reservations", json={"paths": ["lib/**"], "ttl": 600,
                                            "reason": "refactor"})
        assert r.status_code == 201, r.text
        row = r.json()[0]
        assert {"path", "holder", "mode", "acquired_at", "expires_at", "reason"} <= set(row)
        assert row["holder"] == "ada" and row["mode"] == "exclusive"
        error_of(bob.post("/reservations", json={"paths": ["lib/a.py"]}), 409)
        error_of(bob.post("/reservations", json={"paths": ["lib/a.py"], "wait": 0.3}), 408,
                 "timeout")
        error_of(bob.post("/reservations/check", json={"paths": ["lib/a.py"]}), 409)
        ok = ada.post("/reservations/check", json={"paths": ["lib/a.py"]}).json()
        assert ok["ok"] is True
        assert bob.post("/reservations/check", json={"paths": ["docs/x.md"]}).json()["ok"]
        assert [x["path"] for x in bob.get("/reservations", params={"path": "lib/a.py"}
                                           ).json()] == ["lib/**"]
        renewed = ada.post("/reservations/renew", json={"ttl": 1200}).json()
        assert renewed[0]["path"] == "lib/**"
        error_of(bob.post("/reservations/renew", json={}), 404)
        error_of(bob.post("/reservations/release", json={"paths": ["lib/**"]}), 409)
        error_of(bob.post("/reservations/release", json={}), 400)
        released = ada.post("/reservations/release", json={"paths": ["lib/**"]}).json()
        assert [x["path"] for x in released] == ["lib/**"]
        ada.post("/reservations", json={"paths": ["a/**", "b/**"], "shared": True})
        assert len(ada.post("/reservations/release", json={"all": True}).json()) == 2
        error_of(ada.post("/reservations", json={"paths": []}), 422)
        error_of(ada.post("/reservations", json={"paths": ["x"], "wait": 600}), 422)


# -- checkpoints, recovery, context, status -------------------------------------------------
def test_checkpoints_recovery_context_status(server: ApiServer):
    with server.client("ada") as c:
        mid = c.post("/missions", json={"title": "kept"}).json()["id"]
        sid = c.post("/sorties", json={"mission_id": mid, "title": "work",
                                       "files": ["k/**"]}).json()["id"]
        c.post(f"/sorties/{sid}/claim")
        c.post(f"/sorties/{sid}/start")
        r = c.post(f"/missions/{mid}/checkpoints", json={"note": "before lunch"})
        assert r.status_code == 201, r.text
        cp = r.json()
        assert {"id", "mission_id", "trigger", "progress", "created_at", "sha256"} <= set(cp)
        assert cp["trigger"] == "manual"
        assert [x["id"] for x in c.get(f"/missions/{mid}/checkpoints").json()] == [cp["id"]]
        shown = c.get(f"/checkpoints/{cp['id']}").json()
        assert shown["body"]["mission"]["id"] == mid
        resumed = c.post(f"/checkpoints/{cp['id']}/resume").json()
        assert "context" in resumed
        error_of(c.get("/checkpoints/c-nothing"), 404)
        error_of(c.get("/missions/m-nothing/checkpoints"), 404)

        rec = c.get("/recovery", params={"stale_after": "1d"}).json()
        assert rec["actions"] == [] if "actions" in rec else True
        error_of(c.get("/recovery", params={"stale_after": "soon"}), 400)
        applied = c.post("/recovery/apply", json={"stale_after": "1d", "mission_id": mid})
        assert applied.status_code == 200, applied.text

        brief = c.get(f"/missions/{mid}/context", params={"format": "md", "max_bytes": 2000})
        assert brief.status_code == 200 and brief.headers["content-type"].startswith(
            "text/markdown")
        assert len(brief.content) <= 2000 and "kept" in brief.text
        as_json = c.get(f"/missions/{mid}/context").json()
        assert isinstance(as_json, dict)
        error_of(c.get("/missions/m-nothing/context"), 404)

        status = c.get("/status").json()
        assert {"missions", "active_sorties", "reservations", "conflicts", "index",
                "stale"} <= set(status)
        assert sid in [s["id"] for s in status["active_sorties"]]

        deleted = c.delete(f"/checkpoints/{cp['id']}").json()
        assert deleted["deleted"] is True
        assert c.post("/checkpoints/prune", json={"keep": 5}).status_code == 200
        error_of(c.delete(f"/checkpoints/{cp['id']}"), 404)


# -- the API and the CLI see each other's writes ---------------------------------------------
def test_api_writes_are_seen_by_the_cli_and_the_reverse(server: ApiServer):
    with server.client("api-agent") as c:
        mid = c.post("/missions", json={"title": "both ways"}).json()["id"]
        shown = cli(server.root, "mission", "show", mid)
        assert shown["title"] == "both ways" and shown["created_by"] == "api-agent"

        sid = cli(server.root, "sortie", "add", mid, "from the cli")["id"]
        assert c.get(f"/sorties/{sid}").json()["title"] == "from the cli"
        c.post(f"/sorties/{sid}/claim")
        assert cli(server.root, "sortie", "show", sid)["claimed_by"] == "api-agent"
        cli(server.root, "sortie", "start", sid, "--force")
        assert c.get(f"/sorties/{sid}").json()["status"] == "in_progress"
        # the same JSON as the CLI's, key for key
        assert c.get(f"/missions/{mid}").json() == cli(server.root, "mission", "show", mid)
        assert c.get("/ready").json() == cli(server.root, "ready")


def test_openapi_is_served_and_matches_the_committed_document(server: ApiServer):
    from fleet_hive.kernel.resources import source_dir

    served = httpx.get(f"{server.api}/openapi.json").json()
    committed = json.loads((source_dir("schemas") / "openapi.json").read_text())
    assert served == committed
    assert "/api/v1/events/stream" in served["paths"]
    assert "/api/v1/sorties/claim-next" in served["paths"]


def test_a_repository_without_a_token_gets_one_on_first_serve(tmp_path: Path):
    repo = new_repo(tmp_path / "old")
    token = repo / ".fleet" / "local" / "token"
    token.unlink()
    with serving(repo) as s:
        assert token.read_text().strip() == s.token
        assert stat.S_IMODE(token.stat().st_mode) == 0o600
        assert httpx.get(f"{s.api}/ready", headers=s.headers()).status_code == 200


# -- planning -------------------------------------------------------------------------------
def test_planning_decompose_validate_apply(server: ApiServer):
    with server.client("planner") as c:
        r = c.post("/plans/decompose", json={"task": "Add a login page and its tests"})
        assert r.status_code == 200, r.text
        planned = r.json()
        assert planned["plan"]["sorties"] and planned["mission"] is None
        before = len(c.get("/missions").json())
        created = c.post("/plans/decompose", json={"task": "Add a login page",
                                                   "create": True})
        assert created.status_code == 201, created.text
        mid = created.json()["mission"]["id"]
        assert len(c.get("/missions").json()) == before + 1
        checked = c.get(f"/missions/{mid}/plan").json()
        assert checked["mission_id"] == mid and "waves" in checked
        assert cli(server.root, "plan", "validate", mid)["waves"] == checked["waves"]
        applied = c.post("/plans", json={"plan": planned["plan"]})
        assert applied.status_code == 201, applied.text
        assert applied.json()["mission"]["id"] in {m["id"] for m in c.get("/missions").json()}
        # a shell planner is not offered over HTTP; a broken plan creates nothing
        error_of(c.post("/plans/decompose", json={"task": "x", "planner": "cmd:echo {}"}), 422)
        count = len(c.get("/missions").json())
        error_of(c.post("/plans", json={"plan": {"title": "no sorties key"}}), 400)
        assert len(c.get("/missions").json()) == count
        error_of(c.get("/missions/m-nothing/plan"), 404)
        error_of(c.post("/plans/decompose", json={"task": "x", "files": ["nothing/**"]}), 400)


# -- mail and specialists --------------------------------------------------------------------
def test_mail_and_specialists(server: ApiServer):
    with server.client("ada") as ada, server.client("bob") as bob:
        r = ada.post("/mail", json={"to": ["bob"], "subject": "hello", "body": "see you"})
        assert r.status_code == 201, r.text
        m = r.json()
        assert {"id", "from", "to", "subject", "body", "thread_id", "importance"} <= set(m)
        assert m["from"] == "ada"
        inbox = bob.get("/mail/inbox/bob", params={"unread": True}).json()
        assert [x["id"] for x in inbox] == [m["id"]]
        assert cli(server.root, "mail", "inbox", "bob")[0]["id"] == m["id"]
        assert "bob" in bob.post(f"/mail/{m['id']}/read").json()["read_by"]
        assert bob.get("/mail/inbox/bob", params={"unread": True}).json() == []
        assert "bob" in bob.post(f"/mail/{m['id']}/ack").json()["acked_by"]
        assert [x["id"] for x in ada.get(f"/mail/threads/{m['thread_id']}").json()] == [m["id"]]
        error_of(bob.get("/mail/inbox/nobody", params={"unread": True, "wait": 0.2}), 408)
        error_of(bob.post("/mail/msg-nothing/read"), 404)
        error_of(ada.post("/mail", json={"to": [], "subject": "x"}), 422)

        s = ada.post("/specialists", json={"name": "py-1", "capabilities": ["python"]})
        assert s.status_code == 201, s.text
        assert "python" in s.json()["capabilities"]
        assert ada.post("/specialists/py-1/heartbeat").status_code == 200
        names = [x["name"] for x in ada.get("/specialists").json()]
        assert "py-1" in names
        assert "py-1" in [x["name"] for x in cli(server.root, "specialist", "list")]
        error_of(ada.post("/specialists", json={"capabilities": []}), 422)


def test_learning(server: ApiServer):
    with server.client("ada") as ada:
        before = ada.get("/learn/stats").json()  # the server's repository is shared
        m = ada.post("/missions", json={"title": "learn"}).json()
        s = ada.post("/sorties", json={"mission_id": m["id"], "title": "one"})
        assert s.status_code == 201, s.text
        sid = s.json()["id"]
        for action in ("claim", "start", "complete"):
            assert ada.post(f"/sorties/{sid}/{action}").status_code == 200, action
        stats = ada.get("/learn/stats").json()
        assert (stats["sorties"], stats["succeeded"]) == (before["sorties"] + 1,
                                                          before["succeeded"] + 1)
        assert stats == cli(server.root, "learn", "stats")
        assert ada.get("/learn/patterns").json() == cli(server.root, "learn", "patterns")
        error_of(ada.get("/learn/patterns", params={"strategy": "astrology"}), 400)
