"""Synthetic event logs written straight to segment files, fast.

Appending a million events through the log would take minutes; the benchmarks only need
segments that look exactly like the ones the log writes. :func:`write_log` writes them in
the same envelope (same keys, same order, orjson's compact form, one event per line) with
what readers rely on: one ``writer``, a gapless ``n``, an increasing Lamport ``clock``,
ULIDs from :func:`fleet_hive.kernel.ids.new_ulid`, increasing UTC times, and multi-event batches
marked ``batch: [i, k]`` that never straddle two segments. Segments rotate at
``segment_bytes`` like the log's ``segment_max_bytes``.

What the events *are* matters as much: the index re-folds mission and sortie streams into
its projection tables, so a log of notes would not measure a real rebuild. So the content
comes from a :class:`Template`: :func:`record_mission` drives one mission and its sorties
through their whole life with the public API (create, add sorties with dependencies,
start, claim, progress, notes, complete) and keeps the events the library wrote; the
generator replays that recording over and over with fresh mission, sortie and event ids,
several missions interleaved. :func:`notes_template` is the fallback when the missions API
is unavailable (plain notes, which no projection folds).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from fleet_hive.kernel.ids import new_segment_name, new_ulid, new_writer_id

SEGMENT_BYTES = 8 * 1024 * 1024


@dataclass
class Template:
    """The recorded events of one unit of work (a mission's life), replayed per copy."""

    events: list[dict[str, Any]]  # envelopes in the order written (n order)
    ids: dict[str, str]  # entity ids appearing in streams and data -> id prefix ("m-", "s-")
    description: str
    folded: bool  # whether the index's projections fold these streams

    @property
    def streams(self) -> list[str]:
        return list(dict.fromkeys(e["stream"] for e in self.events))


@dataclass
class GeneratedLog:
    writer: str
    template: str
    segments: list[Path] = field(default_factory=list)
    events: int = 0
    bytes: int = 0
    copies: int = 0  # replays of the template started
    last_clock: int = 0
    sample_streams: list[str] = field(default_factory=list)  # the streams of the first copy


def record_mission(workdir: Path, *, sorties: int = 5, progress: int = 3) -> Template:
    """Drive one mission through its life with the public API; return what was written.

    The mission gets ``sorties`` sorties in a dependency chain, each claimed, started,
    progressed ``progress`` times, annotated and completed; then the mission completes.
    """
    from .harness import new_repo

    hive = new_repo(workdir)
    try:
        mission = hive.missions.create("Benchmark mission: refactor the storage layer",
                                       description="Recorded once, replayed by datagen.")
        added = hive.sorties.add_many(mission.id, [
            {"title": f"Step {i}: rework module {i}", "description": f"Sortie number {i}.",
             "files": [f"src/pkg/module_{i}.py", f"tests/test_module_{i}.py"],
             "after": [i - 1] if i else []}
            for i in range(sorties)])
        hive.missions.start(mission.id)
        for s in added:
            hive.sorties.claim(s.id, specialist="coder")
            hive.sorties.start(s.id)
            for p in range(progress):
                hive.sorties.progress(s.id, 25 * (p + 1), note=f"step {p + 1} of {progress} done")
            hive.events.append("note_added", stream=f"sortie:{s.id}",
                               data={"text": "tests pass locally; ready for review"})
            hive.sorties.complete(s.id)
        hive.missions.complete(mission.id)
        events = [orjson.loads(raw) for raw in iter_segment_lines(
            [p for _, _, p in hive.layout.segments()])]
    finally:
        hive.close()
    events.sort(key=lambda e: (e["writer"], e["n"]))
    ids = {mission.id: mission.id[:2], **{s.id: s.id[:2] for s in added}}
    return Template(events, ids, f"recorded mission life ({len(events)} events: 1 mission, "
                                 f"{sorties} sorties, {len({e['type'] for e in events})} types)",
                    folded=True)


def notes_template(streams: int = 5_000, per_copy: int = 50, seed: int = 1) -> Template:
    """Plain notes on ``sortie:s<k>`` streams (no projection folds them): the fallback."""
    rng = random.Random(seed)
    words = ("agent", "sortie", "mission", "review", "patch", "test", "lint", "merge", "file")
    events = [{"type": "note_added", "stream": f"sortie:s{rng.randrange(streams)}",
               "causation_id": None, "correlation_id": None, "schema_version": 1,
               "actor": "bench",
               "data": {"text": " ".join(rng.choice(words) for _ in range(rng.randrange(1, 12)))}}
              for _ in range(per_copy)]
    return Template(events, {}, "notes only (no projection folds them)", folded=False)


def write_log(events_dir: Path, count: int, template: Template, *, writer: str | None = None,
              segment_bytes: int = SEGMENT_BYTES, active: int = 16) -> GeneratedLog:
    """Write ``count`` events replaying ``template`` as ``events_dir/<writer>/*.jsonl``.

    ``active`` copies are interleaved (a batch stays whole), each with fresh entity ids
    and event ids; ``causation_id`` / ``correlation_id`` point within their copy. Where a
    whole unit no longer fits, the rest up to ``count`` is single notes.
    """
    writer = writer or new_writer_id()
    wdir = events_dir / writer
    wdir.mkdir(parents=True, exist_ok=True)
    out = GeneratedLog(writer, template.description)
    clock = n = 0
    now_ms = time.time_ns() // 1_000_000
    ms = now_ms - (count + 1000)  # events predate anything appended during the benchmark
    seg_ms = now_ms - 10_000_000
    f = None
    size = 0
    chunks: list[bytes] = []
    dumps = orjson.dumps
    units = _interleave(_units(template.events), template, active, out)
    filler = _units(notes_template(per_copy=1).events)[0]
    while n < count:
        unit, copy = next(units)
        if n + len(unit) > count:
            unit, copy = filler, _Copy({})
        if f is None or size >= segment_bytes:
            if f is not None:
                f.write(b"".join(chunks))
                f.close()
                chunks = []
            seg_ms += 1
            path = wdir / f"{new_segment_name(seg_ms)}.jsonl"
            f = open(path, "wb")  # noqa: SIM115 - closed at rotation and at the end
            out.segments.append(path)
            size = 0
        ms += 1
        stamp = _stamp(ms)
        for event in unit:
            n += 1
            clock += 1
            eid = copy.event_ids[event["id"]] = new_ulid(ms)
            data = event["_data"]
            for old, new in copy.entity_bytes:
                data = data.replace(old, new)
            for ref in event["_refs"]:  # prev / merged links name events of this copy
                data = data.replace(ref.encode(), copy.event_ids[ref].encode())
            record = {
                "id": eid,
                "type": event["type"],
                "stream": copy.stream(event["stream"]),
                "clock": clock,
                "writer": writer,
                "n": n,
                "time": stamp,
                "actor": event.get("actor", "bench"),
                "causation_id": copy.event_ids.get(event.get("causation_id") or ""),
                "correlation_id": copy.event_ids.get(event.get("correlation_id") or ""),
                "schema_version": event.get("schema_version", 1),
                "data": orjson.Fragment(data),
            }
            if "batch" in event:
                record["batch"] = event["batch"]
            line = dumps(record) + b"\n"
            chunks.append(line)
            size += len(line)
            out.bytes += len(line)
        if len(chunks) >= 4096:
            f.write(b"".join(chunks))
            chunks = []
    if f is not None:
        f.write(b"".join(chunks))
        f.close()
    out.events = n
    out.last_clock = clock
    return out


def _stamp(ms: int) -> str:
    secs, rem = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem * 1000:06d}Z"


class _Copy:
    """One replay of the template: its fresh entity ids, and event ids as they are minted."""

    def __init__(self, entities: dict[str, str]) -> None:
        self.entities = entities
        self.entity_bytes = [(old.encode(), new.encode()) for old, new in entities.items()]
        self.event_ids: dict[str, str] = {}

    def stream(self, stream: str) -> str:
        kind, _, key = stream.partition(":")
        new = self.entities.get(key)
        return f"{kind}:{new}" if new else stream


def _units(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The template's events grouped into append units: a whole batch, or one event."""
    units: list[list[dict[str, Any]]] = []
    for i, event in enumerate(events):
        data = event.get("data") or {}
        refs = [data["prev"]] if isinstance(data.get("prev"), str) else []
        refs += [m for m in data.get("merged") or () if isinstance(m, str)]
        e = dict(event, _data=orjson.dumps(data), _refs=refs)
        e.setdefault("id", f"template-event-{i}")
        if "batch" in e and e["batch"][0] > 0 and units:
            units[-1].append(e)
        else:
            units.append([e])
    return units


def _interleave(units: list[list[dict[str, Any]]], template: Template, active: int,
                out: GeneratedLog) -> Iterator[tuple[list[dict[str, Any]], _Copy]]:
    """(unit, its copy) from ``active`` copies at a time, round robin, forever."""

    def new_copy() -> tuple[Iterator[list[dict[str, Any]]], _Copy]:
        copy = _Copy({old: prefix + new_writer_id() for old, prefix in template.ids.items()})
        if not out.sample_streams:
            out.sample_streams = [copy.stream(s) for s in template.streams]
        out.copies += 1
        return iter(units), copy

    copies = [new_copy() for _ in range(active)]
    while True:
        for i, (it, copy) in enumerate(copies):
            unit = next(it, None)
            if unit is None:
                copies[i] = (it, copy) = new_copy()
                unit = next(it)
            yield unit, copy


def iter_segment_lines(paths: list[Path]) -> Iterator[bytes]:
    """Every line (without its newline) of ``paths``, one file in memory at a time."""
    for path in paths:
        data = path.read_bytes()
        yield from data.splitlines()
