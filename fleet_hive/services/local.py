"""The local-process provider: ``fleet-hive serve`` as a detached process of this machine.

``start`` runs it in a session of its own behind :mod:`.stamp` (its output goes,
timestamped, to ``.fleet/local/server.log``), waits until ``GET /api/v1/health`` answers
from a process of that session, and writes ``.fleet/local/server.pid`` (pid, process
group, start time, port, url, version). ``status`` trusts that file only while its process
still runs as the same process (its start time: a reused pid is not taken for it), and
asks the server itself for its version and uptime. ``stop`` signals the process group:
SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..kernel import liveness, processes
from ..kernel.clock import epoch, utc_now
from ..kernel.errors import FleetHiveError, InvalidInputError, TimeoutExpiredError
from ..kernel.fsio import write_atomic
from ..kernel.locking import FileMutex
from . import LogLine, Outcome, ServiceStatus

if TYPE_CHECKING:
    from ..kernel.layout import Layout

DEFAULT_PORT = 8765
HOST = "127.0.0.1"  # services only ever starts a loopback server (see docs/server.md)
#: Rotate the log at start once it is this big (one older file is kept, server.log.1).
LOG_MAX_BYTES = 8 * 1024 * 1024
_STAMP_LEN = len("2026-01-01T00:00:00.000000Z")


class LocalProcessProvider:
    name = "local"

    def __init__(self, layout: Layout, *, port: int = DEFAULT_PORT, timeout: float = 20.0,
                 grace: float = processes.GRACE, command: list[str] | None = None) -> None:
        """``command``: what to run instead of ``fleet-hive serve`` (``{port}`` and
        ``{root}`` are filled in); it must answer ``GET /api/v1/health``."""
        self.layout = layout
        self.port = port
        self.timeout = timeout
        self.grace = grace
        self.command = command

    # -- reading the records -------------------------------------------------------------
    def _record(self) -> dict[str, Any] | str | None:
        """The pid file's JSON, None without one, or why it cannot be read."""
        try:
            raw = self.layout.service_pid.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as e:
            return f"cannot read {self.layout.service_pid}: {e.strerror}"
        try:
            record = json.loads(raw)
            int(record["pid"]), int(record["pgid"])
        except (ValueError, KeyError, TypeError):
            return f"{self.layout.service_pid} is not a pid file of fleet-hive"
        return dict(record)

    def _last_exit(self) -> str | None:
        try:
            data = json.loads(self.layout.service_exit.read_text(encoding="utf-8"))
            return f"the server {data['how']} at {data['time']}"
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _same_process(record: dict[str, Any], key: str = "pid") -> bool | None:
        proc = liveness.ProcessId(int(record[key]), str(record.get("host", "")),
                                  record.get(f"{key}_start"))
        return liveness.is_running(proc, liveness.this_host())

    def _health(self, url: str, timeout: float = 1.0) -> dict[str, Any] | None:
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=timeout)
        try:
            conn.request("GET", "/api/v1/health")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                return None
            data = json.loads(body)
            return data if isinstance(data, dict) else None
        except (OSError, ValueError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def status(self) -> ServiceStatus:
        log = str(self.layout.service_log)
        record = self._record()
        if record is None:
            return ServiceStatus("stopped", self.name, log=log, reason=self._last_exit())
        if isinstance(record, str):
            return ServiceStatus("stopped", self.name, log=log, stale=True, reason=record)
        pid, url = int(record["pid"]), record.get("url")
        base: dict[str, Any] = {"provider": self.name, "pid": pid, "url": url,
                                "port": record.get("port"), "log": log,
                                "started_at": record.get("started_at"),
                                "version": record.get("version")}
        running = self._same_process(record)
        if running is None:
            return ServiceStatus("stopped", **base, stale=True,
                                 reason="the pid file was written on another host")
        if not running:
            reason = self._last_exit()
            if reason is None:
                reason = (f"process {pid} is gone (no exit was recorded)" if
                          liveness.pid_gone(pid) else
                          f"pid {pid} now belongs to another program")
            return ServiceStatus("stopped", **base, stale=True, reason=reason)
        health = self._health(url) if url else None
        uptime = None
        if health is not None:
            base["version"] = health.get("version", base["version"])
            uptime = health.get("uptime")
        if uptime is None and base["started_at"]:
            with contextlib.suppress(ValueError):
                uptime = round(time.time() - epoch(base["started_at"]), 3)
        return ServiceStatus("running", **base, uptime=uptime, healthy=health is not None,
                             reason=None if health is not None else f"{url} does not answer")

    # -- start ----------------------------------------------------------------------------
    def _argv(self, port: int) -> list[str]:
        if self.command is not None:
            return [a.format(port=port, root=self.layout.root) for a in self.command]
        import importlib.util

        missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
        if missing:
            raise FleetHiveError(f"the server is not installed ({', '.join(missing)} missing)",
                                 hint="pip install 'fleet-hive[server]'")
        return [sys.executable, "-m", "fleet_hive", "-C", str(self.layout.root), "serve",
                "--port", str(port)]

    @staticmethod
    def _free_port() -> int:
        import socket

        with socket.socket() as s:
            s.bind((HOST, 0))
            port: int = s.getsockname()[1]
            return port

    def _clear(self) -> None:
        for path in (self.layout.service_pid, self.layout.service_exit):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _rotate_log(self) -> None:
        log = self.layout.service_log
        with contextlib.suppress(FileNotFoundError):
            if log.stat().st_size >= LOG_MAX_BYTES:
                os.replace(log, log.with_name(log.name + ".1"))

    def _open_log(self) -> int:
        """The log for appending, private to this user: the server prints its dashboard
        URL, whose fragment holds the API token."""
        fd = os.open(self.layout.service_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
        return fd

    def _note(self, text: str) -> None:
        with os.fdopen(self._open_log(), "ab") as f:
            f.write(f"{utc_now()} [services] {text}\n".encode())

    def _tail_text(self, n: int = 5) -> str:
        lines = [line.text for line in self.logs(n)]
        return " | ".join(lines) if lines else "(the log is empty)"

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One ``up`` or ``down`` at a time per repository (two ``up`` at once would
        start two servers, one of which fails to bind)."""
        self.layout.local.mkdir(parents=True, exist_ok=True)
        mutex = FileMutex(self.layout.local / "server.lock")
        try:
            with mutex:
                yield
        finally:
            mutex.close()

    def start(self, *, port: int | None = None, timeout: float | None = None) -> Outcome:
        with self._lock():
            return self._start(port, timeout)

    def _start(self, port: int | None, timeout: float | None) -> Outcome:
        current = self.status()
        if current.running:
            asked = f"; asked for port {port}" if port not in (None, 0, current.port) else ""
            return Outcome("already_running", current,
                           f"already running (pid {current.pid}, {current.url}){asked}")
        if port is not None and not 0 <= port <= 65535:
            raise InvalidInputError(f"--port {port} is not a port (0-65535)")
        chosen = self.port if port is None else port
        if chosen == 0:
            chosen = self._free_port()
        argv = self._argv(chosen)
        self.layout.local.mkdir(parents=True, exist_ok=True)
        self._clear()  # a stale record is replaced (status above said what it was)
        self._rotate_log()
        self._note(f"starting: {' '.join(argv)}")
        stamper = [sys.executable, "-m", "fleet_hive.services.stamp", "--log",
                   str(self.layout.service_log), "--exit", str(self.layout.service_exit),
                   "--", *argv]
        devnull = os.open(os.devnull, os.O_RDWR)
        err = self._open_log()
        try:
            proc = processes.spawn(stamper, cwd=self.layout.root, stdin=devnull,
                                   stdout=devnull, stderr=err)
        finally:
            os.close(devnull)
            os.close(err)
        url = f"http://{HOST}:{chosen}"
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            health = self._health(url, timeout=0.5)
            if health is not None and self._ours(health, proc.pid):
                break
            if proc.poll() is not None:
                raise FleetHiveError(f"the server exited as it started: {self._tail_text()}",
                                     hint=f"see {self.layout.service_log}")
            if time.monotonic() > deadline:
                processes.stop(proc, grace=self.grace)
                raise TimeoutExpiredError(
                    f"the server did not answer {url}/api/v1/health in time: "
                    f"{self._tail_text()}", hint=f"see {self.layout.service_log}")
            time.sleep(0.05)
        pid = int(health["pid"])
        me = liveness.process(pid)
        leader = liveness.process(proc.pid)
        record = {"pid": pid, "pid_start": me.start, "pgid": proc.pid,
                  "pgid_start": leader.start, "host": me.host, "port": chosen, "url": url,
                  "version": health.get("version"),
                  "started_at": health.get("started_at") or utc_now(), "argv": argv}
        write_atomic(self.layout.service_pid, json.dumps(record, indent=2) + "\n",
                     mode=0o600, durable=False)
        self._note(f"running: pid {pid}, {url}")
        replaced = f"; replaced a stale pid file ({current.reason})" if current.stale else ""
        return Outcome("started", self.status(), f"started (pid {pid}, {url}){replaced}")

    @staticmethod
    def _ours(health: dict[str, Any], pgid: int) -> bool:
        """Whether the server that answered runs in the group we started (not another
        program that holds the port)."""
        try:
            return os.getpgid(int(health["pid"])) == pgid
        except (KeyError, TypeError, ValueError, ProcessLookupError, PermissionError):
            return False

    # -- stop -----------------------------------------------------------------------------
    def stop(self, *, grace: float | None = None) -> Outcome:
        with self._lock():
            return self._stop(grace)

    def _stop(self, grace: float | None) -> Outcome:
        current = self.status()
        record = self._record()
        if not current.running or not isinstance(record, dict):
            had = self.layout.service_pid.exists()
            self._clear()
            detail = "not running" + (f"; removed a stale pid file ({current.reason})"
                                      if had and current.stale else "")
            return Outcome("not_running", self.status(), detail)
        pgid = int(record["pgid"])
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(current.pid or 0) != pgid:
                raise FleetHiveError(f"process {current.pid} is no longer in the group "
                                     f"{pgid} that services started", hint="stop it yourself")

        def gone() -> bool:
            return not self._same_process(record) and not self._same_process(record, "pgid")

        how = processes.stop_group(pgid, gone, grace=self.grace if grace is None else grace)
        self._note(f"stopped ({how})")
        self._clear()
        return Outcome("stopped", self.status(),
                       "stopped" if how != "killed" else "killed (SIGKILL after the grace "
                                                         "period)")

    # -- logs -----------------------------------------------------------------------------
    def logs(self, tail: int | None = None) -> list[LogLine]:
        if tail is not None and tail < 0:
            raise InvalidInputError(f"--tail {tail} must be 0 or more")
        try:
            with open(self.layout.service_log, encoding="utf-8", errors="replace") as f:
                lines = deque(f, maxlen=tail) if tail is not None else list(f)
        except FileNotFoundError:
            return []
        return [_parse(line.rstrip("\n")) for line in lines]


def _parse(line: str) -> LogLine:
    stamp = line[:_STAMP_LEN]
    if len(stamp) == _STAMP_LEN and stamp.endswith("Z") and stamp[4] == "-" and \
            line[_STAMP_LEN:_STAMP_LEN + 1] == " ":
        return LogLine(stamp, line[_STAMP_LEN + 1:])
    return LogLine(None, line)
