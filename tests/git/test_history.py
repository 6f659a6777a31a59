"""``fleet-hive history``: the events a commit range added, as Markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.app.history import History, render_markdown, summarise
from fleet_hive.kernel.errors import NotFoundError
from tests.support import git, run_cli


@pytest.fixture
def feature(repo: Path):
    """main holds an old mission; branch ``feature`` adds a mission's whole story."""
    hive = fleet_hive.init(repo, actor="alice")
    old = hive.missions.create("Old mission")
    hive.git.commit("fleet: old mission")
    git(repo, "checkout", "-q", "-b", "feature")
    m = hive.missions.create("Ship the parser", labels=["parser"])
    hive.missions.start(m.id)
    lexer = hive.sorties.add(m.id, "Write the lexer")
    grammar = hive.sorties.add(m.id, "Write the grammar")
    docs = hive.sorties.add(m.id, "Document it")
    bob = fleet_hive.open(repo, actor="bob")
    bob.sorties.claim(lexer.id, specialist="bob-bot")
    bob.sorties.start(lexer.id)
    bob.sorties.progress(lexer.id, 50, note="halfway")
    bob.sorties.complete(lexer.id, reason="all tokens")
    hive.sorties.claim(grammar.id, specialist="alice-bot")
    hive.sorties.start(grammar.id)
    hive.sorties.fail(grammar.id, reason="ambiguous | grammar")
    hive.sorties.cancel(docs.id, reason="later")
    hive.git.commit("fleet: parser work")
    hive.events.append("note_added", stream="note:1", data={"text": "a note"})
    hive.sorties.cancel(grammar.id, reason="dropped")
    hive.missions.complete(m.id, reason="good enough")
    (repo / "parser.py").write_text("pass\n")
    git(repo, "add", "parser.py")
    git(repo, "commit", "-q", "-m", "parser code")
    hive.git.commit("fleet: finish")
    return hive, old, m, (lexer, grammar, docs)


def test_history_of_a_feature_branch_as_json(feature):
    hive, _old, m, _sorties = feature
    result = run_cli("-C", str(hive.root), "history", "--format", "json")
    assert result.returncode == 0, result.stderr
    h = json.loads(result.stdout)
    assert h["since_label"] == "main" and h["until_label"] == "HEAD"
    assert len(h["commits"]) == 3
    assert [x["id"] for x in h["missions"]] == [m.id]  # the old mission is before the range
    mission = h["missions"][0]
    assert mission["title"] == "Ship the parser" and mission["created"]
    assert mission["status"] == "completed" and mission["finished"]
    assert [t["type"] for t in mission["transitions"]] == [
        "mission_created", "mission_started", "mission_completed"]
    sorties = {s["title"]: s for s in mission["sorties"]}
    assert sorties["Write the lexer"]["status"] == "completed"
    assert sorties["Write the lexer"]["claimed_by"] == "bob-bot"
    assert sorties["Write the lexer"]["actors"] == ["alice", "bob"]
    assert sorties["Write the grammar"]["status"] == "cancelled"
    assert [o["outcome"] for o in sorties["Write the grammar"]["outcomes"]] == ["failed",
                                                                               "cancelled"]
    assert sorties["Document it"]["status"] == "cancelled"
    actors = {a["actor"]: a for a in h["actors"]}
    assert "completed sortie “Write the lexer”" in actors["bob"]["did"]
    assert "created mission “Ship the parser”" in actors["alice"]["did"]
    # the checkpoints the work triggered: 25 % crossed (1 of 3 done), the failure, 50 %
    # (1 of 2 once one was cancelled), 75 % (1 of 1)
    assert [(c["type"], c["stream"], c["mission_id"], c["trigger"], c["progress"])
            for c in h["checkpoints"]] == [
        ("checkpoint_created", f"checkpoints:{m.id}", m.id, trigger, progress)
        for trigger, progress in (("progress", 33), ("error", 33), ("progress", 50),
                                  ("progress", 100))]
    assert all(c["id"].startswith("c-") for c in h["checkpoints"])
    assert {s["type"] for s in h["streams"]} == {"checkpoints", "note", "outcome"}
    assert h["conflicts"] == []


def test_history_as_markdown_for_a_pull_request(feature):
    hive, _old, m, _ = feature
    result = run_cli("-C", str(hive.root), "history")
    assert result.returncode == 0, result.stderr
    md = result.stdout
    assert md.startswith("## Fleet history: main → HEAD\n")
    assert f"- **Ship the parser** (`{m.id}`): created → started → completed" in md
    assert "✅ Write the lexer" in md and "claimed by bob-bot" in md
    assert "ambiguous \\| grammar" not in md  # the last reason shown is the latest one
    assert "🚫 Write the grammar" in md and ": dropped" in md
    # bob's completion crossed 25 %: the checkpoint it triggered is his too, and so is
    # the outcome it recorded (for learning)
    assert "| bob | 6 | claimed sortie “Write the lexer”" in md
    assert "recorded the outcome of " in md
    assert "### Checkpoints" in md and "(progress, 33 %)" in md
    assert "<details><summary>3 commits</summary>" in md
    assert "Old mission" not in md


def test_explicit_range_mission_filter_and_root(feature):
    hive, old, m, _ = feature
    whole = run_cli("-C", str(hive.root), "--json", "history", "--since", "main~1",
                    "--until", "feature")
    ids = {x["id"] for x in json.loads(whole.stdout)["missions"]}
    assert ids == {old.id, m.id}
    only = run_cli("-C", str(hive.root), "history", "--json", "--mission", old.id[:6],
                   "--since", "main~1")
    data = json.loads(only.stdout)
    assert data["mission"] == old.id and [x["id"] for x in data["missions"]] == [old.id]
    git(hive.root, "checkout", "-q", "main")
    on_main = json.loads(run_cli("-C", str(hive.root), "--json", "history").stdout)
    assert on_main["since"] is None and on_main["since_label"] == "the root"
    assert [x["title"] for x in on_main["missions"]] == ["Old mission"]
    with pytest.raises(NotFoundError):
        from fleet_hive.app.history import history

        history(hive, since="no-such-ref")
    empty = run_cli("-C", str(hive.root), "history", "--since", "HEAD")
    assert "No fleet activity" in empty.stdout


def test_concurrent_outcomes_are_reported_as_the_fold_sees_them():
    def ev(i, type_, stream, writer, data, actor="x"):
        return {"id": f"E{i}", "type": type_, "stream": stream, "clock": i, "writer": writer,
                "n": i, "time": "t", "actor": actor, "data": data}

    def after(prev, *merged):
        return {"prev": prev, "merged": list(merged)}

    events = [ev(1, "mission_created", "mission:m-1", "w1", {"title": "M"}),
              ev(2, "sortie_added", "sortie:s-1", "w1", {"mission_id": "m-1", "title": "S"}),
              ev(3, "sortie_claimed", "sortie:s-1", "w1", {"specialist": "ada", **after("E2")}),
              ev(4, "sortie_started", "sortie:s-1", "w1", after("E3")),
              ev(5, "sortie_completed", "sortie:s-1", "w2", after("E4"), "bob"),
              ev(6, "sortie_failed", "sortie:s-1", "w3", {"reason": "flaky", **after("E4")},
                 "carol")]
    h = summarise(History(None, "x", "a", "b"), events)
    (s,) = h.missions[0].sorties
    assert s.status == "completed", "the first outcome in total order stands, as in show"
    assert [(o["outcome"], o["applied"]) for o in s.outcomes] == [("completed", True),
                                                                  ("failed", False)]
    (c,) = h.conflicts
    assert (c["kind"], c["stream"], c["open"], c["kept"]) == ("outcome", "sortie:s-1", True,
                                                              "E5")
    md = render_markdown(h)
    assert "### Conflicts" in md and "completed and failed concurrently" in md
    resolved = [*events, ev(7, "sortie_conflicts_resolved", "sortie:s-1", "w1",
                            {"reason": "ok", **after("E6", "E5")})]
    (c,) = summarise(History(None, "x", "a", "b"), resolved).conflicts
    assert (c["open"], c["resolved_by"]) == (False, "E7")


def test_history_after_a_merge_agrees_with_show(repo: Path):
    from tests.support.branches import diverge

    hive = fleet_hive.init(repo, actor="alice")
    hive.git.commit("fleet: init")
    git(repo, "checkout", "-q", "-b", "work")
    m = hive.missions.create("M")
    s = hive.sorties.add(m.id, "S")
    hive.sorties.claim(s.id, specialist="ada")
    hive.sorties.start(s.id)
    diverge(repo, lambda: hive.sorties.complete(s.id, reason="done on b1"),
            lambda: hive.sorties.fail(s.id, reason="broken on b2"))
    shown = json.loads(run_cli("-C", str(repo), "sortie", "show", s.id, "--json").stdout)
    out = run_cli("-C", str(repo), "history", "--since", "main", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    (ms,) = [x for x in summary["missions"] if x["id"] == m.id]
    (ss,) = ms["sorties"]
    assert (ss["status"], ss["reason"]) == (shown["status"], shown["reason"])
    assert [c["kind"] for c in summary["conflicts"]] == ["outcome"]
    assert summary["conflicts"][0]["kept"] == shown["conflicts"][0]["kept"]
    md = run_cli("-C", str(repo), "history", "--since", "main").stdout
    assert "### Conflicts" in md and "(open)" in md
