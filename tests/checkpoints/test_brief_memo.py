"""The brief's memo (``.fleet/.cache/briefs/``): a process asked for the brief of data it
has seen prints the brief rendered before, byte for byte what a fresh render gives; a
change in the data, a broken memo file or a new template is a fresh render."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet_hive.checkpoints import brief as briefs
from fleet_hive.checkpoints.brief import MD_UNSHOWN, MEMO_KEEP, render_brief, render_brief_memo
from fleet_hive.kernel.resources import read_text
from tests.support import modules_loaded_by, run_cli
from tests.support.checkpoints import started_mission


@pytest.fixture
def memo(tmp_path: Path) -> Path:
    return tmp_path / "briefs"


@pytest.mark.parametrize("fmt", ["md", "json"])
@pytest.mark.parametrize("cap", [0, 2000, 8192])
def test_a_remembered_brief_is_the_fresh_render(hive, memo: Path, fmt: str, cap: int):
    mission_id, _ = started_mission(hive, 40)
    data = hive.recovery.brief(mission_id)
    fresh = render_brief(data, cap, fmt)
    first = render_brief_memo(data, cap, fmt, memo)
    assert len(list(memo.iterdir())) == 1
    again = render_brief_memo(data, cap, fmt, memo)
    assert first == again == fresh
    if cap:
        assert len(fresh.encode("utf-8")) <= cap


def test_the_clock_in_the_data_the_template_does_not_show_still_hits(hive, memo: Path):
    mission_id, _ = started_mission(hive, 5)  # claimed: reservations with expires_in
    one = hive.recovery.brief(mission_id)
    two = {**one, "reservations": [{**r, "expires_in": r["expires_in"] - 7.5}
                                   for r in one["reservations"]]}
    assert one["reservations"] and one != two
    assert render_brief_memo(one, 8192, "md", memo) == render_brief_memo(two, 8192, "md", memo)
    assert len(list(memo.iterdir())) == 1  # one key for both
    render_brief_memo(one, 8192, "json", memo)
    assert render_brief_memo(two, 8192, "json", memo) == render_brief(two, 8192, "json")
    assert len(list(memo.iterdir())) == 3  # JSON shows expires_in: two keys


def test_the_fields_left_out_of_the_key_are_not_in_the_template():
    source = read_text("templates", briefs.TEMPLATE)
    for fields in MD_UNSHOWN.values():
        for field in fields:
            assert field not in source


def test_changed_data_renders_afresh(hive, memo: Path):
    mission_id, ids = started_mission(hive, 5)
    before = render_brief_memo(hive.recovery.brief(mission_id), 8192, "md", memo)
    hive.sorties.progress(ids[0], 60, note="half way through the parser")
    data = hive.recovery.brief(mission_id)
    after = render_brief_memo(data, 8192, "md", memo)
    assert after != before and "half way through the parser" in after
    assert after == render_brief(data, 8192, "md")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "directory"])
def test_a_broken_memo_file_is_a_fresh_render(hive, memo: Path, damage: str):
    mission_id, _ = started_mission(hive, 5)
    data = hive.recovery.brief(mission_id)
    good = render_brief_memo(data, 8192, "md", memo)
    (path,) = memo.iterdir()
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\xff\xfe" + raw[2:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
        path.mkdir()
    assert render_brief_memo(data, 8192, "md", memo) == good


def test_a_new_template_renders_afresh(hive, memo: Path, monkeypatch, tmp_path: Path):
    mission_id, _ = started_mission(hive, 3)
    data = hive.recovery.brief(mission_id)
    render_brief_memo(data, 8192, "md", memo)
    template = tmp_path / "context.md.j2"
    template.write_text(read_text("templates", briefs.TEMPLATE))
    real = briefs._memo_sources
    monkeypatch.setattr(briefs, "_memo_sources",
                        lambda fmt: [*real(fmt)[:-1], str(template)])
    render_brief_memo(data, 8192, "md", memo)
    assert len(list(memo.iterdir())) == 2  # another key: the template's file differs


def test_at_most_memo_keep_files_stay(hive, memo: Path):
    mission_id, _ = started_mission(hive, 3)
    data = hive.recovery.brief(mission_id)
    for cap in range(1000, 1000 + MEMO_KEEP + 8):
        render_brief_memo(data, cap, "md", memo)
    assert len(list(memo.iterdir())) == MEMO_KEEP


def test_context_twice_as_processes_the_second_without_jinja2(repo: Path, hive):
    mission_id, _ = started_mission(hive, 20)
    hive.index.catch_up()
    first = run_cli("-C", str(repo), "context", mission_id)
    assert first.returncode == 0, first.stderr
    loaded, second = modules_loaded_by(repo, "context", mission_id)
    assert second.returncode == 0 and second.stdout == first.stdout
    top = {m.split(".")[0] for m in loaded}
    # nor pathlib or shlex (re), which a read has no use for (the probe itself imports
    # json and with it re: tests/test_architecture.py checks those on processes)
    assert top.isdisjoint({"jinja2", "pathlib", "shlex"}), \
        sorted(top & {"jinja2", "pathlib", "shlex"})
    assert (repo / ".fleet" / ".cache" / "briefs").is_dir()
