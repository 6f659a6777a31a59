"""The SQLite index cache: incremental, disposable, never trusted when stale or corrupt."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.events import segments as segments_mod
from fleet_hive.index.db import Index


def add(hive, n, stream="s:1"):
    hive.events.append_batch([{"type": "note_added", "stream": stream,
                               "data": {"text": str(i)}} for i in range(n)])


def test_catch_up_reads_only_new_bytes(hive, monkeypatch: pytest.MonkeyPatch):
    add(hive, 10)
    assert hive.events.latest_sequence() == 10
    starts = []
    real = segments_mod.iter_lines

    def spy(path, start=0, result=None):
        starts.append(start)
        return real(path, start, result)

    monkeypatch.setattr("fleet_hive.index.db.iter_lines", spy)
    hive.events.append("note_added", stream="s:1", data={"text": "new"})
    assert hive.events.latest_sequence() == 11
    assert len(starts) == 1 and starts[0] > 0, "only the new bytes are read"
    assert hive.events.latest_sequence() == 11
    assert len(starts) == 1, "nothing changed on disk: nothing read"


def test_wal_mode_and_location(hive, repo: Path):
    add(hive, 1)
    hive.events.latest_sequence()
    path = repo / ".fleet" / ".cache" / "index.sqlite"
    assert path.exists()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


@pytest.mark.parametrize("damage", ["garbage", "truncate", "delete", "foreign_schema"])
def test_damaged_cache_is_rebuilt_silently(repo: Path, damage: str):
    hive = fleet_hive.init(repo)
    add(hive, 25)
    assert hive.events.latest_sequence() == 25
    hive.close()
    path = repo / ".fleet" / ".cache" / "index.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "delete":
        path.unlink()
    else:
        db = sqlite3.connect(path)
        db.execute("UPDATE meta SET value='0' WHERE key='schema'")
        db.commit()
        db.close()
    again = fleet_hive.open(repo)
    assert len(again.events.by_stream("s:1")) == 25
    assert again.index.status().events == 25


def test_stale_rows_are_not_trusted(repo: Path):
    """A cache that claims more than the log holds is corrected on the next read."""
    hive = fleet_hive.init(repo)
    add(hive, 5)
    assert hive.events.latest_sequence() == 5
    (seg,) = (repo / ".fleet" / "events").glob("*/*.jsonl")
    lines = seg.read_bytes().split(b"\n")
    seg.write_bytes(b"\n".join(lines[:2]) + b"\n")  # e.g. `git checkout` of an older file
    assert [e.data["text"] for e in hive.events.by_stream("s:1")] == ["0", "1"]


def test_rebuild_keeps_every_seq_and_orders_by_total_order(hive):
    add(hive, 3)
    before = [(e.id, e.seq) for e in hive.events.after_sequence(0)]
    hive.index.rebuild()
    assert [(e.id, e.seq) for e in hive.events.after_sequence(0)] == before
    evs = hive.events.by_stream("s:1")
    assert [e.order_key for e in evs] == sorted(e.order_key for e in evs)


def test_two_indexes_catch_up_concurrently_without_duplicates(hive, repo: Path):
    add(hive, 50)
    a, b = Index(hive.layout), Index(hive.layout)
    a.catch_up()
    b.catch_up()
    add(hive, 50)
    assert b.catch_up() + a.catch_up() == 50
    assert a.latest_seq() == b.latest_seq() == 100
    a.close()
    b.close()


def test_unknown_future_types_are_kept(hive, repo: Path):
    """An event type this version does not know (written by a newer one) is indexed as is."""
    import orjson

    from fleet_hive.kernel.ids import new_ulid

    hive.events.append("note_added", stream="s:1", data={"text": "known"})
    future = {"id": new_ulid(), "type": "hologram_projected", "stream": "s:1", "clock": 9,
              "writer": "futurewriter", "n": 1, "time": "2030-01-01T00:00:00.000000Z",
              "actor": "newer", "causation_id": None, "correlation_id": None,
              "schema_version": 3, "data": {"beam": [1, 2]}, "new_envelope_key": True}
    wdir = repo / ".fleet" / "events" / "futurewriter"
    wdir.mkdir()
    (wdir / "0001.jsonl").write_bytes(orjson.dumps(future) + b"\n")
    (ev,) = hive.events.by_type("hologram_projected")
    assert ev.data == {"beam": [1, 2]} and ev.schema_version == 3 and ev.actor == "newer"
    assert [e.type for e in hive.events.by_stream("s:1")] == ["note_added", "hologram_projected"]


def test_a_projection_can_read_a_stream_lazily(hive):
    """``iter_events`` yields what ``events`` returns, decoding rows only as they are
    consumed (a fold that stops early, like a released lease's, reads no further)."""
    from fleet_hive.index.db import ProjectionView

    add(hive, 150)
    hive.index.catch_up()
    view = ProjectionView(hive.index.db)
    assert list(view.iter_events("s:1")) == view.events("s:1")
    assert len(view.events("s:1")) == 150
    lazy = view.iter_events("s:1")
    assert next(lazy).data == view.events("s:1")[0].data
    lazy.close()  # type: ignore[attr-defined]
    assert list(view.iter_events("s:none")) == []


def test_a_long_refold_of_a_projection_is_announced_before_it_starts(hive, monkeypatch):
    """A projection of another version is re-folded on the first catch-up; when that is
    much work, ``notice`` hears of it first (the CLI prints it on stderr), once."""
    from fleet_hive.index import db as db_module

    m = hive.missions.create("m")
    hive.sorties.add(m.id, "s")
    hive.index.catch_up()
    told: list[str] = []
    hive.notice = told.append
    monkeypatch.setattr(db_module, "ANNOUNCE_STREAMS", 2)
    hive.index.db.execute("UPDATE meta SET value = 'old' WHERE key = 'projection:missions'")
    hive.index.catch_up()
    assert told == ["updating the index's missions tables for this version of fleet-hive: "
                    "2 streams to fold, once"]
    assert hive.sorties.ready()[0].title == "s", "re-folded"
    hive.index.catch_up()
    assert len(told) == 1, "once"
    hive.index.rebuild()  # asked for (`index rebuild` shows its own progress): not announced
    assert len(told) == 1
    monkeypatch.setattr(db_module, "ANNOUNCE_STREAMS", 3)
    hive.index.db.execute("UPDATE meta SET value = 'old' WHERE key = 'projection:missions'")
    hive.index.catch_up()
    assert len(told) == 1, "below the threshold: silent"


def test_the_command_line_prints_the_announcement_on_stderr(hive, repo):
    from fleet_hive.index.db import ANNOUNCE_STREAMS
    from tests.support import run_cli

    m = hive.missions.create("big")
    hive.sorties.add_many(m.id, [{"title": f"s{k}"} for k in range(ANNOUNCE_STREAMS)])
    hive.close()
    db = sqlite3.connect(repo / ".fleet" / ".cache" / "index.sqlite")
    with db:
        db.execute("UPDATE meta SET value = 'old' WHERE key = 'projection:missions'")
    db.close()
    got = run_cli("-C", str(repo), "ready", "--limit", "1", "--json")
    assert got.returncode == 0, got.stderr
    assert f"fleet-hive: updating the index's missions tables for this version of fleet-hive: " \
           f"{ANNOUNCE_STREAMS + 1:,} streams to fold, once" in got.stderr
    assert json.loads(got.stdout)[0]["title"] == "s0"
