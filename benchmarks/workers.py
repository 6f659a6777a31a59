"""Child processes of the benchmarks: ``python -m benchmarks.workers <command> ...``.

``append``  one of N concurrent appenders: warm up, signal ready, wait for the go file,
            append ``--count`` notes timing each, write its latencies as JSON.
``index``   open a repository and time ``hive.index.rebuild()`` (or the first
            ``catch_up()`` into an empty index); print JSON with the seconds and the peak
            memory of this process before and after.
``report``  a specialist reporting progress on its in-progress sorties of one mission (round
            robin, ``--sorties`` ids, one every ``--every`` seconds) until the ``--stop`` file
            exists; writes how many.
``acked``   a writer of the crash test (``benchmarks/crash_test.py``): warm up, create the
            ``--acks`` file (its existence says "ready"), then append notes (single events
            and batches) until killed, adding each event's id to the file only after its
            append returned.

Each prints/writes one JSON object and exits 0 (``acked`` never exits on its own); the
parent checks the results.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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


def report_worker(args: argparse.Namespace) -> None:
    import fleet_hive

    hive = fleet_hive.open(args.repo, actor=args.actor)
    sorties = args.sorties.split(",")
    hive.sorties.progress(sorties[0], 1)  # imports and first snapshot before ready
    Path(args.ready).write_text(str(os.getpid()))
    stop = Path(args.stop)
    n = 0
    while not stop.exists():
        n += 1
        hive.sorties.progress(sorties[n % len(sorties)], 1 + n % 99, note=f"step {n}")
        time.sleep(args.every)
    hive.close()
    Path(args.out).write_text(json.dumps({"reports": n}))


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


def floor_worker(args: argparse.Namespace) -> None:
    """The rebuild's floor: the same segment lines parsed by orjson and stored as the same
    rows in the same ``events`` table (the index's own DDL), its unique id index during
    the load and the other indexes built after it, in one transaction with
    synchronous=OFF, as the rebuild does. Nothing else: no seq ledger, no projections, no
    integrity checks, no problems table."""
    import sqlite3
    import zlib

    import orjson

    from fleet_hive.index import db as index_db

    events_dir = Path(args.repo) / ".fleet" / "events"
    segments = sorted(events_dir.rglob("*.jsonl"))
    before = peak_rss_mb()
    t = time.perf_counter()
    db = sqlite3.connect(args.out, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    for statement in index_db._SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("CREATE UNIQUE INDEX events_id ON events(id)")
    seq = 0
    rows: list[tuple[object, ...]] = []
    for path in segments:
        rel = path.relative_to(events_dir).as_posix()
        off = 0
        with open(path, "rb") as f:
            for line in f:
                raw = line.rstrip(b"\n")
                ev = orjson.loads(raw)
                seq += 1
                rows.append((seq, ev["id"], ev["type"], ev["stream"], ev["clock"], ev["writer"],
                             ev["n"], ev.get("causation_id"), ev.get("correlation_id"), rel,
                             off, zlib.crc32(raw, seq & 0xFFFFFFFF), raw))
                off += len(line)
                if len(rows) >= 2_000:
                    db.executemany(index_db._INSERT, rows)
                    rows = []
    db.executemany(index_db._INSERT, rows)
    for statement in index_db._INDEXES.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("COMMIT")
    db.close()
    seconds = time.perf_counter() - t
    print(json.dumps({"mode": "floor", "events": seq, "seconds": seconds,
                      "rss_before_mb": before, "rss_peak_mb": peak_rss_mb()}))


def acked_worker(args: argparse.Namespace) -> None:
    import fleet_hive
    from fleet_hive.events.registry import validate_data

    hive = fleet_hive.open(args.repo, actor=f"crash-{args.name}")
    hive.log  # noqa: B018
    validate_data("note_added", {"text": "warm-up"})
    rng = random.Random(args.seed)
    stream = f"crash:{args.name}"
    acks = os.open(args.acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    i = 0
    while args.count is None or i < args.count:
        size = rng.choice((1, 1, 1, 2, 5))
        if size == 1:
            ids = [hive.events.append("note_added", stream=stream,
                                      data={"text": f"{args.name}-{i}"}).id]
        else:
            ids = [e.id for e in hive.events.append_batch(
                [{"type": "note_added", "stream": stream, "data": {"text": f"{args.name}-{i}-{j}"}}
                 for j in range(size)])]
        # Only now is the append acknowledged; os.write survives a SIGKILL right after it.
        os.write(acks, "".join(f"{event_id}\n" for event_id in ids).encode())
        i += 1


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
    f = sub.add_parser("floor")
    f.add_argument("--repo", required=True)
    f.add_argument("--out", required=True, help="the SQLite file to create")
    r = sub.add_parser("report")
    r.add_argument("--repo", required=True)
    r.add_argument("--actor", required=True)
    r.add_argument("--sorties", required=True)
    r.add_argument("--ready", required=True)
    r.add_argument("--stop", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--every", type=float, default=0.1, help="seconds between reports")
    c = sub.add_parser("acked")
    c.add_argument("--repo", required=True)
    c.add_argument("--acks", required=True)
    c.add_argument("--name", required=True)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--count", type=int, default=None, help="stop after this many appends")
    args = parser.parse_args(argv)
    {"append": append_worker, "index": index_worker, "acked": acked_worker,
     "report": report_worker, "floor": floor_worker}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
