"""The services-provider contract (``fleet_hive.services.Provider``): one class of tests
that every provider's test case subclasses.

A subclass provides the ``provider`` fixture (a provider for a fresh repository, whose
server it stops at teardown) and :meth:`ProviderContract.crash` (end the server as a
crash would, without the provider knowing).
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest


def wait_for(check: Any, seconds: float = 15.0) -> Any:
    """Poll ``check()`` until it returns something true (or fail after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {seconds}s: {check}")
        time.sleep(0.05)


def health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/v1/health", timeout=5) as response:
        data: dict[str, Any] = json.load(response)
        return data


class ProviderContract:
    """Not collected itself (no ``Test`` prefix)."""

    def crash(self, provider: Any, pid: int) -> None:
        """Kill the provider's server the way that provider's servers die (each subclass
        says how: the local provider SIGKILLs the process)."""
        raise NotImplementedError(f"{type(self).__name__} must say how its server crashes")

    def test_stopped_before_anything(self, provider):
        st = provider.status()
        assert (st.state, st.running, st.stale, st.pid) == ("stopped", False, False, None)
        assert provider.stop().action == "not_running"
        assert provider.logs() == []

    def test_up_status_up_again_down(self, provider):
        started = provider.start(port=0)
        assert started.action == "started"
        st = started.status
        assert st.running and st.healthy and not st.stale
        assert isinstance(st.pid, int) and st.url.startswith("http://127.0.0.1:")
        assert st.version and st.uptime is not None and st.uptime >= 0
        assert health(st.url)["pid"] == st.pid  # it is the server that answers
        again = provider.start(port=0)
        assert again.action == "already_running" and again.status.pid == st.pid
        stopped = provider.stop()
        assert stopped.action == "stopped"
        after = provider.status()
        assert (after.state, after.stale) == ("stopped", False)
        with pytest.raises(OSError):
            health(st.url)
        assert provider.stop().action == "not_running"

    def test_a_crash_is_reported_and_up_recovers(self, provider):
        first = provider.start(port=0).status
        self.crash(provider, first.pid)
        # stale at once; how it ended once the supervisor has recorded it (a moment later)
        st = wait_for(lambda: (s := provider.status()).stale and "SIGKILL" in (s.reason or "")
                      and s)
        assert st.state == "stopped" and st.pid == first.pid
        again = provider.start(port=0)
        assert again.action == "started" and again.status.running
        assert again.status.pid != first.pid
        assert provider.stop().action == "stopped"

    def test_logs_are_timestamped_lines_and_tail(self, provider):
        provider.start(port=0)
        provider.stop()
        lines = provider.logs()
        assert len(lines) >= 3
        assert all(line.time and line.time.endswith("Z") for line in lines)
        assert provider.logs(2) == lines[-2:]
        assert provider.logs(0) == []
