"""Child processes of the benchmarks: ``python -m benchmarks.workers <command> ...``.

``append``  one of N concurrent appenders: warm up, signal ready, wait for the go file,
            append ``--count`` notes timing each, write its latencies as JSON.
``index``   open a repository and time ``hive.index.rebuild()`` (or the first
            ``catch_up()`` into an empty index); print JSON with the seconds and the peak
            memory of this process before and after.

Each prints/writes one JSON object and exits 0; the parent checks the results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from .harness import peak_rss_mb


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def append_worker(args: argparse.Namespace) -> None:
    import fleet_hive
    from fleet_hive.events.registry import validate_data

    hive = fleet_hive.open(args.repo)
    # Pay the imports (filelock, pydantic, the event types) before the clock starts.
    hive.log  # noqa: B018
    validate_data("note_added", {"text": "warm-up"})
    Path(args.ready).write_text(str(os.getpid()))
    go = Path(args.go)
    deadline = time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal within 120 s")
        time.sleep(0.001)
    clock = time.perf_counter_ns
    append = hive.events.append
    stream = f"agent:w{args.worker}"
    latencies = []
    cpu = _cpu_seconds()
    started = time.monotonic_ns()
    for i in range(args.count):
        t = clock()
        append("note_added", stream=stream, data={"text": f"w{args.worker}-{i}"})
        latencies.append((clock() - t) / 1e6)
    ended = time.monotonic_ns()
    cpu = _cpu_seconds() - cpu
    tmp = Path(f"{args.out}.tmp")
    tmp.write_text(json.dumps({"worker": args.worker, "started_ns": started, "ended_ns": ended,
                               "latencies_ms": latencies, "cpu_s": cpu,
                               "peak_rss_mb": peak_rss_mb()}))
    os.replace(tmp, args.out)


def index_worker(args: argparse.Namespace) -> None:
    import fleet_hive

    hive = fleet_hive.open(args.repo)
    hive.index.db  # noqa: B018 - open (and create) the cache before the clock starts
    before = peak_rss_mb()
    t = time.perf_counter()
    events = hive.index.rebuild() if args.mode == "rebuild" else hive.index.catch_up()
    seconds = time.perf_counter() - t
    hive.close()
    print(json.dumps({"mode": args.mode, "events": events, "seconds": seconds,
                      "rss_before_mb": before, "rss_peak_mb": peak_rss_mb()}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("append")
    a.add_argument("--repo", required=True)
    a.add_argument("--worker", type=int, required=True)
    a.add_argument("--count", type=int, required=True)
    a.add_argument("--ready", required=True)
    a.add_argument("--go", required=True)
    a.add_argument("--out", required=True)
    i = sub.add_parser("index")
    i.add_argument("--repo", required=True)
    i.add_argument("--mode", choices=("rebuild", "catch_up"), default="rebuild")
    args = parser.parse_args(argv)
    {"append": append_worker, "index": index_worker}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
