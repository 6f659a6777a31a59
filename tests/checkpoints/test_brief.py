"""The context brief: a hard cap in UTF-8 bytes, cut by whole lines with pointers to the
full form, still naming the mission, the work in flight and what is next."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fleet_hive
from fleet_hive.checkpoints.brief import (
    MIN_MAX_BYTES,
    build_brief,
    render_brief,
    render_markdown,
)
from fleet_hive.kernel.errors import InvalidInputError
from tests.support import git, run_cli

TITLES = {
    "ascii": "Sortie {i}: refactor the module loader and its tests",
    "cjk": "任务 {i}\uff1a重构模块加载器并更新所有相关的测试用例和文档说明",
    "emoji": "🚀 {i} ✨ ship it 🛠️🧪📦 with 👩‍💻 and 🇫🇷 flags " + "🔥" * 20,
    "combining": "Se\u0301ance {i} — cafe\u0301 na\u0308ive Z\u0327\u0301 " * 4,
}
SIZES = [MIN_MAX_BYTES, 500, 1000, 2000, 4096, 8192]


def _mission(root: Path, title: str, n: int = 200) -> dict[str, Any]:
    git(root, "init", "-q", "-b", "main")
    with fleet_hive.init(root, actor="lead") as h:
        m = h.missions.create(title.format(i="M") + " mission",
                              description=("The goal: " + title.format(i="G") + "\n") * 30)
        h.missions.start(m.id)
        sorties = h.sorties.add_many(m.id, [
            {"title": title.format(i=i), "files": [f"src/part{i}/**"]} for i in range(n)])
        for s in sorties[:n // 3]:
            h.sorties.claim(s.id)
            h.sorties.start(s.id)
            h.sorties.complete(s.id)
        flight = sorties[n // 3:n // 3 + 4]
        for k, s in enumerate(flight):
            h.sorties.claim(s.id, specialist=f"agent-{k}")
            h.sorties.start(s.id, force=True)
            h.sorties.progress(s.id, 25 * k, note=title.format(i="note"), force=True)
        failed = sorties[n // 3 + 4]
        h.sorties.claim(failed.id)
        h.sorties.fail(failed.id, reason="tests failed: " + title.format(i="E"))
        blocked = sorties[n // 3 + 5]
        h.sorties.claim(blocked.id)
        h.sorties.start(blocked.id)
        h.sorties.block(blocked.id, reason="waiting for the API review")
        h.sorties.update(sorties[-1].id, after=[sorties[-2].id])
        return {"id": m.id, "flight": [s.id for s in flight],
                "ready": [s.id for s in sorties[n // 3 + 6:-1]], "failed": failed.id,
                "blocked": blocked.id, "waiting": sorties[-1].id,
                "brief": h.recovery.brief(m.id),
                "agent": h.recovery.brief(m.id, specialist="agent-1")}


@pytest.fixture(scope="module", params=list(TITLES))
def big(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        ) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp(f"brief-{request.param}")
    yield {"root": root, "kind": request.param,
           **_mission(root, TITLES[request.param])}


def _lines_are_whole(capped: str, full: str) -> None:
    """Every line of the capped brief is a line of the full one, or a pointer."""
    whole = set(full.split("\n"))
    for line in capped.rstrip("\n").split("\n"):
        assert line in whole or line.startswith("- … "), line


@pytest.mark.parametrize("max_bytes", SIZES)
def test_markdown_is_capped_and_still_names_the_essentials(big: dict[str, Any],
                                                           max_bytes: int):
    text = render_brief(big["brief"], max_bytes)
    assert len(text.encode("utf-8")) <= max_bytes
    assert text.endswith("\n")
    assert big["id"] in text.split("\n")[0]
    full = render_brief(big["brief"], 0)
    _lines_are_whole(text, render_markdown(big["brief"], max_bytes))
    assert len(full.encode("utf-8")) > 8192  # 200 sorties do not fit: it was cut
    assert f"fleet-hive context {big['id']} --max-bytes 0" in text
    if max_bytes >= 1000:
        flight = text.split("## In flight")[1].split("\n## ")[0]
        assert big["flight"][0] in flight
        nxt = text.split("## Next: ready to claim")[1].split("\n## ")[0]
        assert big["ready"][0] in nxt
        assert "more ready sorties: fleet-hive context" in nxt


def test_the_full_form_has_everything(big: dict[str, Any]):
    full = render_brief(big["brief"], 0)
    for sortie_id in [*big["flight"], *big["ready"], big["failed"], big["blocked"],
                      big["waiting"]]:
        assert sortie_id in full
    assert "- … " not in full
    for heading in ("## Goal", "## In flight", "## Next: ready to claim", "## Last error",
                    "## Blockers", "## Reservations", "## Recent mail",
                    "## Waiting on dependencies", "## Done"):
        assert heading in full
    assert "tests failed" in full.split("## Last error")[1].split("\n## ")[0]
    assert "waiting for the API review" in full.split("## Blockers")[1]
    # the blocker was escalated to the coordinator by mail, and the brief shows it
    mail = full.split("## Recent mail")[1].split("\n## ")[0]
    assert "**high** Blocked:" in mail and "waiting for the API review" in mail


@pytest.mark.parametrize("max_bytes", [1000, 2000, 8192])
def test_json_is_capped_and_says_what_it_left_out(big: dict[str, Any], max_bytes: int):
    text = render_brief(big["brief"], max_bytes, "json")
    assert len(text.encode("utf-8")) <= max_bytes
    doc = json.loads(text)
    assert doc["mission"]["id"] == big["id"] and doc["mission"]["sorties"] == 200
    assert doc["truncated"]["done"] == 66 - len(doc["done"])
    assert doc["truncated"]["next"] == len(big["ready"]) - len(doc["next"])
    assert doc["full"] == f"fleet-hive context {big['id']} --max-bytes 0 --format json"
    if max_bytes >= 2000:
        assert doc["in_flight"][0]["id"] == big["flight"][0]
        assert doc["next"][0]["id"] == big["ready"][0]
    whole = json.loads(render_brief(big["brief"], 0, "json"))
    assert whole["truncated"] == {} and len(whole["next"]) == len(big["ready"])


def test_a_specialist_gets_its_sortie_and_what_to_do(big: dict[str, Any]):
    text = render_brief(big["agent"], 2000)
    assert len(text.encode("utf-8")) <= 2000
    you = text.split("## You: agent-1")[1].split("\n## ")[0]
    assert big["flight"][1] in you and "src/part" in you
    assert "last progress note" in you
    assert f"fleet-hive sortie complete {big['flight'][1]}" in you
    assert "--specialist agent-1 --max-bytes 0" in text


@pytest.mark.parametrize("big", ["emoji"], indirect=True)  # one kind of title is enough
def test_context_as_a_process(big: dict[str, Any]):
    root = big["root"]
    capped = run_cli("-C", str(root), "context", big["id"][:6], "--max-bytes", "2000")
    assert capped.returncode == 0, capped.stderr
    assert len(capped.stdout.encode("utf-8")) <= 2000 and big["id"] in capped.stdout
    as_json = run_cli("-C", str(root), "--json", "context", big["id"], "--max-bytes", "3000")
    assert len(as_json.stdout.encode("utf-8")) <= 3000
    assert json.loads(as_json.stdout)["mission"]["id"] == big["id"]
    default = run_cli("-C", str(root), "context", big["id"])
    assert 4000 < len(default.stdout.encode("utf-8")) <= 8192
    small = run_cli("-C", str(root), "context", big["id"], "--max-bytes", "50", "--json")
    assert small.returncode == 1
    assert json.loads(small.stdout)["error"]["code"] == "invalid_input"
    missing = run_cli("-C", str(root), "context", "m-nothere", "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"
    usage = run_cli("-C", str(root), "context", big["id"], "--format", "yaml")
    assert usage.returncode == 2


def test_a_small_mission_is_never_cut(hive, repo: Path):
    m = hive.missions.create("Tiny", description="")
    s = hive.sorties.add(m.id, "Only one", files=["a.py"])
    text = render_brief(hive.recovery.brief(m.id), 8192)
    assert "- … " not in text and s.id in text and "_No description._" in text
    assert "_Nothing is in flight._" in text and "_Nothing is completed yet._" in text


def test_headings_inside_the_goal_cannot_break_the_sections(hive):
    m = hive.missions.create("Headings", description="## In flight\n- fake item\n\n## Done")
    hive.sorties.add(m.id, "real")
    data = hive.recovery.brief(m.id)
    text = render_brief(data, MIN_MAX_BYTES)
    assert len(text.encode("utf-8")) <= MIN_MAX_BYTES
    full = render_brief(data, 0)
    assert "> ## In flight" in full and "> - fake item" in full


@pytest.mark.parametrize("bad", [-1, 1, MIN_MAX_BYTES - 1, "8k", None, True])
def test_bad_caps_are_refused(hive, bad: Any):
    m = hive.missions.create("m")
    with pytest.raises(InvalidInputError):
        render_brief(hive.recovery.brief(m.id), bad)


def test_build_brief_is_plain_data(hive):
    m = hive.missions.create("m", description="goal")
    a = hive.sorties.add(m.id, "a")
    b = hive.sorties.add(m.id, "b", after=[a.id])
    mission = hive.missions.get(m.id)
    data = build_brief(mission, mission.sorties or [], specialist="nobody")
    assert json.loads(json.dumps(data)) == data
    assert [x["id"] for x in data["next"]] == [a.id]
    assert [x["id"] for x in data["waiting"]] == [b.id]
    assert data["specialist"]["todo"].startswith(f"claim {a.id}")
    assert data["specialist"]["command"] == f"fleet-hive sortie claim {a.id} --specialist nobody"
    assert data["mail"] == [] and data["goal"] == "goal"


@pytest.mark.parametrize("text", ["", "py-1", "a b", "it's", "é", "a\nb", "$HOME", "x*",
                                  "--flag", "a'b\"c", "_@%+=:,./-", "\t"])
def test_shell_quote_is_shlex_quote(text: str):
    import shlex

    from fleet_hive.checkpoints.brief import shell_quote

    assert shell_quote(text) == shlex.quote(text)
