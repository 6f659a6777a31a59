"""``examples/agent.sh`` (the agent ``docs/agents.md`` shows) works as documented: with no
AGENT_CLI it writes its note and reports progress; with one it hands it the prompt and its
exit status decides the try."""

from __future__ import annotations

import sys
from pathlib import Path

import fleet_hive
from tests.support import PROJECT
from tests.support.dispatch import run_dispatch

AGENT = f"sh {PROJECT / 'examples' / 'agent.sh'}"
FLEET_HIVE = f"{sys.executable} -m fleet_hive"


def test_the_example_agent_completes_sorties_and_reports_progress(repo, hive):
    m = hive.missions.create("Example", sorties=[{"title": "First thing"},
                                                 {"title": "Second thing", "after": [0]}])
    first, second = (s.id for s in hive.missions.get(m.id).sorties)
    hive.close()
    result, records = run_dispatch(repo, m.id, "--agent", AGENT,
                                   env={"FLEET_HIVE": FLEET_HIVE, "FLEET_ACTOR": "lead"})
    assert result.returncode == 0, result.stderr
    note = (repo / "notes" / f"{first}.md").read_text()
    assert note.startswith("# First thing\n") and "Done by lead/w1 (try 1)" in note
    assert (repo / "notes" / f"{second}.md").exists()
    with fleet_hive.open(repo) as h:
        notes = [e.data["note"] for e in h.events.query(type="sortie_progressed")]
        assert "read the prompt" in notes and "done: Second thing" in notes
        assert h.missions.get(m.id, sorties=False).status == "completed"
    assert records[-1]["ok"] is True


def test_the_example_agent_hands_the_prompt_to_a_cli_and_keeps_its_status(repo, hive,
                                                                          tmp_path: Path):
    m = hive.missions.create("Example", sorties=[{"title": "Delegated"}])
    (s,) = hive.missions.get(m.id).sorties
    hive.close()
    seen = tmp_path / "prompt.md"
    llm = f"cat > {seen}; echo 'model unavailable' >&2; exit 7"
    result, _ = run_dispatch(repo, m.id, "--agent", AGENT, "--retries", "0",
                             env={"FLEET_HIVE": FLEET_HIVE, "AGENT_CLI": llm})
    assert result.returncode == 1
    assert seen.read_text().startswith("# Your task: Delegated")
    with fleet_hive.open(repo) as h:
        reason = h.sorties.get(s.id).reason
        assert "agent exited 7" in reason and "model unavailable" in reason
