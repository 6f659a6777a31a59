"""A dispatcher SIGKILLed mid-mission: its leases lapse at once (its pid is gone), so
``recover --apply`` (or the next ``dispatch``) stops what is left of its agents and
re-queues their sorties; the next dispatch finishes the mission without rerunning any
sortie that had completed. SIGTERM (and Ctrl-C) stop every agent group and re-queue."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import fleet_hive
from tests.support import run_cli
from tests.support.dispatch import (
    group_alive,
    intervals,
    run_dispatch,
    start_dispatch,
    write_agent,
)


def _records_until(proc: subprocess.Popen[str], done: Any, timeout: float = 60,
                   ) -> list[dict[str, Any]]:
    """Records read from ``proc`` until ``done(records)`` is true (its stdout read as
    raw bytes: a buffered reader could hold lines that ``select`` no longer sees)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    records: list[dict[str, Any]] = []
    pending: bytes = getattr(proc, "_unread", b"")
    end = time.monotonic() + timeout
    while not done(records):
        left = end - time.monotonic()
        assert left > 0, records
        poller = select.poll()  # not select.select: a busy test process has fds over 1024
        poller.register(fd, select.POLLIN)
        ready = poller.poll(left * 1000)
        if ready:
            data = os.read(fd, 65536)
            assert data, (records, proc.stderr.read() if proc.stderr else "")
            *lines, pending = (pending + data).split(b"\n")
            records += [json.loads(line) for line in lines if line.strip()]
    proc._unread = pending  # type: ignore[attr-defined]  # for the next call
    return records


def _setup(repo: Path, hive, tmp_path: Path) -> tuple[str, list[str], str, dict[str, str]]:
    m = hive.missions.create("crashy", sorties=[
        {"title": f"step {k}", "files": [f"src/{k}.py"], "after": [k - 1] if k in (4, 5)
         else []} for k in range(6)])
    ids = [s.id for s in hive.missions.get(m.id).sorties]
    hive.close()
    env = {"AGENT_LOG": str(tmp_path / "agents.log"), "AGENT_SLEEP": "0.05",
           "AGENT_SLOW_SORTIE": ids[3], "AGENT_SLOW_SECONDS": "120", "FLEET_ACTOR": "lead"}
    return m.id, ids, write_agent(tmp_path), env


def _kill_mid_mission(repo: Path, mission_id: str, slow: str, agent: str,
                      env: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    proc = start_dispatch(repo, mission_id, "--workers", "2", "--agent", agent, env=env)
    try:
        records = _records_until(proc, lambda rs: any(
            r["event"] == "sortie_started" and r["sortie_id"] == slow for r in rs) and sum(
            r["event"] == "sortie_completed" for r in rs) >= 3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    (slow_start,) = [r for r in records if r["event"] == "sortie_started"
                     and r["sortie_id"] == slow]
    assert group_alive(slow_start["pid"])  # orphaned by the kill: still running
    return records, slow_start["pid"]


def test_sigkill_then_recover_then_dispatch_reruns_nothing_finished(repo, hive, tmp_path):
    mission_id, ids, agent, env = _setup(repo, hive, tmp_path)
    _records, slow_group = _kill_mid_mission(repo, mission_id, ids[3], agent, env)

    with fleet_hive.open(repo) as h:
        done_before = {s.id for s in h.missions.get(mission_id).sorties
                       if s.status == "completed"}
    assert len(done_before) >= 3

    rec = run_cli("-C", str(repo), "recover", "--apply", "--json")
    assert rec.returncode == 0, rec.stderr
    report = json.loads(rec.stdout)
    requeued = {a["sortie_id"] for m in report["missions"] for a in m["actions"]
                if a["outcome"] == "done"}
    assert ids[3] in requeued and not requeued & done_before
    deadline = time.monotonic() + 10
    while group_alive(slow_group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(slow_group)  # recover stopped what was left of the agent
    with fleet_hive.open(repo) as h:
        assert h.sorties.get(ids[3]).status == "pending"

    fast = {**env, "AGENT_SLOW_SORTIE": ""}
    result, again = run_dispatch(repo, mission_id, "--agent", agent, env=fast)
    assert result.returncode == 0, result.stderr
    rerun = {r["sortie_id"] for r in again if r.get("event") == "sortie_started"}
    assert not rerun & done_before and ids[3] in rerun
    starts = Counter(i.sortie for i in intervals(Path(env["AGENT_LOG"])))
    assert all(starts[sid] == 1 for sid in done_before), starts
    with fleet_hive.open(repo) as h:
        m = h.missions.get(mission_id)
        assert m.status == "completed" and {s.status for s in m.sorties} == {"completed"}
        assert h.reservations.list() == []


def test_the_next_dispatch_finds_the_lapsed_lease_itself(repo, hive, tmp_path):
    mission_id, ids, agent, env = _setup(repo, hive, tmp_path)
    _records, slow_group = _kill_mid_mission(repo, mission_id, ids[3], agent, env)
    with fleet_hive.open(repo) as h:
        done_before = {s.id for s in h.missions.get(mission_id).sorties
                       if s.status == "completed"}

    result, again = run_dispatch(repo, mission_id, "--agent", agent,
                                 env={**env, "AGENT_SLOW_SORTIE": ""})
    assert result.returncode == 0, result.stderr
    requeued = [r["sortie_id"] for r in again if r.get("event") == "sortie_requeued"]
    assert ids[3] in requeued
    assert not group_alive(slow_group)
    assert again[-1]["ok"] is True and ids[3] in again[-1]["requeued"]
    starts = Counter(i.sortie for i in intervals(Path(env["AGENT_LOG"])))
    assert all(starts[sid] == 1 for sid in done_before), starts
    assert not list((repo / ".fleet" / "local" / "dispatch" / "leases").glob("*.json"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_sigterm_stops_every_agent_group_and_requeues(repo, hive, tmp_path, sig):
    m = hive.missions.create("long", sorties=[{"title": f"long {k}"} for k in range(3)])
    hive.close()
    proc = start_dispatch(repo, m.id, "--workers", "3", "--agent", "sleep 300 & wait")
    records = _records_until(proc, lambda rs: sum(r["event"] == "sortie_started"
                                                  for r in rs) == 3)
    groups = [r["pid"] for r in records if r["event"] == "sortie_started"]
    assert all(group_alive(g) for g in groups)
    proc.send_signal(sig)
    assert proc.wait(60) == 130
    assert not any(group_alive(g) for g in groups)
    tail = _records_until(proc, lambda rs: bool(rs) and rs[-1]["event"] == "dispatch_finished")
    assert [r["event"] for r in tail].count("sortie_requeued") == 3
    assert tail[-1]["event"] == "dispatch_finished" and tail[-1]["interrupted"] is True
    with fleet_hive.open(repo) as h:
        assert {s.status for s in h.missions.get(m.id).sorties} == {"pending"}
        assert h.reservations.list() == []
        tries = h.events.query(type="sortie_try_ended")
        assert {e.data["outcome"] for e in tries} == {"requeued"}
    assert not list((repo / ".fleet" / "local" / "dispatch" / "leases").glob("*.json"))


def test_a_live_dispatcher_keeps_its_sortie_fresh_for_recover(repo, hive):
    m = hive.missions.create("slow", sorties=[{"title": "thinks a long time"}])
    (s,) = hive.missions.get(m.id).sorties
    hive.close()
    proc = start_dispatch(repo, m.id, "--agent", "sleep 300 & wait")
    try:
        _records_until(proc, lambda rs: any(r["event"] == "sortie_started" for r in rs))
        time.sleep(2.5)  # idle past --stale-after 1s: only its live lease keeps it fresh
        plan = run_cli("-C", str(repo), "recover", "--stale-after", "1s", "--json")
        assert plan.returncode == 0, plan.stderr
        listed = [a["sortie_id"] for mm in json.loads(plan.stdout)["missions"]
                  for a in mm["actions"]]
        assert s.id not in listed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    with fleet_hive.open(repo) as h:
        assert h.sorties.get(s.id).status == "pending"  # re-queued by the SIGTERM


def test_an_agent_that_completes_its_sortie_itself(repo, hive):
    m = hive.missions.create("self-service", sorties=[{"title": "done by the agent"}])
    (s,) = hive.missions.get(m.id).sorties
    hive.close()
    cli = f"{sys.executable} -m fleet_hive"
    result, records = run_dispatch(repo, m.id, "--agent",
                                   f"{cli} sortie complete $FLEET_SORTIE_ID --reason mine")
    assert result.returncode == 0, result.stderr
    assert records[-1]["ok"] is True
    with fleet_hive.open(repo) as h:
        done = h.sorties.get(s.id)
        assert done.status == "completed" and done.reason == "mine"
