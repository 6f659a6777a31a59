"""What an agent gets (its prompt on stdin, its environment, the repository as its working
directory), what it can report back, its capped log, and specialists: sorties of a kind go
to specialists capable of it, the least loaded first."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from fleet_hive.dispatch import Options
from tests.support.dispatch import (
    FakeSpecialists,
    dispatcher,
    intervals,
    run_dispatch,
    write_agent,
)

DUMP_AGENT = '''\
import json, os, sys
out = {"prompt": sys.stdin.read(), "cwd": os.getcwd(),
       "env": {k: v for k, v in os.environ.items() if k.startswith("FLEET_")}}
with open(os.path.join(os.environ["DUMP_DIR"], os.environ["FLEET_SORTIE_ID"] + ".json"),
          "w") as f:
    json.dump(out, f)
'''


def test_the_agent_gets_its_prompt_environment_and_the_repository(repo, hive, tmp_path):
    m = hive.missions.create("Add caching", description="Cache the expensive lookups.",
                             sorties=[{"title": "Cache layer", "description": "Use an LRU.",
                                       "files": ["src/cache.py"], "specialist": "python"}])
    (s,) = hive.missions.get(m.id).sorties
    hive.close()
    agent = write_agent(tmp_path, "dump.py", DUMP_AGENT)
    result, _ = run_dispatch(repo, m.id, "--agent", agent,
                             env={"DUMP_DIR": str(tmp_path), "FLEET_ACTOR": "lead"})
    assert result.returncode == 0, result.stderr
    got = json.loads((tmp_path / f"{s.id}.json").read_text())
    assert Path(got["cwd"]).resolve() == repo.resolve()
    env = got["env"]
    assert env["FLEET_MISSION_ID"] == m.id and env["FLEET_SORTIE_ID"] == s.id
    assert env["FLEET_SPECIALIST"] == env["FLEET_ACTOR"] == "lead/w1"
    assert env["FLEET_SPECIALIST_KIND"] == "python"
    assert Path(env["FLEET_REPO"]).resolve() == repo.resolve()
    prompt = got["prompt"]
    assert "# Your task: Cache layer" in prompt and "Use an LRU." in prompt
    assert "`src/cache.py`" in prompt and "try 1 of 2" in prompt
    assert f"fleet-hive sortie progress {s.id} --percent N" in prompt
    # the mission's context brief is part of it
    assert f"# Mission {m.id}" in prompt and "Cache the expensive lookups." in prompt


def test_a_retry_prompt_says_why_the_last_try_failed(repo, hive, tmp_path):
    m = hive.missions.create("m", sorties=[{"title": "flaky"}])
    hive.close()
    flaky = tmp_path / "flaky.py"
    flaky.write_text(
        "import os, sys\n"
        "p = sys.stdin.read()\n"
        "if os.environ['FLEET_ATTEMPT'] == '1':\n"
        "    print('the disk is full', file=sys.stderr); sys.exit(4)\n"
        f"open({str(tmp_path / 'second.md')!r}, 'w').write(p)\n")
    result, _ = run_dispatch(repo, m.id, "--agent", f"{sys.executable} {flaky}",
                             "--backoff", "0")
    assert result.returncode == 0, result.stderr
    second = (tmp_path / "second.md").read_text()
    assert "try 2 of 2" in second and "## The previous try failed" in second
    assert "agent exited 4" in second and "the disk is full" in second


def test_agents_report_progress_through_the_cli(repo, hive, tmp_path):
    m = hive.missions.create("m", sorties=[{"title": "reports"}])
    hive.close()
    cli = f"{sys.executable} -m fleet_hive"
    agent = (f"{cli} sortie progress $FLEET_SORTIE_ID --percent 40 --note 'read the code' "
             "&& sleep 0.6")
    result, records = run_dispatch(repo, m.id, "--agent", agent)
    assert result.returncode == 0, result.stderr
    progressed = [r for r in records if r.get("event") == "sortie_progressed"]
    assert progressed and progressed[0]["percent"] == 40
    assert progressed[0]["note"] == "read the code"


def test_the_log_is_capped_and_keeps_the_tail(repo, hive, tmp_path):
    import fleet_hive

    m = hive.missions.create("m", sorties=[{"title": "chatty"}])
    (s,) = hive.missions.get(m.id).sorties
    agent = (f"{sys.executable} -c \"import sys; [print('line', i) for i in range(200000)]; "
             "print('THE END', file=sys.stderr); sys.exit(1)\"")
    summary = hive.dispatch.run(m.id, Options(agent=agent, retries=0, log_max_bytes=50_000),
                                environ=dict(os.environ))
    assert summary.failed == [s.id]
    log = hive.layout.dispatch_logs / f"{s.id}.log"
    size = log.stat().st_size
    assert 50_000 < size < 60_000
    text = log.read_text()
    assert "line 0\n" in text and "bytes not kept" in text and "THE END" in text
    with fleet_hive.open(repo) as h:
        assert "THE END" in h.sorties.get(s.id).reason


def test_an_agent_that_cannot_start_fails_the_try(repo, hive, tmp_path):
    m = hive.missions.create("m", sorties=[{"title": "x"}])
    (s,) = hive.missions.get(m.id).sorties
    summary = hive.dispatch.run(m.id, Options(agent="/no/such/agent", retries=0),
                                environ=dict(os.environ))
    assert summary.failed == [s.id]
    assert "exited 127" in hive.sorties.get(s.id).reason  # the shell's "not found"


def test_specialists_take_the_sorties_of_their_kind(repo, hive, tmp_path):
    kinds = ["python", "docs", "python", "python", "docs", "python", "python", "docs"]
    m = hive.missions.create("m", sorties=[{"title": f"s{k}", "specialist": kind}
                                           for k, kind in enumerate(kinds)])
    by_id = {s.id: s for s in hive.missions.get(m.id).sorties}
    specialists = FakeSpecialists(load_of=lambda name: sum(
        1 for s in hive.sorties.list(status=["assigned", "in_progress"])
        if s.claimed_by == name))
    specialists.register("py-1", ["python"])
    specialists.register("py-2", ["python", "shell"])
    specialists.register("writer", ["docs"])
    log = tmp_path / "agents.log"
    agent = write_agent(tmp_path)
    summary = dispatcher(hive, specialists).run(
        m.id, Options(agent=agent, workers=3, lease_ttl=0.3),
        environ={**os.environ, "AGENT_LOG": str(log), "AGENT_SLEEP": "0.5"})
    assert summary.ok, summary.to_json()
    runs = intervals(log)
    assert len(runs) == len(kinds)
    for r in runs:
        kind = by_id[r.sortie].specialist
        assert r.actor in ({"py-1", "py-2"} if kind == "python" else {"writer"}), r
    python_runs = [r.actor for r in runs if by_id[r.sortie].specialist == "python"]
    assert {"py-1", "py-2"} == set(python_runs)  # the load was shared
    # running specialists are kept alive while their agents work (lease renewals)
    assert all(sp.heartbeats > 0 for sp in specialists.known.values())


def test_with_no_specialist_registered_dispatch_registers_its_workers(repo, hive, tmp_path):
    m = hive.missions.create("m", sorties=[{"title": "a", "specialist": "python"},
                                           {"title": "b", "specialist": "go"}])
    specialists = FakeSpecialists()
    summary = dispatcher(hive, specialists).run(m.id, Options(agent="true", workers=2),
                                                environ=dict(os.environ))
    assert summary.ok
    assert specialists.registered == [("lead/w1", ["go", "python"]),
                                      ("lead/w2", ["go", "python"])]


def test_a_kind_nobody_can_do_is_left_waiting(repo, hive):
    m = hive.missions.create("m", sorties=[{"title": "a", "specialist": "rust"}])
    specialists = FakeSpecialists()
    specialists.register("py", ["python"])
    summary = dispatcher(hive, specialists).run(m.id, Options(agent="true"),
                                                environ=dict(os.environ))
    assert not summary.ok and summary.waiting == [hive.missions.get(m.id).sorties[0].id]
    assert summary.tries == 0


def test_a_running_sortie_s_lease_and_reservations_are_renewed(repo, hive, tmp_path):
    m = hive.missions.create("m", sorties=[{"title": "long", "files": ["src/long.py"]}])
    (s,) = hive.missions.get(m.id).sorties
    seen = tmp_path / "lease.json"
    lease = hive.layout.dispatch_leases / f"{s.id}.json"
    # the agent copies its lease twice, a second apart: the expiry has moved on
    agent = (f"cp {lease} {seen}.1; sleep 1.2; cp {lease} {seen}.2")
    summary = hive.dispatch.run(m.id, Options(agent=agent, lease_ttl=0.3),
                                environ=dict(os.environ))
    assert summary.ok, summary.to_json()
    first, second = (json.loads(Path(f"{seen}.{k}").read_text()) for k in (1, 2))
    assert first["pid"] == second["pid"] == os.getpid() and second["pgid"] is not None
    assert second["expires"] > first["expires"]
    renewed = hive.events.query(type="reservation_renewed")
    assert renewed and {(e.data["holder"], e.data["path"]) for e in renewed} == {
        ("lead/w1", "src/long.py")}
    assert not lease.exists()
