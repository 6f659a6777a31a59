"""The HTTP API (issue 16): request latency over loopback with 1 and with 32 concurrent
clients, and the delay from an append (by another process) to its arrival on an SSE stream.

A real ``fleet-hive serve`` (its own process, rate limit off) over a repository with one
mission of 20 sorties; the clients are httpx in threads of this process (keep-alive
connections, as an agent's client would hold). The read is ``GET /api/v1/ready``, the write
``POST /api/v1/events`` (a note on the mission: the write path, durable). SSE: this process
appends through the library (like the CLI would) and times until the event arrives on an
open ``/api/v1/events/stream``.
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import Measurement, child_env, new_repo, percentile, progress


@dataclass(frozen=True)
class Sizes:
    single: int  # requests of each kind by one client
    per_client: int  # requests by each of the 32 clients
    sse: int  # appends timed on the stream


FULL = Sizes(single=400, per_client=60, sse=100)
SMOKE = Sizes(single=20, per_client=3, sse=5)
CLIENTS = 32


def _serve(repo: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet_hive", "-C", str(repo), "serve", "--port", "0", "--json",
         "--rate-limit", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=child_env(), start_new_session=True)
    assert proc.stdout is not None
    poller = select.poll()
    poller.register(proc.stdout.fileno(), select.POLLIN)
    if not poller.poll(60_000):
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError("fleet-hive serve did not start")
    return proc, json.loads(proc.stdout.readline())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _timed_requests(client: Any, n: int, request: Any) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter_ns()
        r = request(client, i)
        out.append((time.perf_counter_ns() - t) / 1e6)
        if r.status_code >= 300:
            raise RuntimeError(f"{r.status_code}: {r.text[:300]}")
    return out


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    import httpx

    sizes = SMOKE if smoke else FULL
    hive = new_repo(workdir / "served", durability="fsync")
    m = hive.missions.create("served", priority=0)
    hive.sorties.add_many(m.id, [{"title": f"sortie {k}", "files": [f"src/{k}.py"]}
                                 for k in range(20)])
    token = (hive.root / ".fleet" / "local" / "token").read_text().strip()
    proc, where = _serve(hive.root)
    api = where["api"]
    headers = {"Authorization": f"Bearer {token}", "X-Fleet-Actor": "bench"}
    try:
        def read(c: Any, i: int) -> Any:
            return c.get("/ready")

        def write(c: Any, i: int) -> Any:
            return c.post("/events", json={"type": "note_added", "stream": f"mission:{m.id}",
                                           "data": {"text": f"note {i}"}})

        progress("1 client: GET /ready, POST /events")
        with httpx.Client(base_url=api, headers=headers, timeout=60) as c:
            _timed_requests(c, 10, read)  # warm up: connection, index, imports
            _timed_requests(c, 3, write)
            one_read = _timed_requests(c, sizes.single, read)
            one_write = _timed_requests(c, sizes.single // 2, write)

        progress(f"{CLIENTS} clients at once: GET /ready, then POST /events")
        many_read = _concurrent(api, headers, sizes.per_client, read)
        many_write = _concurrent(api, headers, max(1, sizes.per_client // 3), write)

        progress("SSE: append in another process -> event on the stream")
        delays = _sse_delays(api, headers, hive, m.id, sizes.sse)
    finally:
        _stop(proc)
        hive.close()
    return [
        Measurement("API `GET /ready`, 1 client over loopback", "< 50 ms", "≤ 5 ms p95", "",
                    samples=one_read, passed=percentile(one_read, 95) <= 5,
                    notes="keep-alive connection; 20-sortie mission; index catch-up per "
                          "request"),
        Measurement("API `POST /events` (durable write), 1 client", "< 50 ms", "—", "",
                    samples=one_write, passed=None,
                    notes="the write path: lock, catch-up, validate, append + fsync, snapshot"),
        Measurement(f"API `GET /ready`, {CLIENTS} concurrent clients", "< 50 ms",
                    "≤ 50 ms p95", "", samples=many_read,
                    passed=percentile(many_read, 95) <= 50,
                    notes="per-request latency while all 32 send back to back (httpx threads "
                          "of one process, sharing the 2 cores with the server); the "
                          "library runs one call at a time"),
        Measurement(f"API `POST /events`, {CLIENTS} concurrent clients", "< 50 ms", "—", "",
                    samples=many_write, passed=None,
                    notes="writes are serialized by the writer lock (one fsync each)"),
        Measurement("SSE delivery: append (other process) -> client", "—", "≤ 50 ms p95", "",
                    samples=delays, passed=percentile(delays, 95) <= 50,
                    notes="from the start of the append (so it includes the append itself, "
                          "fsync included) to the event parsed by the client; the stream "
                          "is woken by the log's watcher"),
    ]


def _concurrent(api: str, headers: dict[str, str], n: int, request: Any) -> list[float]:
    import httpx

    samples: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    go = threading.Barrier(CLIENTS)

    def client(k: int) -> None:
        try:
            with httpx.Client(base_url=api, headers={**headers, "X-Fleet-Actor": f"c{k}"},
                              timeout=60) as c:
                c.get("/health")
                go.wait()
                got = _timed_requests(c, n, request)
            with lock:
                samples.extend(got)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return samples


def _sse_delays(api: str, headers: dict[str, str], hive: Any, mission_id: str,
                n: int) -> list[float]:
    import httpx

    arrived: queue.Queue[tuple[str, int]] = queue.Queue()
    opened = threading.Event()
    client = httpx.Client(timeout=httpx.Timeout(60, read=None))

    def listen() -> None:
        try:
            with client.stream("GET", f"{api}/events/stream", headers=headers) as r:
                opened.set()
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        arrived.put((event["id"], time.perf_counter_ns()))
        except Exception:
            opened.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    opened.wait(30)
    time.sleep(0.2)
    delays = []
    for i in range(n):
        start = time.perf_counter_ns()  # the append's start: the server may see the line
        event = hive.events.append("note_added", stream=f"mission:{mission_id}",  # before
                                   data={"text": f"sse {i}"})  # the call has returned
        done = start
        while True:
            event_id, when = arrived.get(timeout=10)
            if event_id == event.id:
                delays.append((when - done) / 1e6)
                break
        time.sleep(0.013 * (i % 5))  # appends at varied phases of the server's look
    client.close()
    return delays
