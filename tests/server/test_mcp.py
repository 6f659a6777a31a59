"""``fleet-hive mcp``: a real process on stdio, driven by the MCP SDK's own client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp", reason="the MCP SDK comes with the server extra and the test extra")

from tests.support import run_cli
from tests.support.mcp_session import list_tools_bytes, payload, with_session

DEFAULT_TOOLS = {"ready", "claim", "claim_next", "start", "progress", "complete", "fail",
                 "block", "reserve", "release", "check", "context", "status", "checkpoint",
                 "mail_send", "mail_inbox"}


def test_initialize_and_the_default_tier_fits_its_byte_budget(hive, repo: Path):
    async def body(session: Any) -> Any:
        return await session.list_tools()

    listed = with_session(repo, body)
    names = {t.name for t in listed.tools}
    assert names == DEFAULT_TOOLS
    assert list_tools_bytes(listed) <= 8000
    for tool in listed.tools:
        assert tool.description and len(tool.description) <= 100, tool.name
        assert tool.input_schema["type"] == "object"
    progress = next(t for t in listed.tools if t.name == "progress")
    assert progress.input_schema["required"] == ["sortie", "percent"]


def test_the_all_tier_lists_more_tools(hive, repo: Path):
    async def body(session: Any) -> Any:
        return await session.list_tools()

    everything = {t.name for t in with_session(repo, body, "--tools", "all").tools}
    assert everything > DEFAULT_TOOLS
    assert {"mission_create", "sortie_add", "recover", "events", "decompose",
            "plan_validate"} <= everything


def test_a_coordinator_plans_and_validates_over_mcp(hive, repo: Path):
    async def body(session: Any) -> list[Any]:
        planned = payload(result := await session.call_tool("decompose", {
            "task": "add a login page and its tests", "files": ["README"],
            "create": True}))
        assert not result.is_error, planned
        checked = payload(await session.call_tool(
            "plan_validate", {"mission": planned["mission"]["id"]}))
        return [planned, checked]

    planned, checked = with_session(repo, body, "--tools", "all")
    assert planned["mission"] and planned["sortie_ids"]
    assert checked["mission_id"] == planned["mission"]["id"]
    assert hive.missions.get(planned["mission"]["id"]).title


def test_ready_claim_complete_over_mcp_is_seen_by_the_cli(hive, repo: Path):
    mission = hive.missions.create("ship it")
    first = hive.sorties.add(mission.id, "first", files=["src/a.py"], priority=1)
    hive.sorties.add(mission.id, "second", files=["src/b.py"], priority=3)

    async def body(session: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["ready"] = payload(await session.call_tool("ready", {}))
        out["claim"] = await session.call_tool("claim", {"sortie": first.id[:8]})
        out["check"] = payload(await session.call_tool("check", {"paths": ["src/a.py"]}))
        out["start"] = payload(await session.call_tool("start", {"sortie": first.id}))
        out["progress"] = payload(await session.call_tool(
            "progress", {"sortie": first.id, "percent": 50, "note": "half"}))
        out["complete"] = await session.call_tool("complete", {"sortie": first.id})
        out["ready_after"] = payload(await session.call_tool("ready", {}))
        return out

    out = with_session(repo, body)
    assert [s["id"] for s in out["ready"]] == [first.id, out["ready"][1]["id"]]
    assert not out["claim"].is_error
    claimed = payload(out["claim"])
    assert claimed["id"] == first.id and claimed["status"] == "assigned"
    assert claimed["claimed_by"] == "ada"
    assert "\n" not in out["claim"].content[0].text  # compact JSON
    assert [(p["path"], p["free"]) for p in out["check"]["paths"]] == [("src/a.py", True)]
    assert out["start"]["status"] == "in_progress"
    assert out["progress"]["progress"] == 50
    assert payload(out["complete"])["status"] == "completed"
    assert [s["title"] for s in out["ready_after"]] == ["second"]
    # the CLI, another process, sees what the MCP server wrote
    shown = run_cli("-C", str(repo), "sortie", "show", first.id, "--json")
    assert shown.returncode == 0, shown.stderr
    import json

    assert json.loads(shown.stdout)["status"] == "completed"


def test_errors_are_the_cli_error_object_with_is_error(hive, repo: Path):
    mission = hive.missions.create("m")
    taken = hive.sorties.add(mission.id, "taken", files=["src/x.py"])
    hive.sorties.claim(taken.id, specialist="bob")

    async def body(session: Any) -> list[Any]:
        return [await session.call_tool("claim", {"sortie": "s-nosuch"}),
                await session.call_tool("claim", {"sortie": taken.id}),
                await session.call_tool("check", {"paths": ["src/x.py"]}),
                await session.call_tool("progress", {"sortie": taken.id, "percent": "x"}),
                await session.call_tool("no_such_tool", {}),
                await session.call_tool("ready", {})]

    missing, conflict, held, invalid, unknown, ready = with_session(repo, body)
    for result, code in ((missing, "not_found"), (conflict, "already_claimed"), (held, None),
                         (invalid, "invalid_input"), (unknown, "not_found")):
        assert result.is_error
        error = payload(result)["error"]
        assert {"code", "message", "hint"} <= set(error)
        if code:
            assert error["code"] == code, error
    assert "bob" in payload(held)["error"]["message"]
    assert not ready.is_error, "the server keeps serving after errors"


def test_reserve_release_and_context(hive, repo: Path):
    mission = hive.missions.create("brief me", description="the goal")

    async def body(session: Any) -> list[Any]:
        return [payload(await session.call_tool("reserve", {"paths": ["docs/**"],
                                                            "reason": "writing"})),
                payload(await session.call_tool("context", {"mission": mission.id})),
                payload(await session.call_tool("release", {})),
                payload(await session.call_tool("checkpoint", {"mission": mission.id}))]

    reserved, brief, released, checkpoint = with_session(repo, body, actor="cy")
    assert [(r["path"], r["holder"]) for r in reserved] == [("docs/**", "cy")]
    assert isinstance(brief, str) and "brief me" in brief
    assert [r["path"] for r in released] == ["docs/**"]
    assert checkpoint["mission_id"] == mission.id and checkpoint["trigger"] == "manual"
    assert hive.reservations.active() == []


def test_mail_between_two_agents_over_mcp(hive, repo: Path):
    async def send(session: Any) -> Any:
        return payload(await session.call_tool("mail_send", {
            "to": ["bo"], "subject": "files free", "body": "src/** is yours"}))

    async def inbox(session: Any) -> list[Any]:
        got = payload(await session.call_tool("mail_inbox", {"wait": 5}))
        return [got, payload(await session.call_tool("mail_ack", {"message": got[0]["id"]}))]

    sent = with_session(repo, send, actor="al")
    got, acked = with_session(repo, inbox, "--tools", "all", actor="bo")
    assert [(m["id"], m["from"], m["subject"]) for m in got] == [(sent["id"], "al",
                                                                   "files free")]
    assert acked["acked_by"] == ["bo"]
    assert [m.subject for m in hive.mail.inbox("bo")] == ["files free"]


def test_mcp_outside_a_fleet_repository_fails_before_serving(tmp_path: Path):
    result = run_cli("-C", str(tmp_path), "mcp", timeout=30)
    assert result.returncode == 1
    assert "error" in result.stderr


def test_the_tools_list_answer_on_the_wire_fits_the_budget(hive, repo: Path):
    """The bytes a client reads for ``tools/list``: the JSON-RPC line itself, from raw
    stdio (what the SDK's client parses is measured above; this is what crosses the pipe)."""
    import json

    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    import subprocess
    import sys

    sizes = {}
    for tier in ("default", "all"):
        proc = subprocess.Popen([sys.executable, "-m", "fleet_hive", "-C", str(repo), "mcp",
                                 "--tools", tier], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            for message in lines:  # stdin stays open until the answer is read
                proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
            answers = {}
            while 2 not in answers:
                raw = proc.stdout.readline()
                assert raw, proc.stderr.read().decode()[-2000:]
                answer = json.loads(raw)
                answers[answer.get("id")] = (answer, len(raw.rstrip(b"\n")))
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)
        listed, size = answers[2]
        assert {t["name"] for t in listed["result"]["tools"]} >= DEFAULT_TOOLS
        sizes[tier] = size
    assert sizes["default"] <= 8000
    assert sizes["all"] > sizes["default"]
