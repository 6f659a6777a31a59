"""The segment log on real files: torn tails, batches, rotation, writer forks, verify."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import orjson

import fleet_hive
from fleet_hive.app.verify import verify
from fleet_hive.events.log import PendingEvent, SegmentLog
from fleet_hive.kernel.layout import Layout
from tests.support import git, segment_lines


def note(hive, text="x", stream="s:1"):
    return hive.events.append("note_added", stream=stream, data={"text": text})


def segments(root: Path) -> list[Path]:
    return sorted((root / ".fleet" / "events").glob("*/*.jsonl"))


def test_lines_are_the_documented_envelope(hive, repo):
    ev = note(hive, "hello")
    (line,) = segment_lines(repo)
    stored = json.loads(line)
    assert list(stored) == ["id", "type", "stream", "clock", "writer", "n", "time", "actor",
                            "causation_id", "correlation_id", "schema_version", "data"]
    assert stored["id"] == ev.id and stored["actor"] == "tester"
    assert segments(repo)[0].parent.name == stored["writer"]


def test_torn_tail_is_reported_never_hides_events_never_glued(hive, repo):
    for i in range(5):
        note(hive, str(i))
    (seg,) = segments(repo)
    with open(seg, "ab") as f:  # what a crash mid-write leaves behind
        f.write(b'{"id":"01TORN","type":"note_ad')
    assert hive.events.latest_sequence() == 5
    report = verify(hive)
    assert report.ok and [p.kind for p in report.problems] == ["torn_tail"]
    assert report.problems[0].severity == "warning"
    after = note(hive, "after the crash")
    assert len(segments(repo)) == 2, "the next append must start a new segment"
    assert seg.read_bytes().endswith(b'"type":"note_ad'), "torn bytes left as they were"
    texts = [e.data["text"] for e in hive.events.by_stream("s:1")]
    assert texts == ["0", "1", "2", "3", "4", "after the crash"]
    assert after.n == 6
    assert verify(hive).ok


def test_batch_cut_short_is_invisible_and_n_stays_gapless(hive, repo):
    note(hive, "before")
    state = repo / ".fleet" / "local" / "writer.state"
    saved = state.read_bytes()  # a crash mid-batch happens before the state is saved
    hive.events.append_batch([{"type": "note_added", "stream": "s:1",
                               "data": {"text": f"b{i}"}} for i in range(4)])
    (seg,) = segments(repo)
    lines = seg.read_bytes().split(b"\n")
    # keep "before" and the first two batch lines: as if the machine died mid-batch
    seg.write_bytes(b"\n".join(lines[:3]) + b"\n")
    state.write_bytes(saved)
    hive.index.rebuild()
    assert [e.data["text"] for e in hive.events.by_stream("s:1")] == ["before"]
    report = verify(hive)
    assert report.ok and [p.kind for p in report.problems] == ["torn_tail"]
    ev = note(hive, "next")
    assert ev.n == 2, "n continues after the last event readers accept"
    assert [e.data["text"] for e in hive.events.by_stream("s:1")] == ["before", "next"]
    assert verify(hive).ok


def test_segments_rotate_at_the_size_bound(repo):
    fleet_hive.init(repo)
    cfg = repo / ".fleet" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("segment_max_bytes: 8388608",
                                           "segment_max_bytes: 4096"))
    hive = fleet_hive.open(repo)
    for i in range(100):
        note(hive, "x" * 50 + str(i))
    assert len(segments(repo)) > 3
    assert all(p.stat().st_size <= 4096 for p in segments(repo))
    evs = hive.events.by_stream("s:1")
    assert [e.n for e in evs] == list(range(1, 101))
    assert len({p.parent.name for p in segments(repo)}) == 1
    assert verify(hive).ok


def test_segments_made_in_one_millisecond_sort_in_the_order_they_were_made(repo, monkeypatch):
    import fleet_hive.kernel.ids as ids

    frozen = ids.time.time_ns()
    monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda: frozen))
    log = SegmentLog(Layout(repo), durability="none", segment_max_bytes=4096)
    for i in range(150):
        log.append([PendingEvent("note_added", "s:1", {"text": f"{i:040}"}, "tester")])
    paths = segments(repo)
    assert len(paths) > 8
    firsts = [orjson.loads(p.read_bytes().split(b"\n")[0])["n"] for p in paths]
    assert firsts == sorted(firsts), "a newer segment sorts before an older one"
    # After a lost state the writer looks for its last n in its last segment by name.
    (repo / ".fleet" / "local" / "writer.state").write_bytes(b"")
    (event,) = log.append([PendingEvent("note_added", "s:1", {"text": "next"}, "tester")])
    assert event.n == 151


def test_durability_none_still_appends(repo):
    fleet_hive.init(repo)
    cfg = repo / ".fleet" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("durability: fsync", "durability: none"))
    hive = fleet_hive.open(repo)
    assert hive.config.durability == "none"
    note(hive)
    assert hive.events.latest_sequence() == 1


def test_invalid_line_and_duplicate_id_are_errors(hive, repo):
    for i in range(3):
        note(hive, str(i))
    (seg,) = segments(repo)
    lines = seg.read_bytes().split(b"\n")[:-1]
    dup = orjson.loads(lines[0])
    dup["n"] = 4
    seg.write_bytes(b"\n".join([lines[0], b"{not json", lines[1], lines[2],
                                orjson.dumps(dup)]) + b"\n")
    report = verify(hive)
    kinds = sorted(p.kind for p in report.problems)
    assert not report.ok
    assert kinds == ["duplicate_id", "invalid_json"]
    hive.index.rebuild()
    assert [e.data["text"] for e in hive.events.by_stream("s:1")] == ["0", "1", "2"]


def test_gap_in_n_is_reported(hive, repo):
    for i in range(4):
        note(hive, str(i))
    (seg,) = segments(repo)
    lines = seg.read_bytes().split(b"\n")[:-1]
    seg.write_bytes(b"\n".join([lines[0], lines[1], lines[3]]) + b"\n")
    report = verify(hive)
    assert not report.ok
    assert [p.kind for p in report.problems] == ["gap"]
    assert "n=3" in report.problems[0].message


def test_branch_switch_starts_new_segment_and_old_commit_forks_writer(hive, repo):
    for i in range(3):
        note(hive, str(i))
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", "three events")
    writer = hive.events.writer_id()
    for i in range(3, 5):
        note(hive, str(i))
    # Throw away the uncommitted events: the working tree lost n=4,5 of this writer.
    git(repo, "checkout", "--", ".fleet")
    ev = note(hive, "after reset")
    assert ev.writer != writer, "a writer whose events vanished continues under a new id"
    assert ev.n == 1
    report = verify(hive)
    assert report.ok, report.problems
    texts = [e.data["text"] for e in hive.events.by_stream("s:1")]
    assert texts == ["0", "1", "2", "after reset"]


def test_unchanged_tree_keeps_one_segment_and_writer(hive, repo):
    note(hive, "a")
    git(repo, "add", ".fleet")
    git(repo, "commit", "-q", "-m", "one")
    ev = note(hive, "b")  # the committed copy is what the writer left: keep appending
    assert len(segments(repo)) == 1 and ev.n == 2


def test_a_segment_replaced_under_a_kept_descriptor_gets_the_next_append(hive, repo):
    """The open segment's descriptor is kept between appends; a file git (or anyone)
    replaced with the same bytes is a new inode, and the next append goes to it, not to
    the unlinked file the old descriptor still points at."""
    note(hive, "first")
    (seg,) = segments(repo)
    copy = seg.with_name("copy.tmp")
    copy.write_bytes(seg.read_bytes())
    copy.replace(seg)  # same path, same size, new inode
    note(hive, "second")
    texts = [json.loads(line)["data"]["text"] for line in segment_lines(repo)]
    assert texts == ["first", "second"]


def test_appends_from_two_logs_of_one_clone_interleave_whole(repo):
    """Two SegmentLogs (as two processes of one clone) each keep a descriptor: every
    event lands, in order, with n gapless."""
    fleet_hive.init(repo).close()
    layout = Layout(repo)
    a, b = SegmentLog(layout), SegmentLog(layout)
    for i in range(20):
        (a if i % 3 else b).append([PendingEvent("note_added", "s:1", {"text": str(i)}, "t")])
    a.close()
    b.close()
    stored = [json.loads(line) for line in segment_lines(repo)]
    assert [e["data"]["text"] for e in stored] == [str(i) for i in range(20)]
    assert [e["n"] for e in stored] == list(range(1, 21))


def test_a_large_batch_is_one_line_per_event_whatever_its_data_nests(hive, repo):
    # From 64 events on the lines come from one orjson call over the whole batch, split
    # where one record ends and the next begins; data that nests the same text
    # (an object with an "id" after another in a list) must not be split there.
    from fleet_hive.events.log import BATCH_ORJSON, _lines
    from fleet_hive.kernel.jsondump import dumps

    tricky = {"text": "t", "steps": [{"a": 1}, {"id": "x", "b": "},{\"id\":"}]}
    for data in ({"text": "plain"}, tricky):
        items = [{"type": "step_logged", "custom": True, "stream": f"s:{i % 3}",
                  "data": {**data, "i": i}} for i in range(BATCH_ORJSON + 6)]
        before = len(segment_lines(repo))
        stored = hive.events.append_batch(items)
        lines = segment_lines(repo)[before:]
        assert len(lines) == len(items)
        assert [orjson.loads(line)["id"] for line in lines] == [e.id for e in stored]
        assert [orjson.loads(line)["data"] for line in lines] == [i["data"] for i in items]
        records = [orjson.loads(line) for line in lines]
        # the same bytes as one record at a time through the standard library's encoder
        assert _lines(records) == b"".join(dumps(r, indent=False) + b"\n" for r in records)
    assert _lines([]) == b""
