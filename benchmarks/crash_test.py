"""``python -m benchmarks.crash_test [--duration S] [--seed N] [--json [PATH]]``: random SIGKILLs.

For ``--duration`` seconds, in one temporary git repository with small segments
(``--segment-max-bytes``, default 4096, so segments rotate every dozen appends), keep
running at once:

- library writers (``benchmarks.workers acked``): append single events and batches in a
  loop, writing each event's id to a side file only after its append returned; every one
  is SIGKILLed at a random moment once it is warmed up;
- a CLI writer: ``fleet-hive events append ... --json`` one process after another, an id
  acknowledged only when its process exited 0 with the event printed;
- one other command at a time: ``events list``, ``status``, ``index rebuild`` or
  ``fleet-hive commit``.

Each CLI process is SIGKILLed at a random moment with probability ``--kill-rate``. All
choices come from one ``random.Random(--seed)`` (the moments they land on still depend on
the machine). At the end every segment is read back and the run reports: events
acknowledged, found (acknowledged and in the log), lost (acknowledged, not in the log),
duplicated (an id twice, or a ``(writer, n)`` twice), gaps in a writer's ``n``, kills, and
what ``fleet-hive verify --json`` says. Exit 1 if anything was lost or duplicated, ``n`` has
a gap or verify failed (a torn tail, a warning, is fine); 2 on bad arguments. The
repository is removed afterwards unless ``--keep`` or the run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .harness import child_env, new_repo, progress, python_module

#: The other commands, with their weights; each runs as ``python -m fleet_hive ...``.
OTHERS: tuple[tuple[str, int], ...] = (
    ("events list", 3),
    ("status", 3),
    ("index rebuild", 2),
    ("commit", 2),
)
#: An unkilled process running longer than this is stuck: killed and reported.
STUCK_SECONDS = 120.0


@dataclass
class Child:
    kind: str
    proc: subprocess.Popen[bytes]
    started: float
    kill_at: float | None  # None: let it finish (a writer gets its moment once it is ready)
    out: Path
    err: Path
    acks: Path | None = None  # library writers: exists once the writer is warmed up


@dataclass
class Tally:
    kills: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    stuck: Counter[str] = field(default_factory=Counter)
    failures: Counter[tuple[str, int, str]] = field(default_factory=Counter)  # kind, exit, why
    cli_acks: list[str] = field(default_factory=list)


class CrashTest:
    def __init__(self, repo: Path, scratch: Path, rng: random.Random, *, writers: int,
                 kill_rate: float, max_writer_life: float) -> None:
        self.repo = repo
        self.scratch = scratch
        self.rng = rng
        self.writers = writers
        self.kill_rate = kill_rate
        self.max_writer_life = max_writer_life
        self.env = child_env()
        self.tally = Tally()
        self.children: list[Child] = []
        self.spawned = 0
        (scratch / "acks").mkdir()
        (scratch / "out").mkdir()

    # -- processes -----------------------------------------------------------------------
    def _spawn(self, kind: str, argv: list[str], *, kill_at: float | None,
               acks: Path | None = None) -> None:
        self.spawned += 1
        out = self.scratch / "out" / f"{self.spawned}.out"
        err = self.scratch / "out" / f"{self.spawned}.err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            proc = subprocess.Popen(argv, cwd=self.repo, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=fo, stderr=fe)
        self.children.append(Child(kind, proc, time.monotonic(), kill_at, out, err, acks))

    def _cli(self, kind: str, *args: str) -> None:
        now = time.monotonic()
        kill_at = now + self.rng.uniform(0.05, 1.0) if self.rng.random() < self.kill_rate \
            else None
        self._spawn(kind, python_module("fleet_hive", *args), kill_at=kill_at)

    def spawn_writer(self) -> None:
        acks = self.scratch / "acks" / f"w{self.spawned}"
        self._spawn("library writer", python_module(
            "benchmarks.workers", "acked", "--repo", self.repo, "--acks", acks,
            "--name", f"w{self.spawned}", "--seed", self.rng.randrange(1 << 30)),
            kill_at=None, acks=acks)

    def spawn_cli_writer(self) -> None:
        text = f"cli-{self.spawned}"
        self._cli("cli append", "events", "append", "note_added", "--stream", "crash:cli",
                  "--data", json.dumps({"text": text}), "--json")

    def spawn_other(self) -> None:
        names, weights = zip(*OTHERS, strict=True)
        kind = self.rng.choices(names, weights)[0]
        if kind == "events list":
            after = self.rng.randrange(0, 1 + self.acknowledged_so_far())
            self._cli(kind, "events", "list", "--after", str(after), "--limit", "50", "--json")
        elif kind == "status":
            self._cli(kind, "status", "--json")
        elif kind == "index rebuild":
            self._cli(kind, "index", "rebuild", "--json")
        else:
            self._cli(kind, "commit", "-m", "crash test", "--json")

    def acknowledged_so_far(self) -> int:
        return len(self.tally.cli_acks) + sum(
            c.acks.stat().st_size // 27 for c in self.children if c.acks and c.acks.exists())

    def _kill(self, child: Child) -> None:
        try:
            os.kill(child.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        child.proc.wait()

    def _reap(self, child: Child, code: int, killed: bool) -> None:
        if killed:
            self.tally.kills[child.kind] += 1
        elif code == 0:
            self.tally.ok[child.kind] += 1
            if child.kind == "cli append":
                self.tally.cli_acks.append(json.loads(child.out.read_bytes())["id"])
        else:
            self.tally.failed[child.kind] += 1
            err = child.err.read_text(errors="replace").strip().splitlines()
            self.tally.failures[child.kind, code, err[-1][:300] if err else ""] += 1
        child.out.unlink(missing_ok=True)
        child.err.unlink(missing_ok=True)

    def step(self, now: float) -> None:
        """Kill what is due, reap what ended."""
        for child in list(self.children):
            if child.acks is not None and child.kill_at is None and child.acks.exists():
                child.kill_at = now + self.rng.uniform(0, self.max_writer_life)
            code = child.proc.poll()
            killed = False
            if code is None:
                if child.kill_at is not None and now >= child.kill_at:
                    self._kill(child)
                    killed = True
                elif now - child.started > STUCK_SECONDS:
                    self._kill(child)
                    self.tally.stuck[child.kind] += 1
                    killed = True
                else:
                    continue
            self.children.remove(child)
            self._reap(child, child.proc.returncode, killed)

    def fill(self) -> None:
        kinds = Counter(c.kind for c in self.children)
        for _ in range(self.writers - kinds["library writer"]):
            self.spawn_writer()
        if not kinds["cli append"]:
            self.spawn_cli_writer()
        if not sum(kinds[name] for name, _ in OTHERS):
            self.spawn_other()

    def run(self, duration: float, at_least: int = 0) -> None:
        """Run for ``duration`` seconds, and on (up to ten times as long) until at least
        ``at_least`` events were acknowledged and one process was killed: on a loaded
        machine a short run may otherwise end before anything started."""
        start = time.monotonic()
        deadline, limit = start + duration, start + 10 * duration + 60

        def going(now: float) -> bool:
            if now < deadline:
                return True
            short = at_least and (self.acknowledged_so_far() < at_least
                                  or not sum(self.tally.kills.values()))
            return bool(short) and now < limit

        # Stopped early (SIGTERM, Ctrl-C), it still kills every child it started.
        signal.signal(signal.SIGTERM, _stop)
        try:
            while going(time.monotonic()):
                self.fill()
                self.step(time.monotonic())
                time.sleep(0.005)
        finally:
            # The end of the run is one more random moment for whatever still runs.
            for child in list(self.children):
                killed = child.proc.poll() is None
                if killed:
                    self._kill(child)
                self.children.remove(child)
                self._reap(child, child.proc.returncode, killed)

    def acknowledged(self) -> list[str]:
        out = list(self.tally.cli_acks)
        for path in sorted((self.scratch / "acks").iterdir()):
            out.extend(path.read_text(encoding="ascii").split())
        return out


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


# -- checking ----------------------------------------------------------------------------
def read_log(events_dir: Path) -> dict[str, Any]:
    """Every event of every segment (complete lines only), and what does not parse."""
    from fleet_hive.events.segments import ReadResult, iter_lines

    events: list[dict[str, Any]] = []
    bad_lines: list[str] = []
    torn = segments = 0
    for path in sorted(events_dir.glob("*/*.jsonl")):
        segments += 1
        result = ReadResult()
        for line in iter_lines(path, result=result):
            if line.event is None:
                bad_lines.append(f"{path.parent.name}/{path.name}@{line.offset}: {line.problem}")
            else:
                events.append(line.event)
        torn += bool(result.torn)
    return {"events": events, "bad_lines": bad_lines, "torn_tails": torn, "segments": segments}


def check(acknowledged: list[str], log: dict[str, Any]) -> dict[str, Any]:
    events = log["events"]
    ids = Counter(e["id"] for e in events)
    positions = Counter((e["writer"], e["n"]) for e in events)
    by_writer: dict[str, set[int]] = defaultdict(set)
    for writer, n in positions:
        by_writer[writer].add(n)
    gaps = sum(max(ns) - len(ns) for ns in by_writer.values())
    acked = set(acknowledged)
    lost = sorted(acked - set(ids))
    dup_ids = sum(c - 1 for c in ids.values() if c > 1)
    dup_positions = sum(c - 1 for c in positions.values() if c > 1)
    return {
        "acknowledged": len(acknowledged),
        "acknowledged_twice": len(acknowledged) - len(acked),
        "found": len(acked) - len(lost),
        "in_log": len(events),
        "lost": len(lost),
        "lost_ids": lost[:20],
        "duplicated": dup_ids + dup_positions,
        "duplicated_ids": dup_ids,
        "duplicated_writer_n": dup_positions,
        "gaps_in_n": gaps,
        "writers": len(by_writer),
        "segments": log["segments"],
        "torn_tails": log["torn_tails"],
        "bad_lines": len(log["bad_lines"]),
        "bad_line_samples": log["bad_lines"][:10],
    }


def run_verify(repo: Path) -> dict[str, Any]:
    """``fleet-hive verify --json`` as it is: its exit code and whatever it printed."""
    proc = subprocess.run(python_module("fleet_hive", "verify", "--json"), cwd=repo,
                          env=child_env(), capture_output=True, text=True, timeout=1800)
    try:
        parsed: Any = json.loads(proc.stdout)
    except json.JSONDecodeError:
        parsed = None
    problems = _problems(parsed)
    # the whole object when it is small; a run gone wrong can report thousands of problems
    output = parsed if parsed is not None and len(proc.stdout) <= 20_000 else proc.stdout[:4000]
    kinds = Counter(f"{p.get('severity', '?')}: {p.get('kind', '?')}" for p in problems
                    if isinstance(p, dict))
    return {"exit_code": proc.returncode, "ok": proc.returncode == 0,
            "problems": dict(sorted(kinds.items())), "stderr": proc.stderr.strip()[-2000:],
            "output": output}


def _problems(obj: Any) -> list[Any]:
    """The ``problems`` list wherever verify's JSON keeps it."""
    if isinstance(obj, dict):
        if isinstance(obj.get("problems"), list):
            return list(obj["problems"])
        for value in obj.values():
            found = _problems(value)
            if found:
                return found
    return []


def report_text(result: dict[str, Any]) -> str:
    c, t, v = result["counts"], result["processes"], result["verify"]

    def by_kind(counter: dict[str, int]) -> str:
        inner = ", ".join(f"{k} {n}" for k, n in sorted(counter.items()))
        return f" ({inner})" if inner else ""

    lines = [
        f"crash test: {result['duration_s']} s, seed {result['seed']}, segments of "
        f"{result['segment_max_bytes']} bytes, {result['writers']} library writers",
        f"events acknowledged  {c['acknowledged']:,}",
        f"events found         {c['found']:,} ({c['in_log']:,} in the log, "
        f"{c['segments']:,} segments, {c['writers']} writer ids, {c['torn_tails']} torn tails)",
        f"lost                 {c['lost']}",
        f"duplicated           {c['duplicated']} (ids {c['duplicated_ids']}, "
        f"(writer, n) {c['duplicated_writer_n']})",
        f"gaps in n            {c['gaps_in_n']}",
        f"unparsable lines     {c['bad_lines']}",
        f"kills                {sum(t['killed'].values())}{by_kind(t['killed'])}",
        f"finished             {sum(t['ok'].values())}{by_kind(t['ok'])}",
        f"failed               {sum(t['failed'].values())}{by_kind(t['failed'])}",
    ]
    if t["stuck"]:
        lines.append(f"stuck (killed)       {sum(t['stuck'].values())}{by_kind(t['stuck'])}")
    lines.append(f"verify               {'ok' if v['ok'] else 'FAILED'} (exit {v['exit_code']})"
                 + by_kind(v["problems"]))
    for f in t["failures"]:
        lines.append(f"- {f['kind']} exited {f['exit_code']} ({f['count']}x): {f['stderr']}")
    for sample in c["bad_line_samples"]:
        lines.append(f"- unparsable: {sample}")
    if c["lost_ids"]:
        lines.append(f"- lost: {', '.join(c['lost_ids'])}")
    lines.append(f"result: {'PASS' if result['passed'] else 'FAIL'}"
                 + (f" (kept in {result['repo']})" if result.get("kept") else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.crash_test", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every choice (default 1)")
    parser.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                        help="print the result as JSON (to PATH if given, else to stdout)")
    parser.add_argument("--writers", type=int, default=2,
                        help="library writers running at once (default 2)")
    parser.add_argument("--segment-max-bytes", type=int, default=4096,
                        help="segment size bound (default 4096, the smallest allowed)")
    parser.add_argument("--kill-rate", type=float, default=0.5,
                        help="share of CLI processes killed at a random moment (default 0.5)")
    parser.add_argument("--max-writer-life", type=float, default=1.0,
                        help="a warmed-up library writer is killed within this many seconds")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="parent of the temporary repository (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="keep the repository")
    parser.add_argument("--at-least", type=int, default=0, metavar="N",
                        help="run on past --duration (up to 10x) until N events were "
                             "acknowledged and one process killed (for short runs)")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.writers < 0 or not 0 <= args.kill_rate <= 1 \
            or args.max_writer_life <= 0:
        parser.error("--duration and --max-writer-life must be positive, --writers not "
                     "negative, --kill-rate within 0..1")
    if args.segment_max_bytes < 4096:
        parser.error("--segment-max-bytes must be at least 4096 (the config's minimum)")

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="fleet-hive-crash-", dir=args.workdir))
    repo = scratch / "repo"
    new_repo(repo, segment_max_bytes=args.segment_max_bytes, actor="crash-test").close()
    progress(f"crash test for {args.duration:g} s (seed {args.seed}) in {repo}")
    test = CrashTest(repo, scratch, random.Random(args.seed), writers=args.writers,
                     kill_rate=args.kill_rate, max_writer_life=args.max_writer_life)
    started = time.monotonic()
    try:
        test.run(args.duration, args.at_least)
    except (KeyboardInterrupt, SystemExit):
        progress("stopped early: no result")
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    elapsed = time.monotonic() - started
    progress(f"{sum(test.tally.kills.values())} kills in {elapsed:.1f} s; checking the log")
    counts = check(test.acknowledged(), read_log(repo / ".fleet" / "events"))
    progress("fleet-hive verify --json")
    verified = run_verify(repo)
    passed = (counts["lost"] == 0 and counts["duplicated"] == 0 and counts["gaps_in_n"] == 0
              and counts["bad_lines"] == 0 and verified["ok"])
    result: dict[str, Any] = {
        "passed": passed,
        "duration_s": round(elapsed, 1),
        "seed": args.seed,
        "segment_max_bytes": args.segment_max_bytes,
        "writers": args.writers,
        "kills": sum(test.tally.kills.values()),
        "counts": counts,
        "processes": {"killed": dict(test.tally.kills), "ok": dict(test.tally.ok),
                      "failed": dict(test.tally.failed), "stuck": dict(test.tally.stuck),
                      "failures": [{"kind": kind, "exit_code": code, "stderr": why, "count": n}
                                   for (kind, code, why), n in test.tally.failures.most_common()]},
        "verify": verified,
        "repo": str(repo),
        "kept": args.keep or not passed,
    }
    if args.json == "-":
        print(json.dumps(result, indent=2))
    else:
        print(report_text(result))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if not result["kept"]:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
