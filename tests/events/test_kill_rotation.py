"""Writers SIGKILLed at random moments with tiny segments (``storage.md`` 6, 7, 8).

With a 4 KiB bound a segment rotates every dozen appends, so random kills often land
between creating a new segment and saving the writer state: the moment that once made the
next append trust the old segment and hand out the same ``n`` again. Every writer's ``n``
must stay gapless and unique and every acknowledged event must be found.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

import fleet_hive
from fleet_hive.events.log import PendingEvent, SegmentLog
from fleet_hive.events.segments import ReadResult, iter_lines
from fleet_hive.kernel.layout import Layout

#: A writer process: appends (one event, sometimes a batch of three) in a loop and writes
#: each event's id to its side file only after ``append`` returned; then it is killed.
WRITER = """
import os, sys
from pathlib import Path
from fleet_hive.events.log import PendingEvent, SegmentLog
from fleet_hive.kernel.layout import Layout

log = SegmentLog(Layout(Path(sys.argv[1])), segment_max_bytes=4096)
acks = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
name = sys.argv[3]
i = 0
while True:
    size = 3 if i % 5 == 4 else 1
    batch = [PendingEvent("note_added", "proc:" + name, {"text": f"{name}-{i}-{j}"}, name)
             for j in range(size)]
    events = log.append(batch)
    os.write(acks, "".join(e.id + "\\n" for e in events).encode())
    if i == 0:
        os.write(1, b"ready\\n")
    i += 1
"""

#: A writer that SIGKILLs itself the moment the first event of a new segment is on disk,
#: before the append returns: the narrowest window of a rotation.
DIES_AFTER_ROTATION = """
import os, signal, sys
from pathlib import Path
from fleet_hive.events.log import PendingEvent, SegmentLog
from fleet_hive.kernel.layout import Layout

events = Path(sys.argv[1]) / ".fleet" / "events"
real_fdatasync = os.fdatasync
def fdatasync_then_die(fd):
    real_fdatasync(fd)
    if len(list(events.glob("*/*.jsonl"))) > 1:
        os.kill(os.getpid(), signal.SIGKILL)
os.fdatasync = fdatasync_then_die
log = SegmentLog(Layout(Path(sys.argv[1])), segment_max_bytes=4096)
while True:
    log.append([PendingEvent("note_added", "proc:1", {"text": "x" * 100}, "doomed")])
"""

KILLS = 240
PARALLEL = 2


def _spawn(repo: Path, acks: Path, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(repo), str(acks), name],
                            stdout=subprocess.PIPE)


def _stored_events(repo: Path) -> list[dict]:
    events = []
    for path in sorted((repo / ".fleet" / "events").glob("*/*.jsonl")):
        result = ReadResult()
        for line in iter_lines(path, result=result):
            assert line.event is not None, f"{path}@{line.offset}: {line.problem}"
            events.append(line.event)
    return events


def test_a_kill_right_after_the_new_segment_is_written_does_not_reuse_n(repo: Path):
    fleet_hive.init(repo).close()
    child = subprocess.run([sys.executable, "-c", DIES_AFTER_ROTATION, str(repo)], timeout=60)
    assert child.returncode == -signal.SIGKILL
    log = SegmentLog(Layout(repo), segment_max_bytes=4096)
    log.append([PendingEvent("note_added", "proc:1", {"text": "after"}, "survivor")])
    ns = [e["n"] for e in _stored_events(repo)]
    assert sorted(ns) == list(range(1, len(ns) + 1)), "n reused or skipped after the kill"


@pytest.mark.slow
def test_random_kills_with_tiny_segments_keep_n_gapless_and_unique(repo: Path):
    fleet_hive.init(repo).close()
    rng = random.Random(9)
    acks_dir = repo.parent / "acks"
    acks_dir.mkdir()
    running: list[subprocess.Popen[bytes]] = []
    started = kills = 0
    try:
        while kills < KILLS:
            while len(running) < PARALLEL and started < KILLS:
                running.append(_spawn(repo, acks_dir / f"w{started}", f"w{started}"))
                started += 1
            victim = running.pop(0)
            assert victim.stdout is not None
            assert victim.stdout.readline() == b"ready\n", "a writer died on its own"
            time.sleep(rng.uniform(0, 0.03))
            os.kill(victim.pid, signal.SIGKILL)
            assert victim.wait(timeout=30) == -signal.SIGKILL
            kills += 1
    finally:
        for child in running:
            child.kill()
            child.wait()

    acknowledged = [line for f in acks_dir.iterdir() for line in f.read_text().split()]
    events = _stored_events(repo)
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    missing = set(acknowledged) - set(ids)
    assert not missing, f"{len(missing)} acknowledged events lost"
    by_writer: dict[str, list[int]] = defaultdict(list)
    for e in events:
        by_writer[e["writer"]].append(e["n"])
    for writer, ns in by_writer.items():
        duplicated = len(ns) - len(set(ns))
        assert duplicated == 0, f"writer {writer}: {duplicated} duplicated n"
        assert sorted(ns) == list(range(1, len(ns) + 1)), f"writer {writer}: gap in n"
    assert len(events) >= len(acknowledged) > KILLS, "the writers did append"
