"""The index under faults (issue: integrity): stable seq, damage said on every read, changed
bytes noticed, a corrupt cache rebuilt before it answers. Real files, real processes."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.index.db import Index

from ..support import git, run_cli


def add(hive, n, stream="s:1"):
    for i in range(n):
        hive.events.append("note_added", stream=stream, data={"text": f"note {i}"})


def pairs(root: Path, after: int = 0) -> list[tuple[str, int]]:
    out = run_cli("events", "list", "--after", str(after), "--json", cwd=root)
    assert out.returncode == 0, out.stderr
    return [(e["id"], e["seq"]) for e in json.loads(out.stdout)]


def segment(root: Path) -> Path:
    (seg,) = sorted((root / ".fleet" / "events").glob("*/*.jsonl"))
    return seg


# -- seq: handed out once, never changed ------------------------------------------------
def test_seq_survives_rebuild_and_cache_deletion_as_processes(hive, repo: Path):
    add(hive, 6)
    hive.close()
    assert run_cli("index", "rebuild", cwd=repo).returncode == 0
    before = pairs(repo)
    assert [s for _, s in before] == [1, 2, 3, 4, 5, 6]
    assert run_cli("index", "rebuild", cwd=repo).returncode == 0
    assert pairs(repo) == before, "a rebuild renumbers nothing"
    shutil.rmtree(repo / ".fleet" / ".cache")
    assert pairs(repo) == before, "a new cache gives every event its number"
    last = before[-1][1]
    appended = run_cli("events", "append", "note_added", "--stream", "s:1", "--data",
                       '{"text": "after"}', "--json", cwd=repo)
    assert appended.returncode == 0, appended.stderr
    new = pairs(repo, after=last)
    assert [i for i, _ in new] == [json.loads(appended.stdout)["id"]]
    assert new[0][1] > last
    shutil.rmtree(repo / ".fleet" / ".cache")
    assert pairs(repo) == [*before, *new]


def test_events_dropped_by_a_checkout_come_back_with_new_numbers(hive, repo: Path):
    """A consumer that read past the gap must still receive them when they return."""
    add(hive, 3)
    seg = segment(repo)
    full = seg.read_bytes()
    seg.write_bytes(b"".join(full.splitlines(keepends=True)[:1]))  # e.g. a reset
    assert hive.events.latest_sequence() == 1
    hive.events.append("note_added", stream="s:2", data={"text": "other"})  # a new segment
    seen = hive.events.latest_sequence()
    seg.write_bytes(full)  # back to the longer version
    back = hive.events.after_sequence(seen)
    assert sorted(e.data["text"] for e in back) == ["note 1", "note 2"]


def test_cache_deleted_while_another_index_is_open_numbers_one_way(hive, repo: Path):
    add(hive, 5)
    old = Index(hive.layout)
    old.catch_up()
    for suffix in ("", "-wal", "-shm"):  # deleted under a process that still has it open
        Path(f"{hive.layout.index}{suffix}").unlink(missing_ok=True)
    new = Index(hive.layout)
    add(hive, 5)
    new.catch_up()
    old.catch_up()
    numbered = {e.id: e.seq for e in old.query()}
    assert {e.id: e.seq for e in new.query()} == numbered
    assert len(set(numbered.values())) == 10
    old.close()
    new.close()


def test_ledger_deleted_with_the_cache_kept_is_written_again(hive, repo: Path):
    add(hive, 4)
    before = [(e.id, e.seq) for e in hive.events.after_sequence(0)]
    hive.layout.seq_ledger.unlink()
    add(hive, 1)
    hive.index.rebuild()
    after = [(e.id, e.seq) for e in hive.events.after_sequence(0)]
    assert after[:4] == before and after[4][1] == 5


def test_rebuild_compacts_the_ledger(hive):
    for i in range(40):  # a read after each append: one chunk each
        hive.events.append("note_added", stream="s:1", data={"text": str(i)})
        hive.events.latest_sequence()
    chunks = len(hive.layout.seq_ledger.read_bytes().splitlines())
    before = [(e.id, e.seq) for e in hive.events.after_sequence(0)]
    hive.index.rebuild()
    assert len(hive.layout.seq_ledger.read_bytes().splitlines()) < chunks
    assert [(e.id, e.seq) for e in hive.events.after_sequence(0)] == before


# -- damage is said on every read -------------------------------------------------------
@pytest.mark.parametrize("bad", [b"{not json", b'{"id": "x", "type": "note_added"}'])
def test_a_corrupt_line_in_the_middle_is_reported_by_every_read(repo: Path, bad: bytes):
    assert run_cli("init", cwd=repo).returncode == 0
    made = run_cli("mission", "create", "M", "--json", cwd=repo)
    mission = json.loads(made.stdout)["id"]
    assert run_cli("sortie", "add", mission, "S", cwd=repo).returncode == 0
    assert run_cli("sortie", "add", mission, "T", cwd=repo).returncode == 0
    seg = segment(repo)
    lines = seg.read_bytes().splitlines(keepends=True)
    lines[1] = bad + b"\n"
    seg.write_bytes(b"".join(lines))
    for args in (["mission", "list", "--json"], ["ready"], ["events", "list"]):
        out = run_cli(*args, cwd=repo)
        assert out.returncode == 0, out.stderr
        assert out.stderr.count("warning: the event log is damaged") == 1, out.stderr
        assert f"{seg.parent.name}/{seg.name} line 2" in out.stderr
    status = json.loads(run_cli("status", "--json", cwd=repo).stdout)
    assert status["integrity"]["ok"] is False
    assert status["integrity"]["problems"][0]["line"] == 2
    assert "verify" in status["integrity"]["fix"]
    index_status = json.loads(run_cli("index", "status", "--json", cwd=repo).stdout)
    assert "invalid_line" in [p["code"] for p in index_status["problems"]]
    human = run_cli("status", cwd=repo)
    assert "Integrity: 2 problem(s)" in human.stdout, "the line is invalid, and it changed"


def test_a_deleted_committed_segment_is_reported(repo: Path):
    assert run_cli("init", cwd=repo).returncode == 0
    assert run_cli("mission", "create", "M", cwd=repo).returncode == 0
    assert run_cli("commit", "-m", "fleet", cwd=repo).returncode == 0
    seg = segment(repo)
    seg.unlink()
    out = run_cli("status", "--json", cwd=repo)
    problems = json.loads(out.stdout)["integrity"]["problems"]
    assert [p["code"] for p in problems] == ["missing_segment"]
    assert "warning: the event log is damaged" in out.stderr
    git(repo, "checkout", "--", str(seg.relative_to(repo)))
    out = run_cli("status", "--json", cwd=repo)
    assert json.loads(out.stdout)["integrity"]["ok"] is True
    assert sum(json.loads(out.stdout)["mission_counts"].values()) == 1
    assert "warning" not in out.stderr


def test_a_segment_removed_by_a_checkout_is_not_damage(repo: Path):
    assert run_cli("init", cwd=repo).returncode == 0
    assert run_cli("commit", "-m", "init", cwd=repo).returncode == 0
    git(repo, "switch", "-q", "-c", "side")
    assert run_cli("mission", "create", "M", cwd=repo).returncode == 0
    assert run_cli("commit", "-m", "fleet", cwd=repo).returncode == 0
    git(repo, "switch", "-q", "main")
    out = run_cli("status", "--json", cwd=repo)
    assert json.loads(out.stdout)["integrity"]["ok"] is True, out.stdout
    assert "warning" not in out.stderr


# -- bytes already read that change ------------------------------------------------------
def _edit_same_length(seg: Path) -> None:
    data = seg.read_bytes()
    i = data.index(b"note 0")
    seg.write_bytes(data[:i] + b"NOTE 0" + data[i + 6:])


def _swap_lines(seg: Path) -> None:
    lines = seg.read_bytes().splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]
    with open(seg, "r+b") as f:  # in place: same inode, same size
        f.write(b"".join(lines))


@pytest.mark.parametrize("edit", [_edit_same_length, _swap_lines])
def test_an_edit_of_bytes_already_read_is_noticed(hive, edit):
    add(hive, 3)
    assert next(e.data["text"] for e in hive.events.by_stream("s:1")) == "note 0"
    seg = segment(hive.root)
    st = seg.stat()
    edit(seg)
    os.utime(seg, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    texts = sorted(e.data["text"] for e in hive.events.by_stream("s:1"))
    if edit is _edit_same_length:
        assert texts == ["NOTE 0", "note 1", "note 2"], "the index serves what is on disk"
    else:
        assert texts == ["note 0", "note 1", "note 2"]
    damage = hive.index.damage
    assert damage is not None and damage.problems[0]["code"] == "changed"
    assert damage.problems[0]["line"] == 1


# -- a corrupt cache is rebuilt before it answers ---------------------------------------
def test_a_directory_in_place_of_the_cache_is_moved_aside(hive, repo: Path):
    add(hive, 3)
    hive.close()
    index = repo / ".fleet" / ".cache" / "index.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    index.mkdir()
    (index / "keep").write_text("mine")
    out = run_cli("events", "list", "--json", cwd=repo)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 3
    assert "moved it to" in out.stderr
    (aside,) = index.parent.glob("index.sqlite.moved-aside-*")
    assert (aside / "keep").read_text() == "mine"


def _corrupt(path: Path, rng: random.Random, pages: int, zero: bool) -> None:
    size = path.stat().st_size
    page = 4096
    with open(path, "r+b") as f:
        for _ in range(pages):
            n = rng.randrange(1, max(2, size // page))  # never page 0 (the header) only
            f.seek(n * page)
            f.write(bytes(page) if zero else rng.randbytes(page))


def _expected(repo: Path) -> list[tuple[str, int]]:
    return pairs(repo)


@pytest.mark.slow
@pytest.mark.parametrize("zero", [True, False])
def test_corrupt_pages_never_give_a_wrong_answer(repo: Path, zero: bool):
    """Garbage or zeroed pages in index.sqlite while readers run: every answer is right."""
    hive = fleet_hive.init(repo, actor="t")
    hive.events.append_batch([{"type": "note_added", "stream": f"s:{i % 7}",
                               "data": {"text": "x" * (1 + i % 300)}} for i in range(3000)])
    m = hive.missions.create("M")
    for i in range(20):
        hive.sorties.add(m.id, f"S{i}")
    hive.close()
    truth = _expected(repo)
    truth_ready = json.loads(run_cli("ready", "--json", cwd=repo).stdout)
    rng = random.Random(7 if zero else 8)
    index = repo / ".fleet" / ".cache" / "index.sqlite"
    wrong = []
    for round_ in range(12):
        conn = sqlite3.connect(index)  # fold the WAL in so the pages hold the data
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        reader = subprocess.Popen(
            [sys.executable, "-m", "fleet_hive", "events", "list", "--json"], cwd=repo,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _corrupt(index, rng, pages=1 + round_ % 3, zero=zero)
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err
        if [(e["id"], e["seq"]) for e in json.loads(out)] != truth:
            wrong.append(("racing reader", round_))
        got = run_cli("events", "list", "--json", cwd=repo)
        assert got.returncode == 0, got.stderr
        if [(e["id"], e["seq"]) for e in json.loads(got.stdout)] != truth:
            wrong.append(("events", round_))
        ready = run_cli("ready", "--json", cwd=repo)
        assert ready.returncode == 0, ready.stderr
        if json.loads(ready.stdout) != truth_ready:
            wrong.append(("ready", round_))
        status = run_cli("status", "--json", cwd=repo)
        assert status.returncode == 0, status.stderr
    assert wrong == []


def test_an_index_of_the_first_schema_hands_its_numbers_to_the_ledger(hive, repo: Path):
    """Upgrading renumbers nothing: the old index's seqs are carried over."""
    add(hive, 3)
    hive.events.append("note_added", stream="s:2", data={"text": "other"})
    before = [(e.id, e.seq) for e in hive.events.after_sequence(0)]
    rows = hive.index.db.execute("SELECT seq, segment, off, raw FROM events").fetchall()
    hive.close()
    index = hive.layout.index
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    hive.layout.seq_ledger.unlink()
    old = sqlite3.connect(index)
    old.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema', '1');"
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, segment TEXT, off INTEGER,"
        " raw BLOB);")
    old.executemany("INSERT INTO events VALUES (?, ?, ?, ?)",
                    [(seq + 10, seg, off, raw) for seq, seg, off, raw in rows])
    old.commit()
    old.close()
    reopened = fleet_hive.open(repo)
    assert [(e.id, e.seq) for e in reopened.events.after_sequence(0)] == [
        (i, s + 10) for i, s in before]
    reopened.close()


@pytest.mark.slow
def test_readers_during_a_rebuild_never_see_a_partial_index(hive, repo: Path):
    hive.events.append_batch([{"type": "note_added", "stream": f"s:{i % 9}",
                               "data": {"text": "x"}} for i in range(20_000)])
    assert hive.events.latest_sequence() == 20_000
    reader = subprocess.Popen([sys.executable, "-c", (
        "import sys, fleet_hive\n"
        "h = fleet_hive.open(sys.argv[1])\n"
        "counts = set()\n"
        "for _ in range(200):\n"
        "    counts.add(h.index.status().events)\n"
        "print(sorted(counts))\n"), str(repo)], stdout=subprocess.PIPE, text=True)
    for _ in range(3):
        hive.index.rebuild()
    out, _ = reader.communicate(timeout=300)
    assert json.loads(out) == [20_000]
