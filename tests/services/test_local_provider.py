"""The local-process provider against the real ``fleet-hive serve``: the provider
contract, and what only a process of this machine can go through (a stale pid file, a
pid reused by another program, a server that will not start or will not answer)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="fleet-hive serve needs the server extra (in the test extra)")

from fleet_hive.kernel import liveness
from fleet_hive.kernel.errors import FleetHiveError, TimeoutExpiredError
from fleet_hive.services.local import LocalProcessProvider
from tests.contracts.services_provider import ProviderContract


@pytest.fixture
def provider(hive):
    p = LocalProcessProvider(hive.layout, timeout=60)
    yield p
    p.stop(grace=1)


class TestLocalProcessProvider(ProviderContract):
    def crash(self, provider, pid):
        os.kill(pid, signal.SIGKILL)


def _record(layout, **fields) -> None:
    base = {"pid": 1, "pgid": 1, "host": liveness.this_host(), "port": 1,
            "url": "http://127.0.0.1:1", "version": "0.1.0", "started_at": "2026-01-01T00:00:00Z"}
    layout.local.mkdir(parents=True, exist_ok=True)
    layout.service_pid.write_text(json.dumps({**base, **fields}))


def test_a_pid_file_whose_process_is_gone_is_stale(hive):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(done.stdout)
    _record(hive.layout, pid=pid, pgid=pid)
    p = LocalProcessProvider(hive.layout)
    st = p.status()
    assert (st.state, st.stale, st.pid) == ("stopped", True, pid)
    assert "gone" in st.reason
    out = p.stop()
    assert out.action == "not_running" and "stale pid file" in out.detail
    assert not hive.layout.service_pid.exists()


def test_a_pid_reused_by_another_program_is_not_taken_for_the_server(hive):
    me = liveness.current()  # alive, but not the process the file recorded
    _record(hive.layout, pid=me.pid, pgid=me.pid, pid_start=(me.start or 0) + 1)
    st = LocalProcessProvider(hive.layout).status()
    assert st.stale and not st.running
    assert "another program" in st.reason
    out = LocalProcessProvider(hive.layout).stop()
    assert out.action == "not_running"  # and this test process was not signalled


def test_an_unreadable_pid_file_is_stale(hive):
    hive.layout.local.mkdir(parents=True, exist_ok=True)
    hive.layout.service_pid.write_text("not json")
    st = LocalProcessProvider(hive.layout).status()
    assert st.stale and "not a pid file" in st.reason


def test_a_server_that_exits_at_start_is_an_error_with_its_log(hive):
    p = LocalProcessProvider(hive.layout, command=[
        sys.executable, "-c", "import sys; print('cannot bind {port}'); sys.exit(3)"])
    with pytest.raises(FleetHiveError, match="cannot bind") as info:
        p.start(port=0)
    assert "status 3" in info.value.message
    assert not p.status().running and not hive.layout.service_pid.exists()


def test_a_server_that_never_answers_times_out_and_is_stopped(hive, tmp_path: Path):
    marker = tmp_path / "pid"
    p = LocalProcessProvider(hive.layout, command=[
        sys.executable, "-c",
        f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); "
        "print('waiting', flush=True); time.sleep(60)"])
    with pytest.raises(TimeoutExpiredError, match="did not answer") as info:
        p.start(port=0, timeout=3)
    assert info.value.exit_code == 4
    pid = int(marker.read_text())
    assert liveness.pid_gone(pid) or not liveness.is_running(liveness.process(pid),
                                                              liveness.this_host())
    assert any("waiting" in line.text for line in p.logs())
