"""A real ``fleet-hive serve`` on a free loopback port, for the server's tests and
benchmarks: started as its own process (own process group), stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class ApiServer:
    url: str  # http://127.0.0.1:PORT
    token: str
    dashboard: str
    pid: int
    proc: subprocess.Popen[bytes]
    root: Path

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def headers(self, actor: str | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token}"}
        if actor is not None:
            h["X-Fleet-Actor"] = actor
        return h

    def client(self, actor: str | None = None, **kw: Any) -> Any:
        import httpx

        return httpx.Client(base_url=self.api, headers=self.headers(actor),
                            timeout=kw.pop("timeout", 30), **kw)


def start(repo: Path, *args: str, timeout: float = 30) -> ApiServer:
    """``fleet-hive -C repo serve --port 0 --json ARGS`` once it answers its health check."""
    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet_hive", "-C", str(repo), "serve", "--port", "0",
         "--json", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, env={**os.environ})
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        poller = select.poll()  # not select.select: a busy test process has fds over 1024
        poller.register(proc.stdout.fileno(), select.POLLIN)
        ready = poller.poll(max(0.0, left) * 1000)
        if not ready or proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None \
                and proc.stderr else ""
            stop(proc)
            raise RuntimeError(f"fleet-hive serve did not start: {err.strip()[-2000:]}")
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            continue
        line += chunk
    where = json.loads(line.decode())
    token = (repo / ".fleet" / "local" / "token").read_text().strip()
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{where['api']}/health", timeout=2).status_code == 200:
                break
        if time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError("fleet-hive serve did not answer its health check")
        time.sleep(0.05)
    return ApiServer(where["url"], token, where["dashboard"], where["pid"], proc, repo)


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the server's group; SIGKILL after 10 s. Returns its exit code."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return proc.returncode


@contextlib.contextmanager
def serving(repo: Path, *args: str) -> Iterator[ApiServer]:
    server = start(repo, *args)
    try:
        yield server
    finally:
        stop(server.proc)


class SseReader:
    """Reads server-sent events from a streaming httpx response: ``next(timeout)`` returns
    ``(id, event, data)`` of the next event (comments skipped), or None on timeout."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        import queue
        import threading

        import httpx

        self.events: queue.Queue[tuple[int, str, dict[str, Any]] | None] = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=None))
        self._stop = threading.Event()
        self.opened = threading.Event()
        self.status: int | None = None

        def pump() -> None:
            try:
                with self._client.stream("GET", url, headers=headers) as response:
                    self.status = response.status_code
                    self.opened.set()
                    fields: dict[str, str] = {}
                    for line in response.iter_lines():
                        if self._stop.is_set():
                            return
                        if not line:
                            if "data" in fields:
                                self.events.put((int(fields.get("id", "0")),
                                                 fields.get("event", ""),
                                                 json.loads(fields["data"])))
                            fields = {}
                        elif not line.startswith(":"):
                            key, _, value = line.partition(":")
                            fields[key] = value[1:] if value.startswith(" ") else value
            except Exception:  # closed under us: the reader is done
                return
            finally:
                self.opened.set()
                self.events.put(None)

        self._thread = threading.Thread(target=pump, daemon=True)
        self._thread.start()
        self.opened.wait(30)

    def next(self, timeout: float) -> tuple[int, str, dict[str, Any]] | None:
        import queue

        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._stop.set()
        self._client.close()


def new_repo(path: Path) -> Path:
    """A git repository at ``path`` with one commit and ``fleet-hive init`` done (CLI)."""
    from . import git, run_cli

    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("hello\n")
    git(path, "add", "README")
    git(path, "commit", "-q", "-m", "initial")
    result = run_cli("-C", str(path), "init", "--json")
    assert result.returncode == 0, result.stderr
    return path


def cli(repo: Path, *args: str, actor: str = "cli", code: int = 0) -> Any:
    """``fleet-hive -C repo --actor ACTOR ARGS --json`` as a process: its JSON output
    (asserting the exit code)."""
    from . import run_cli

    result = run_cli("-C", str(repo), "--actor", actor, *args, "--json")
    assert result.returncode == code, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)
