"""The number of events the index holds, kept in ``meta`` as catch-ups change it (``status``
reports it without counting a million rows): equal to a count after every kind of change
the log can go through."""

from __future__ import annotations

from pathlib import Path

from tests.support import git


def note(hive, text: str, stream: str = "note:1"):
    return hive.events.append("note_added", stream=stream, data={"text": text})


def segments(repo: Path) -> list[Path]:
    return sorted((repo / ".fleet" / "events").glob("*/*.jsonl"))


def assert_counted(hive) -> int:
    hive.index.catch_up()
    (kept,) = hive.index.read("SELECT value FROM meta WHERE key = 'event_count'")[0]
    (counted,) = hive.index.read("SELECT COUNT(*) FROM events")[0]
    assert int(kept) == counted == hive.index.status().events
    return counted


def test_the_kept_count_follows_appends_drops_edits_and_rebuilds(hive, repo: Path):
    assert assert_counted(hive) == 0
    for i in range(5):
        note(hive, f"n{i}")
    hive.events.append_batch([{"type": "note_added", "stream": "note:2",
                               "data": {"text": f"b{i}"}} for i in range(70)])
    assert assert_counted(hive) == 75
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", "events")

    (seg,) = segments(repo)
    data = seg.read_bytes()
    seg.write_bytes(data[: data.index(b"\n", len(data) // 2) + 1])  # cut in the middle
    cut = assert_counted(hive)
    assert 0 < cut < 75
    git(repo, "checkout", "--", ".fleet")  # the lines come back (with new numbers)
    assert assert_counted(hive) == 75

    lines = seg.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"n2"', b'"N2"')  # bytes already read, changed
    seg.write_bytes(b"\n".join(lines))
    assert assert_counted(hive) == 75  # dropped from the edit on, read again as they are now
    assert hive.index.damage is not None
    git(repo, "checkout", "--", ".fleet")
    assert assert_counted(hive) == 75

    # the same event twice (a line copied into another segment): one row
    other = seg.parent / "zzzz-copied.jsonl"
    other.write_bytes(seg.read_bytes().split(b"\n")[0] + b"\n")
    assert assert_counted(hive) == 75
    other.unlink()
    note(hive, "after")
    assert assert_counted(hive) == 76

    seg.unlink()  # the segment deleted by hand: its events are gone from answers
    assert assert_counted(hive) == 0
    git(repo, "checkout", "--", ".fleet")  # as committed: without the note "after"
    assert assert_counted(hive) == 75
    note(hive, "after, again")
    assert assert_counted(hive) == 76

    hive.index.rebuild()
    assert assert_counted(hive) == 76


def test_an_index_made_before_the_count_was_kept_counts_once(hive, repo: Path):
    for i in range(3):
        note(hive, f"n{i}")
    hive.index.catch_up()
    db = hive.index.db
    db.execute("DELETE FROM meta WHERE key = 'event_count'")  # as an older version left it
    assert hive.index.status().events == 3  # counted
    note(hive, "more")
    assert assert_counted(hive) == 4
