"""Human output is safe to print and lines up (issue 10, item 15): control characters in data
are shown as escapes, JSON keeps them exact, and wide (CJK) characters count two columns."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from fleet_hive.cli import main
from fleet_hive.cli.output import clean, display_width, short, table

HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J\x08title\x9b31m\u202egnp."


def invoke(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def _has_control(text: str) -> bool:
    return any((unicodedata.category(c) == "Cc" and c != "\n") or c == "\u202e" for c in text)


def test_clean_escapes_controls_and_keeps_lines_only_when_asked():
    assert clean("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert clean("a\nb\tc\rd") == "a\\x0ab\\x09c\\x0dd"
    assert clean("a\nb\tc\rd", multiline=True) == "a\nb\tc\\x0dd"
    assert clean("\x9b\u202e\u2028") == "\\x9b\\u202e\\u2028"
    assert clean("日本語 ok") == "日本語 ok"


def test_display_width_counts_wide_characters_twice():
    assert display_width("abc") == 3
    assert display_width("日本語") == 6
    assert display_width("\uff46\uff55\uff4c\uff4c") == 8  # fullwidth forms
    assert display_width("e\u0301") == 1  # a combining accent takes no column
    assert display_width(short("日本語のタイトル" * 10, 20)) <= 20


def test_table_aligns_cjk_cells():
    text = table([("m-1", "日本語のタイトル", "x"), ("m-22", "plain", "y")], ("id", "title", "z"))
    lines = text.splitlines()
    # the third column starts at the same display column on every line
    starts = [display_width(line[: line.rindex(" ") + 1]) for line in lines]
    assert len(set(starts)) == 1, text


def test_hostile_and_wide_titles_in_human_output_but_exact_in_json(repo: Path, capsys):
    assert invoke(capsys, "-C", str(repo), "init")[0] == 0
    code, out, _ = invoke(capsys, "-C", str(repo), "--json", "mission", "create", HOSTILE,
                          "--description", "line one\nline two\x1b[2J")
    assert code == 0
    mission = json.loads(out)
    assert mission["title"] == HOSTILE  # JSON stays exact
    code, out, _ = invoke(capsys, "-C", str(repo), "mission", "create", "日本語のタイトル")
    assert code == 0 and not _has_control(out)
    for args in (["mission", "show", mission["id"]], ["mission", "list"], ["status"],
                 ["events", "list"]):
        code, out, err = invoke(capsys, "-C", str(repo), *args)
        assert code == 0, err
        assert not _has_control(out), (args, out)
        assert "\\x1b]0;pwned\\x07" in out or args == ["events", "list"], (args, out)
    code, out, _ = invoke(capsys, "-C", str(repo), "mission", "show", mission["id"])
    assert "line one\nline two\\x1b[2J" in out  # a description keeps its lines
    code, out, _ = invoke(capsys, "-C", str(repo), "mission", "list")
    lines = [line for line in out.splitlines() if line.strip()]
    title_at = {display_width(line[: line.index(t)]) for line in lines
                for t in ("TITLE", "日本語", "evil") if t in line}
    assert len(title_at) == 1, out
