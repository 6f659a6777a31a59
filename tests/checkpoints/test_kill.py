"""A ``checkpoint resume`` process SIGKILLed while it restores: the log stays sound (every
step was a whole unit of work; derived files may lag until the next write), and a second
resume brings every sortie to its recorded state without redoing what the first did."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from fleet_hive.app.verify import verify
from tests.support import segment_lines
from tests.support.checkpoints import started_mission


def test_a_resume_killed_midway_is_finished_by_the_next_one(repo, hive):
    mission_id, sorties = started_mission(hive, 12)
    c = hive.checkpoints.create(mission_id)
    recorded = {s: (hive.sorties.get(s).status, hive.sorties.get(s).claimed_by)
                for s in sorties}
    for s in sorties:
        hive.sorties.fail(s, reason="the agent died", force=True)
    before = len(segment_lines(repo))
    proc = subprocess.Popen([sys.executable, "-m", "fleet_hive", "-C", str(repo),
                             "checkpoint", "resume", c.id],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if len(segment_lines(repo)) >= before + 3:  # a few steps are in the log
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait(timeout=60)

    hive.index.catch_up()
    # the log is sound; only derived files a kill can leave behind may lag (the next
    # write regenerates them)
    lagging = {p.kind for p in verify(hive).problems if p.severity == "error"}
    assert lagging <= {"snapshot_mismatch", "manifest_mismatch"}
    again = hive.checkpoints.resume(c.id)
    assert again.complete
    now = {s: (hive.sorties.get(s).status, hive.sorties.get(s).claimed_by) for s in sorties}
    assert now == recorded
    # what the killed resume restored was found done, not redone
    assert len(again.restored) + len(again.unchanged) == len(sorties)
    assert verify(hive).ok
