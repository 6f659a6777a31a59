"""The event log and its index (issue 2): append latency and throughput, concurrent
appenders, index catch-up and full rebuild, each next to its physical floor.

Targets are those of ``spec/performance.md``. Full sizes: 2,000 single appends, 200,000
batched events, 16 processes x 1,000 appends, catch-up on a 100k index, rebuilds of 100k
and 1M events. Smoke sizes are small enough for CI and prove only that it all still runs.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .datagen import Template, iter_segment_lines, notes_template, record_mission, write_log
from .harness import (
    Measurement,
    Stopwatch,
    child_env,
    fmt,
    new_repo,
    percentile,
    progress,
    python_module,
    run_process,
    timed,
)

SPEC_APPEND = "< 5 ms p99"
SPEC_CONCURRENT = "10+ agents, 1,000+ events/s"


@dataclass(frozen=True)
class Sizes:
    single: int  # durable single appends (and as many raw write+fdatasync calls)
    rounds: int  # ours and raw alternate in this many blocks, so noise hits both alike
    batch_events: int
    batch_size: int
    procs: int
    per_proc: int
    catchup_index: int
    catchup_reps: int
    long_stream: int  # events already in the stream that gains the new event
    rebuild: tuple[int, ...]


FULL = Sizes(single=2_000, rounds=10, batch_events=200_000, batch_size=1_000, procs=16,
             per_proc=1_000, catchup_index=100_000, catchup_reps=50, long_stream=10_000,
             rebuild=(100_000, 1_000_000))
SMOKE = Sizes(single=200, rounds=4, batch_events=10_000, batch_size=1_000, procs=4,
              per_proc=100, catchup_index=5_000, catchup_reps=20, long_stream=1_000,
              rebuild=(10_000,))


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    sizes = SMOKE if smoke else FULL
    out: list[Measurement] = []
    for step in (single_append, batch_append, concurrent_appenders, appenders_with_reporters):
        gc.collect()
        out += step(sizes, workdir)
    template = log_template(workdir / "template")
    for indexed in (catch_up, rebuild):
        gc.collect()
        out += indexed(sizes, workdir, template)
    return out


def log_template(where: Path) -> Template:
    """What generated logs hold: a recorded mission life, so that projections do real work.

    Falls back to plain notes (said so in every note that uses it) when the missions API
    cannot record one: the log benchmarks should not crash on another module's bug.
    """
    progress("recording a mission's life through the API (the generated logs replay it)")
    try:
        return record_mission(where)
    except Exception as e:  # any failure of the missions API
        progress(f"WARNING: cannot record a mission ({type(e).__name__}: {e}); notes only")
        t = notes_template()
        t.description = f"{t.description}; missions API failed: {type(e).__name__}: {e}"
        return t


def label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a is not None and b else "n/a"


# -- durable single append vs raw write + fdatasync --------------------------------------
def single_append(sizes: Sizes, workdir: Path) -> list[Measurement]:
    progress(f"durable single append: {sizes.single:,} appends vs raw write+fdatasync")
    hive = new_repo(workdir / "single")
    append = hive.events.append
    for i in range(50):  # imports, first segment, directory fsyncs: not what we measure
        append("note_added", stream="mission:m1", data={"text": f"warm-up note {i:06d}"})
    line = _last_line(hive)
    raw_fd = os.open(hive.layout.fleet / "raw-floor.bin",
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    ours: list[float] = []
    raw: list[float] = []
    ours_wall = Stopwatch()
    block = sizes.single // sizes.rounds
    counter = iter(range(10**9))
    try:
        def one_append() -> None:
            append("note_added", stream="mission:m1",
                   data={"text": f"benchmark note {next(counter):06d}"})

        def one_raw() -> None:
            os.write(raw_fd, line)
            os.fdatasync(raw_fd)

        for _ in range(sizes.rounds):
            with ours_wall:
                ours += timed(one_append, block)
            raw += timed(one_raw, block)
    finally:
        os.close(raw_fd)
    n = block * sizes.rounds
    rate = n / ours_wall.seconds
    floor = Measurement("raw os.write + fdatasync (floor, same fs)", "—", "—", "appends/s",
                        samples=raw, value=n / (sum(raw) / 1000),
                        notes=f"{len(line)}-byte lines, fd kept open")
    lat = Measurement(
        "durable single append, in-process: latency", SPEC_APPEND, "≤ 0.5 ms p99", "",
        samples=ours, passed=percentile(ours, 99) <= 0.5,
        notes=(f"vs raw write+fdatasync: p50 {_ratio(percentile(ours, 50), floor.median)}, "
               f"p99 {_ratio(percentile(ours, 99), floor.p99)}; {len(line)}-byte lines; "
               f"{sizes.rounds} alternating blocks"),
    )
    thr = Measurement(
        "durable single append, in-process: throughput", "—", "≥ 3,000 appends/s",
        "appends/s", value=rate, passed=rate >= 3_000,
        notes=f"raw floor {fmt(floor.value)}/s ({_ratio(floor.value, rate)} ours)",
    )
    hive.close()
    p50_ratio = percentile(ours, 50) / floor.median
    vs_raw = Measurement(
        "durable single append vs raw write+fdatasync of the same line (p50 ratio)", "—",
        "≤ 1.25x", "x", value=p50_ratio, passed=p50_ratio <= 1.25,
        notes=f"p50 {percentile(ours, 50):.3f} ms vs {floor.median:.3f} ms, same run")
    return [lat, thr, floor, vs_raw, *swarm_mail(sizes, workdir, rate)]


def swarm_mail(sizes: Sizes, workdir: Path, ours_per_s: float) -> list[Measurement]:
    """SwarmTools' store appending the same way, in the same run (benchmarks/peers)."""
    from .peers import PeerUnavailable, swarm_mail_appends

    progress(f"swarm-mail: {sizes.single:,} appendEvent calls (node)")
    name = "swarm-mail appendEvent (libSQL, WAL), one event at a time, same run"
    try:
        peer = swarm_mail_appends(workdir / "peers", sizes.single)
    except PeerUnavailable as e:
        why = f"not measured: {e}"
        return [Measurement(name, "—", "—", "appends/s", notes=why),
                Measurement("durable single append vs swarm-mail (appends/s)", "—",
                            "≥ 1.5x", "x", notes=why)]
    theirs = float(peer["appends_per_s"])
    ratio = ours_per_s / theirs
    return [
        Measurement(name, "—", "—", "appends/s", samples=list(peer["latencies_ms"]),
                    value=theirs,
                    notes=(f"swarm-mail {peer['version']} on node {peer['node']}, after 50 "
                           f"warm-up appends; its open took {peer['open_ms']:.0f} ms")),
        Measurement("durable single append vs swarm-mail (appends/s)", "—", "≥ 1.5x", "x",
                    value=ratio, passed=ratio >= 1.5,
                    notes=f"ours {fmt(ours_per_s)}/s, swarm-mail {fmt(theirs)}/s"),
    ]


def _last_line(hive: object) -> bytes:
    """The last line the log wrote (with its newline): the raw floor writes lines this size."""
    *_, (_, _, path) = hive.layout.segments()  # type: ignore[attr-defined]
    data = path.read_bytes()
    return data[data.rstrip(b"\n").rfind(b"\n") + 1:]


# -- batched append ------------------------------------------------------------------------
def batch_append(sizes: Sizes, workdir: Path) -> list[Measurement]:
    batches = sizes.batch_events // sizes.batch_size
    progress(f"batched append: {batches} batches of {sizes.batch_size:,}")
    hive = new_repo(workdir / "batch")
    items = [{"type": "note_added", "stream": f"sortie:s{i % 97}",
              "data": {"text": f"batched note number {i:06d}"}} for i in range(sizes.batch_size)]
    hive.events.append_batch(items)  # warm-up
    samples = timed(lambda: hive.events.append_batch(items), batches)
    rate = batches * sizes.batch_size / (sum(samples) / 1000)
    hive.close()
    return [Measurement(
        f"batched append ({sizes.batch_size:,}/batch, durable)", "—", "≥ 100,000 events/s",
        "events/s", samples=samples, value=rate, passed=rate >= 100_000,
        notes=f"{batches * sizes.batch_size:,} events; samples are ms per batch",
    )]


# -- concurrent appenders ------------------------------------------------------------------
def appenders_with_reporters(sizes: Sizes, workdir: Path) -> list[Measurement]:
    """The same appenders while 4 more processes report progress, as specialists do, on one
    100-sortie mission, each 10 times a second (issue 11: each report rewrites that
    mission's snapshot); the row above, without them, is the baseline."""
    return concurrent_appenders(sizes, workdir, reporters=4)


def concurrent_appenders(sizes: Sizes, workdir: Path, reporters: int = 0,
                         ) -> list[Measurement]:
    procs, count = sizes.procs, sizes.per_proc
    during = (f" while {reporters} processes report progress on a 100-sortie mission"
              if reporters else "")
    progress(f"concurrent appenders: {procs} processes x {count:,} appends{during}")
    base = workdir / ("concurrent-reporting" if reporters else "concurrent")
    hive = new_repo(base / "repo")
    mission_sorties: list[list[str]] = []
    if reporters:
        m = hive.missions.create("reported on")
        hive.missions.start(m.id)
        ids = [s.id for s in hive.sorties.add_many(m.id, [{"title": f"s{k}"}
                                                          for k in range(100)])]
        for k, sid in enumerate(ids):
            hive.sorties.claim(sid, specialist=f"r{k % reporters}")
            hive.sorties.start(sid)
        mission_sorties = [ids[r::reporters] for r in range(reporters)]
    hive.close()
    signals = base / "signals"
    signals.mkdir()
    go = signals / "go"
    stop = signals / "stop"
    children = []
    env = child_env()
    reporting = []
    for r, ids in enumerate(mission_sorties):
        argv = python_module("benchmarks.workers", "report", "--repo", hive.root,
                             "--actor", f"r{r}", "--sorties", ",".join(ids),
                             "--ready", signals / f"reporter-{r}", "--stop", stop,
                             "--out", signals / f"reports-{r}.json")
        reporting.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL))
    for w in range(procs):
        argv = python_module("benchmarks.workers", "append", "--repo", hive.root,
                             "--worker", w, "--count", count, "--ready", signals / f"ready-{w}",
                             "--go", go, "--out", signals / f"out-{w}.json")
        err = open(signals / f"stderr-{w}", "wb")  # noqa: SIM115 - closed below
        children.append((subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                          stderr=err), err))
    try:
        deadline = time.monotonic() + 180
        while not all((signals / f"ready-{w}").exists() for w in range(procs)) or \
                not all((signals / f"reporter-{r}").exists() for r in range(reporters)):
            for w, (p, _) in enumerate(children):
                if p.poll() is not None:
                    raise RuntimeError(f"appender {w} exited {p.returncode} before starting: "
                                       + (signals / f"stderr-{w}").read_text()[-2000:])
            if time.monotonic() > deadline:
                raise RuntimeError("appenders not ready within 180 s")
            time.sleep(0.01)
        go_ns = time.monotonic_ns()  # CLOCK_MONOTONIC: one clock for all processes
        go.touch()
        for w, (p, _) in enumerate(children):
            if p.wait(timeout=600) != 0:
                raise RuntimeError(f"appender {w} exited {p.returncode}: "
                                   + (signals / f"stderr-{w}").read_text()[-2000:])
        stop.touch()
        if any(p.wait(timeout=120) != 0 for p in reporting):
            raise RuntimeError("a progress reporter failed")
    finally:
        stop.touch()
        for p in reporting:
            if p.poll() is None:
                p.kill()
                p.wait()
        for p, err in children:
            if p.poll() is None:
                p.kill()
                p.wait()
            err.close()
    results = [json.loads((signals / f"out-{w}.json").read_text()) for w in range(procs)]
    latencies = [x for r in results for x in r["latencies_ms"]]
    wall = (max(r["ended_ns"] for r in results) - go_ns) / 1e9
    total = procs * count
    rate = total / wall
    check = _check_log(hive.layout.events, procs, count)
    bad = check["lost"] + check["duplicated"]
    p99 = percentile(latencies, 99)
    per_proc_p99 = [percentile(r["latencies_ms"], 99) for r in results]
    cpu = sum(r["cpu_s"] for r in results)
    cores = len(os.sched_getaffinity(0))
    if reporters:
        reports = sum(json.loads((signals / f"reports-{r}.json").read_text())["reports"]
                      for r in range(reporters))
        return [
            Measurement(f"{procs} appenders x {count:,}{during}: plain append latency",
                        "—", "≤ 10 ms p99", "", samples=latencies, passed=p99 <= 10 and not bad,
                        notes=(f"{reports:,} progress reports meanwhile; lost "
                               f"{check['lost']}, duplicated {check['duplicated']}; max "
                               f"{fmt(max(latencies))} ms")),
        ]
    return [
        Measurement(f"{procs} concurrent appenders x {count:,}: per-append latency",
                    SPEC_CONCURRENT, "≤ 10 ms p99", "", samples=latencies, passed=p99 <= 10,
                    notes=(f"one clone, appends serialized by the writer lock; per-process p99 "
                           f"{fmt(min(per_proc_p99))}-{fmt(max(per_proc_p99))} ms; max "
                           f"{fmt(max(latencies))} ms")),
        Measurement(f"{procs} concurrent appenders x {count:,}: throughput", SPEC_CONCURRENT,
                    "≥ 1,000 events/s", "events/s", value=rate, passed=rate >= 1_000,
                    notes=(f"{total:,} events in {wall:.2f} s wall (go signal to last append); "
                           f"the appenders used {cpu:.1f} CPU-s, {cpu / (wall * cores):.0%} "
                           f"of {cores} cores")),
        Measurement(f"{procs} concurrent appenders x {count:,}: lost + duplicated",
                    SPEC_CONCURRENT, "0 lost, 0 duplicated", "events", value=bad,
                    passed=bad == 0 and check["gapless"],
                    notes=(f"{check['lines']:,} lines, {check['unique_ids']:,} unique ids, "
                           f"lost {check['lost']}, duplicated {check['duplicated']}, "
                           f"{check['segments']} segment(s), n gapless per writer: "
                           f"{check['gapless']}")),
    ]


def _check_log(events_dir: Path, procs: int, count: int) -> dict[str, int | bool]:
    """Count what the appenders left in the segments: every marker exactly once."""
    expected = {f"w{w}-{i}" for w in range(procs) for i in range(count)}
    seen: dict[str, int] = {}
    ids: set[str] = set()
    ns: dict[str, list[int]] = {}
    lines = 0
    segments = sorted(events_dir.glob("*/*.jsonl"))
    for raw in iter_segment_lines(segments):
        lines += 1
        ev = orjson.loads(raw)
        ids.add(ev["id"])
        ns.setdefault(ev["writer"], []).append(ev["n"])
        text = ev["data"].get("text", "")
        if text in expected:  # not the progress reports of a run with reporters
            seen[text] = seen.get(text, 0) + 1
    lost = len(expected - seen.keys())
    duplicated = sum(c - 1 for c in seen.values() if c > 1) + (lines - len(ids))
    gapless = all(sorted(v) == list(range(1, len(v) + 1)) for v in ns.values())
    return {"lines": lines, "unique_ids": len(ids), "lost": lost, "duplicated": duplicated,
            "gapless": gapless, "segments": len(segments)}


# -- index catch-up ------------------------------------------------------------------------
def catch_up(sizes: Sizes, workdir: Path, template: Template) -> list[Measurement]:
    n = sizes.catchup_index
    progress(f"index catch-up: {sizes.catchup_reps} x one new event on a {label(n)} index")
    hive = new_repo(workdir / "catchup")
    log = write_log(hive.layout.events, n, template)
    indexed = hive.index.rebuild()
    if indexed != n:
        raise RuntimeError(f"rebuild indexed {indexed} events, expected {n}")
    # A mission and a sortie of the generated log: the projections fold both.
    short, long = log.sample_streams[0], log.sample_streams[-1]

    def append(type_: str, *, stream: str, data: dict[str, Any]) -> None:
        # straight into the log, as another process appends (``hive.events.append`` on a
        # mission's stream catches up itself, to keep the snapshot right): the catch-up
        # that follows is what is measured
        hive.events.append_pending([hive.events.prepare(type_, stream=stream, data=data)])

    append("note_added", stream=short, data={"text": "warm-up"})
    hive.index.catch_up()
    after_one: list[float] = []
    for i in range(sizes.catchup_reps):
        append("note_added", stream=short, data={"text": f"catch-up note {i}"})
        t = time.perf_counter_ns()
        added = hive.index.catch_up()
        after_one.append((time.perf_counter_ns() - t) / 1e6)
        if added != 1:
            raise RuntimeError(f"catch-up added {added} events, expected 1")
    idle = timed(hive.index.catch_up, sizes.catchup_reps)

    # The same, when the new event lands in a stream that already holds many events.
    for b in range(0, sizes.long_stream, 1_000):
        hive.events.append_pending([
            hive.events.prepare("note_added", stream=long,
                                data={"text": f"long stream note {b + i}"})
            for i in range(min(1_000, sizes.long_stream - b))])
    hive.index.catch_up()
    in_long: list[float] = []
    for i in range(sizes.catchup_reps):
        append("note_added", stream=long, data={"text": f"one more note {i}"})
        t = time.perf_counter_ns()
        hive.index.catch_up()
        in_long.append((time.perf_counter_ns() - t) / 1e6)
    segments = len(hive.layout.segments())
    short_len = len(hive.events.by_stream(short))
    long_len = len(hive.events.by_stream(long))
    hive.close()
    p95 = percentile(after_one, 95)
    long_p95 = percentile(in_long, 95)
    return [
        Measurement(f"index catch-up after 1 new event ({label(n)} index)", "—",
                    "≤ 10 ms (p50 and p95)", "", samples=after_one, passed=p95 <= 10,
                    notes=(f"a note on a {short.split(':')[0]} stream of {short_len:,} events; "
                           f"{segments} segments; in-process, index connection already open; "
                           f"log: {template.description}")),
        Measurement(f"index catch-up after 1 new event in a {label(sizes.long_stream)}-event "
                    "stream", "—", "≤ 10 ms (p50 and p95)", "", samples=in_long,
                    passed=long_p95 <= 10,
                    notes=(f"same index; notes on a {long.split(':')[0]} stream of {long_len:,} "
                           "events; the missions projection folds on from the stored state "
                           "(linear history) instead of re-folding the stream: p50 "
                           f"{_ratio(percentile(in_long, 50), percentile(after_one, 50))} "
                           "the short-stream case")),
        Measurement(f"index catch-up with nothing new ({label(n)} index)", "—", "—", "",
                    samples=idle, notes="the price every read pays before it queries"),
    ]


# -- full rebuild --------------------------------------------------------------------------
def rebuild(sizes: Sizes, workdir: Path, template: Template) -> list[Measurement]:
    out: list[Measurement] = []
    for n in sizes.rebuild:
        out += _rebuild_one(n, workdir / f"rebuild-{label(n)}", template)
    # The same size with notes only: what the log and the index cost without any
    # projection folding the streams (the mission log above is ~93% mission and sortie
    # events, every one of which the missions projection re-folds).
    n = max(sizes.rebuild)
    out += _rebuild_one(n, workdir / f"rebuild-notes-{label(n)}", notes_template(),
                        variant="notes only, no projection", compare=False)
    return out


def _rebuild_one(n: int, base: Path, template: Template, *, variant: str = "",
                 compare: bool = True) -> list[Measurement]:
    name = label(n) + (f" ({variant})" if variant else "")
    progress(f"rebuild {name}: generating {n:,} events")
    hive = new_repo(base)
    log = write_log(hive.layout.events, n, template)
    hive.close()
    cache = hive.layout.cache

    progress(f"rebuild {name}: json.loads and orjson.loads of the same lines")
    loads_s = {}
    for fn_name, loads in (("orjson.loads", orjson.loads), ("json.loads", json.loads)):
        if not compare:
            break
        gc.collect()
        t = time.perf_counter()
        count = sum(1 for raw in iter_segment_lines(log.segments) if loads(raw))
        loads_s[fn_name] = time.perf_counter() - t
        if count != n:
            raise RuntimeError(f"{fn_name} read {count} lines, expected {n}")

    runs = 3 if n <= 100_000 else 2
    seconds: list[float] = []
    peaks: list[float] = []
    baseline = 0.0
    for r in range(runs):
        progress(f"rebuild {name}: child process {r + 1}/{runs}")
        _drop_cache(cache)
        res = run_process(python_module("benchmarks.workers", "index", "--repo", base,
                                        "--mode", "rebuild"), timeout=900).check()
        report = json.loads(res.stdout)
        if report["events"] != n:
            raise RuntimeError(f"rebuild indexed {report['events']} events, expected {n}")
        seconds.append(report["seconds"])
        peaks.append(max(report["rss_peak_mb"], res.max_rss_mb))
        baseline = report["rss_before_mb"]
    floors: list[float] = []
    for r in range(runs if compare else 0):
        progress(f"rebuild {name}: floor (orjson + SQLite insert + the same indexes) "
                 f"{r + 1}/{runs}")
        floor_db = base / "floor.sqlite"
        for f in base.glob("floor.sqlite*"):
            f.unlink()
        res = run_process(python_module("benchmarks.workers", "floor", "--repo", base,
                                        "--out", floor_db), timeout=900).check()
        report = json.loads(res.stdout)
        if report["events"] != n:
            raise RuntimeError(f"the floor stored {report['events']} events, expected {n}")
        floors.append(report["seconds"])
    first_read = None
    if n <= 100_000:  # a fresh clone's first read: catch-up into an empty index
        progress(f"rebuild {name}: first catch-up into an empty index")
        _drop_cache(cache)
        res = run_process(python_module("benchmarks.workers", "index", "--repo", base,
                                        "--mode", "catch_up"), timeout=900).check()
        first_read = json.loads(res.stdout)["seconds"]
    shutil.rmtree(base)

    med = percentile(seconds, 50)
    peak = max(peaks)
    is_1m = n >= 1_000_000
    runs_txt = ", ".join(f"{s:.2f}" for s in seconds)
    notes = (f"child process, fresh cache; runs {runs_txt} s; {n / med:,.0f} events/s; "
             f"{log.bytes / 2**20:,.0f} MiB in {len(log.segments)} segments; "
             f"{log.copies:,} replays of the {template.description}")
    if not compare:
        return [
            Measurement(f"full index rebuild, {label(n)} events ({variant})", "—",
                        "≤ 15 s" if is_1m else "—", "s",
                        value=med, passed=(med <= 15) if is_1m else None, notes=notes),
            Measurement(f"full index rebuild, {label(n)} events ({variant}): peak memory",
                        "linear in load",
                        "≤ 300 MB", "MB", value=peak, passed=peak <= 300,
                        notes=f"peak RSS (VmHWM) of the child, max of {runs} runs"),
        ]
    notes += (f"; x{med / loads_s['orjson.loads']:.1f} orjson.loads, "
              f"x{med / loads_s['json.loads']:.1f} json.loads of the same lines")
    if first_read is not None:
        notes += f"; first catch-up into an empty index (non-bulk path) {first_read:.2f} s"
    floor = percentile(floors, 50)
    return [
        Measurement(f"full index rebuild, {name} events, over its floor", "—", "≤ 1.5x", "x",
                    value=med / floor, passed=med / floor <= 1.5,
                    notes=(f"rebuild {med:.2f} s / floor {floor:.2f} s (runs "
                           + ", ".join(f"{s:.2f}" for s in floors) + " s): the same lines "
                           "parsed by orjson into the same events rows and indexes, one "
                           "transaction, nothing else (benchmarks/workers.py floor)")),
        Measurement(f"full index rebuild, {name} events", "—",
                    "≤ 15 s" if is_1m else "— (1M: ≤ 15 s)", "s", value=med,
                    passed=(med <= 15) if is_1m else None, notes=notes),
        Measurement(f"full index rebuild, {name} events: peak memory", "linear in load",
                    "≤ 300 MB", "MB", value=peak, passed=peak <= 300,
                    notes=(f"peak RSS (VmHWM) of the whole child process, max of {runs} runs; "
                           f"{baseline:.0f} MB of it before the rebuild started")),
        Measurement(f"orjson.loads of the same {name} lines", "—", "—", "s",
                    value=loads_s["orjson.loads"],
                    notes=f"read + split + parse; rebuild is {med / loads_s['orjson.loads']:.1f}x"),
        Measurement(f"json.loads of the same {name} lines", "—", "—", "s",
                    value=loads_s["json.loads"],
                    notes=f"read + split + parse; rebuild is {med / loads_s['json.loads']:.1f}x"),
    ]


def _drop_cache(cache: Path) -> None:
    for f in cache.glob("index.sqlite*"):
        f.unlink()
