"""The pure parts of dispatch: who runs what next, what a try's end leads to, when a lease
has lapsed, the options' rules, and the progress lines people read."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from fleet_hive.cli.progress import plain_line, summary_line
from fleet_hive.dispatch.decide import after_try, assign, lapse, overlapping
from fleet_hive.dispatch.model import Lease, Options, TryResult, backoff_delay
from fleet_hive.kernel.errors import InvalidInputError
from fleet_hive.missions.model import Sortie


def _s(sid: str, files: list[str] | None = None, kind: str | None = None) -> Sortie:
    return Sortie(sid, "m-x", title=sid, files=files or [], specialist=kind)


def test_assign_keeps_overlapping_files_apart_and_respects_slots():
    ready = [_s("s-1", ["src/**"]), _s("s-2", ["src/a.py"]), _s("s-3", ["docs/x.md"]),
             _s("s-4", []), _s("s-5", ["lib/*.py"])]
    pairs = assign(ready, running_files=["lib/util.py"], free=["w1", "w2", "w3"], slots=3,
                   capable=None, not_before={}, now=0)
    assert [(s.id, w) for s, w in pairs] == [("s-1", "w1"), ("s-3", "w2"), ("s-4", "w3")]
    pairs = assign(ready, running_files=[], free=["w1", "w2", "w3"], slots=1, capable=None,
                   not_before={}, now=0)
    assert [s.id for s, _ in pairs] == ["s-1"]


def test_assign_waits_out_backoffs_and_skips():
    ready = [_s("s-1"), _s("s-2"), _s("s-3")]
    pairs = assign(ready, running_files=[], free=["w1", "w2", "w3"], slots=3, capable=None,
                   not_before={"s-1": 10.0}, now=5.0, skip=frozenset({"s-2"}))
    assert [s.id for s, _ in pairs] == ["s-3"]
    pairs = assign(ready, running_files=[], free=["w1"], slots=3, capable=None,
                   not_before={"s-1": 10.0}, now=10.5)
    assert [s.id for s, _ in pairs] == ["s-1"]


def test_assign_matches_kinds_to_capable_workers():
    ready = [_s("s-1", kind="python"), _s("s-2", kind="docs"), _s("s-3", kind="python")]
    who = {"python": ["py-b", "py-a"], "docs": ["writer"], None: ["py-a", "py-b", "writer"]}
    pairs = assign(ready, running_files=[], free=["py-a", "writer"], slots=5,
                   capable=lambda kind: who[kind], not_before={}, now=0)
    assert [(s.id, w) for s, w in pairs] == [("s-1", "py-a"), ("s-2", "writer")]


def test_overlap_is_checked_both_ways():
    assert overlapping(["src/**"], ["src/a/b.py"])
    assert overlapping(["src/a/b.py"], ["src/**"])
    assert not overlapping(["src/*.py"], ["src/a/b.py"])


def test_after_try():
    opts = Options(agent="x", retries=2, backoff=0.5)
    ok = TryResult("s-1", 1, "w", 0, 0.1)
    assert after_try(ok, opts) == ("complete", 0.0)
    assert after_try(TryResult("s-1", 1, "w", 1, 0.1), opts) == ("retry", 0.5)
    assert after_try(TryResult("s-1", 2, "w", 1, 0.1), opts) == ("retry", 1.0)
    assert after_try(TryResult("s-1", 3, "w", 1, 0.1), opts) == ("fail", 0.0)
    assert after_try(TryResult("s-1", 1, "w", 0, 2, timed_out=True), opts)[0] == "retry"
    assert after_try(TryResult("s-1", 3, "w", None, 0, interrupted=True), opts) == \
        ("requeue", 0.0)
    assert backoff_delay(1.0, 10) == 60.0 and backoff_delay(0, 3) == 0.0


def test_a_failed_try_reason_names_the_exit_and_the_stderr_tail():
    r = TryResult("s-1", 2, "lead/w1", 3, 1.25, stderr_tail="warn\nTraceback: boom\n")
    text = r.reason(3)
    assert text.startswith("dispatch try 2 of 3, worker lead/w1: agent exited 3 after 1.2 s")
    assert text.endswith("Traceback: boom")
    assert "stderr" not in TryResult("s-1", 1, "w", 0, 0.1, stderr_tail="noise").reason(1)


def test_lapse():
    lease = Lease("s-1", "m-1", "w", 123, "host", None, expires=100.0)
    assert lapse(lease, now=50, running=True) is None
    assert lapse(lease, now=50, running=None) is None  # another host: only the expiry
    assert "gone" in (lapse(lease, now=50, running=False) or "")
    assert "expired" in (lapse(lease, now=150, running=True) or "")
    assert Lease.from_json({"sortie_id": "s-1"}) is None
    assert Lease.from_json(lease.to_json()) == lease


@pytest.mark.parametrize("bad", [dict(agent=""), dict(agent="x", workers=0),
                                 dict(agent="x", retries=-1), dict(agent="x", timeout=0),
                                 dict(agent="x", timeout=float("nan"))])
def test_options_refuse_bad_values(bad):
    with pytest.raises(InvalidInputError):
        Options(**bad)


def test_plain_lines_for_people():
    assert plain_line({"event": "sortie_started", "elapsed_ms": 1500, "sortie_id": "s-1",
                       "title": "Build", "worker": "w1", "attempt": 1, "tries": 2}) == \
        "    1.5s started   s-1 'Build' by w1 (try 1/2)"
    failed = plain_line({"event": "sortie_failed", "elapsed_ms": 0, "sortie_id": "s-1",
                         "reason": "try 1: agent exited 3", "final": True,
                         "stderr_tail": "a\nb\x1b[2J", "log": "x.log"})
    assert failed is not None and "FAILED" in failed and "| b\\x1b[2J" in failed
    assert "x.log" in failed
    line = summary_line({"ok": False, "completed": ["a"], "failed": ["b"], "waiting": [],
                         "requeued": [], "interrupted": False, "tries": 3, "retries": 1,
                         "elapsed_ms": 2000, "mission_status": "in_progress"})
    assert line.startswith("dispatch incomplete: 1 completed, 1 failed (b)")


def test_a_terminal_gets_the_live_display(repo, tmp_path):
    import fleet_hive

    with fleet_hive.init(repo, actor="lead") as h:
        m = h.missions.create("Live one", sorties=[{"title": f"t{k}"} for k in range(3)])
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "fleet_hive", "-C", str(repo), "dispatch",
                             m.id, "--agent", "sleep 0.3"], stdin=follower,
                            stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(60) == 0
    os.close(leader)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "Live one" in screen and "3/3 sorties" in screen
    assert "━" in screen  # the overall bar
    assert "dispatch ok: 3 completed" in screen
