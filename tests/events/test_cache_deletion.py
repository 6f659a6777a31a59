"""Deleting ``.fleet/.cache/`` is always safe, even while processes write (storage.md 1):
nothing that guards correctness lives there, so the writer lock still excludes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

APPEND = (
    "import sys, fleet_hive\n"
    "h = fleet_hive.open(sys.argv[1])\n"
    "h.events.append('note_added', stream='n:1', data={'text': 'second'})\n"
    "print('appended', flush=True)\n"
)


def test_the_writer_lock_survives_deleting_the_cache(hive, repo: Path):
    hive.events.append("note_added", stream="n:1", data={"text": "first"})
    with hive.exclusive():
        shutil.rmtree(hive.layout.cache)
        other = subprocess.Popen([sys.executable, "-c", APPEND, str(repo)],
                                 stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 4.0  # far longer than the other's start and append
        while time.monotonic() < deadline and other.poll() is None:
            time.sleep(0.05)
        assert other.poll() is None, "another process appended while the lock was held"
    out, _ = other.communicate(timeout=60)
    assert other.returncode == 0 and out.strip() == "appended"
    texts = [e.data["text"] for e in hive.events.by_stream("n:1")]
    assert texts == ["first", "second"]
    ns = [e.n for e in hive.events.query()]
    assert sorted(ns) == list(range(1, len(ns) + 1))  # no n handed out twice
