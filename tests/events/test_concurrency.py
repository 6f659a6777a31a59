"""Many real processes appending at once, and a writer killed mid-append (``storage.md`` 6, 7)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import orjson

import fleet_hive
from fleet_hive.app.verify import verify
from tests.support import segment_lines

APPENDER = """
import sys, fleet_hive
hive = fleet_hive.open(sys.argv[1], actor=sys.argv[2])
n = int(sys.argv[3])
for i in range(n):
    hive.events.append("note_added", stream="proc:" + sys.argv[2], data={"text": str(i)})
"""


def test_16_processes_x_1000_appends(repo: Path):
    fleet_hive.init(repo).close()
    procs, per = 16, 1000
    children = [subprocess.Popen([sys.executable, "-c", APPENDER, str(repo), f"p{i}", str(per)])
                for i in range(procs)]
    assert [c.wait(timeout=300) for c in children] == [0] * procs

    lines = segment_lines(repo)
    events = [orjson.loads(line) for line in lines]  # every line is valid JSON
    assert len(events) == procs * per
    assert len({e["id"] for e in events}) == procs * per, "no duplicated ids"
    by_writer = defaultdict(list)
    for e in events:
        by_writer[e["writer"]].append(e["n"])
    for ns in by_writer.values():
        assert sorted(ns) == list(range(1, len(ns) + 1)), "each writer's n is gapless"
    per_proc = defaultdict(list)
    for e in events:
        per_proc[e["stream"]].append(int(e["data"]["text"]))
    assert all(sorted(v) == list(range(per)) for v in per_proc.values())
    assert len(per_proc) == procs
    # clocks are unique within a writer: the total order has no ties
    keys = [(e["clock"], e["writer"], e["n"]) for e in events]
    assert len(set(keys)) == len(keys)

    hive = fleet_hive.open(repo)
    assert hive.events.latest_sequence() == procs * per
    assert verify(hive).ok


KILLED = """
import sys, fleet_hive
hive = fleet_hive.open(sys.argv[1], actor="doomed")
i = 0
while True:
    batch = [{"type": "note_added", "stream": "doomed:1", "data": {"text": f"{i}-{j}"}}
             for j in range(20)]
    for ev in hive.events.append_batch(batch):
        sys.stdout.write(ev.id + "\\n")
    sys.stdout.flush()
    i += 1
"""


def test_writer_killed_mid_append_loses_nothing_acknowledged(repo: Path):
    fleet_hive.init(repo).close()
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(repo)], stdout=subprocess.PIPE,
                             text=True)
    acknowledged: list[str] = []
    assert child.stdout is not None
    while len(acknowledged) < 400:
        line = child.stdout.readline()
        assert line, "the appender died on its own"
        acknowledged.append(line.strip())
    time.sleep(0.05)  # let it be in the middle of further appends
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    acknowledged.extend(line.strip() for line in child.stdout.read().splitlines())

    hive = fleet_hive.open(repo, actor="survivor")
    stored = {e.id for e in hive.events.by_stream("doomed:1")}
    assert set(acknowledged) <= stored, "an acknowledged event was lost"
    assert len(stored) % 20 == 0, "batches are whole or absent"
    report = verify(hive)
    assert report.ok, report.problems
    ev = hive.events.append("note_added", stream="after:1", data={"text": "clean"})
    assert hive.events.get(ev.id) is not None
    for line in segment_lines(repo):
        orjson.loads(line)  # the next append was not glued onto anything
    assert verify(hive).ok
