"""Mail as real processes: the round trip between two agents (each its own FLEET_ACTOR),
``mail inbox --wait`` woken by a ``mail send`` from another process, blocker escalation
from ``sortie block``, JSON and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support import run_cli


def _cli(repo: Path, *args: str, actor: str | None = None, input: str | None = None,
         ) -> tuple[int, object, str]:
    env = {"FLEET_ACTOR": actor} if actor else None
    r = run_cli("-C", str(repo), *args, "--json", env=env, input=input)
    out = json.loads(r.stdout) if r.stdout.strip() else None
    return r.returncode, out, r.stderr


def test_a_round_trip_between_two_specialists(hive, repo: Path):
    mission = hive.missions.create("m").id
    for name, kind in (("frontend", "ui"), ("backend", "api")):
        code, registered, err = _cli(repo, "specialist", "register", name, "--capability",
                                     kind, actor=name)
        assert code == 0 and registered["status"] == "active", err
    code, sent, err = _cli(repo, "mail", "send", "--to", "backend", "--subject",
                           "which endpoint?", "--body", "GET or POST?", "--mission",
                           mission[:6], "--importance", "high", actor="frontend")
    assert code == 0, err
    assert sent["from"] == "frontend" and sent["mission_id"] == mission
    code, inbox, _ = _cli(repo, "mail", "inbox", "backend", "--unread", actor="backend")
    assert [m["id"] for m in inbox] == [sent["id"]]
    code, read, _ = _cli(repo, "mail", "read", sent["id"][:8], actor="backend")
    assert code == 0 and read["read_by"] == ["backend"] and read["body"] == "GET or POST?"
    code, reply, _ = _cli(repo, "mail", "send", "--to", "frontend", "--subject", "POST",
                          "--thread", sent["id"], "--body-file", "-", actor="backend",
                          input="POST /api/v1/items\n")
    assert code == 0 and reply["thread_id"] == sent["id"]
    assert reply["body"] == "POST /api/v1/items\n"
    code, inbox, _ = _cli(repo, "mail", "inbox", "frontend", actor="frontend")
    assert [m["subject"] for m in inbox] == ["POST"]
    code, acked, _ = _cli(repo, "mail", "ack", reply["id"], "--as", "frontend")
    assert code == 0 and acked["acked_by"] == ["frontend"]
    code, thread, _ = _cli(repo, "mail", "thread", sent["id"])
    assert [m["id"] for m in thread] == [sent["id"], reply["id"]]
    code, unread, _ = _cli(repo, "mail", "inbox", "frontend", "--unread")
    assert unread == []


def test_inbox_wait_wakes_up_when_another_process_sends(hive, repo: Path):
    env = {**os.environ, "FLEET_ACTOR": "worker"}
    waiter = subprocess.Popen(
        [sys.executable, "-m", "fleet_hive", "-C", str(repo), "mail", "inbox", "worker",
         "--unread", "--wait", "10", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env)
    try:
        time.sleep(1.0)  # let it start waiting (if it has not yet, it finds the mail at once)
        assert waiter.poll() is None, "returned before any mail was sent"
        code, sent, err = _cli(repo, "mail", "send", "--to", "worker", "--subject", "go",
                               actor="lead")
        assert code == 0, err
        t0 = time.monotonic()
        out, err = waiter.communicate(timeout=15)
        waited = time.monotonic() - t0
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert waiter.returncode == 0, err
    assert [m["id"] for m in json.loads(out)] == [sent["id"]]
    assert waited < 10, "it returned only at its timeout: the send did not wake it"


def test_inbox_wait_times_out_with_exit_4(hive, repo: Path):
    code, out, _ = _cli(repo, "mail", "inbox", "nobody", "--wait", "0.3")
    assert code == 4 and out["error"]["code"] == "timeout"


def test_inbox_wait_returns_at_once_when_unread_mail_is_there(hive, repo: Path):
    hive.mail.send(["worker"], "already here")
    code, out, _ = _cli(repo, "mail", "inbox", "worker", "--wait", "30")
    assert code == 0 and [m["subject"] for m in out] == ["already here"]


def test_sortie_block_escalates_to_the_coordinators_inbox(hive, repo: Path):
    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "migrate the schema")
    assert _cli(repo, "sortie", "claim", s.id, actor="agent-7")[0] == 0
    assert _cli(repo, "sortie", "start", s.id, actor="agent-7")[0] == 0
    code, _, err = _cli(repo, "sortie", "block", s.id, "--reason", "the DBA must approve",
                        actor="agent-7")
    assert code == 0, err
    code, inbox, _ = _cli(repo, "mail", "inbox", "coordinator", "--unread")
    (msg,) = inbox
    assert msg["from"] == "agent-7" and msg["importance"] == "high"
    assert "the DBA must approve" in msg["body"] and msg["sortie_id"] == s.id


def test_errors_are_json_with_exit_codes(hive, repo: Path):
    code, out, _ = _cli(repo, "mail", "read", "msg-nosuch")
    assert code == 1 and out["error"]["code"] == "not_found"
    code, out, _ = _cli(repo, "mail", "send", "--to", "x", "--subject", "s",
                        "--importance", "urgent")
    assert code == 2
    code, out, _ = _cli(repo, "mail", "send", "--to", "x", "--subject", "s", "--body", "a",
                        "--body-file", "f")
    assert code == 2
    code, out, _ = _cli(repo, "mail", "send", "--to", "x", "--subject", "s", "--body-file",
                        str(repo / "missing.txt"))
    assert code == 1 and "cannot read" in out["error"]["message"]
    assert hive.events.query(type="message_sent") == []


def test_events_follow_type_prints_only_that_type_and_wakes_on_append(hive, repo: Path):
    follower = subprocess.Popen(
        [sys.executable, "-m", "fleet_hive", "-C", str(repo), "events", "follow", "--type",
         "message_sent", "--limit", "1", "--timeout", "20"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        hive.missions.create("not mail")
        hive.mail.send(["bob"], "the one")
        t0 = time.monotonic()
        out, err = follower.communicate(timeout=25)
        waited = time.monotonic() - t0
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert follower.returncode == 0, err
    (line,) = out.strip().splitlines()
    event = json.loads(line)
    assert event["type"] == "message_sent" and event["data"]["subject"] == "the one"
    assert waited < 20, "it stopped at its timeout, not on the event"
