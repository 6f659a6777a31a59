"""``python -m benchmarks [--smoke] [--only NAME] [--json PATH]``: run the suite, print one table.

Every ``benchmarks/bench_<name>.py`` runs in a temporary directory of its own (removed
afterwards unless ``--keep``). The table (metric, spec target, our target, measured,
pass/fail) goes to stdout, progress to stderr, and the same results as JSON to ``--json``.
The exit code is 0 even when a target is missed (benchmarks are not tests), 1 when a
benchmark crashed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from .harness import Measurement, progress

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "out" / "results.json"


def discover() -> list[str]:
    """Names of the benchmark modules (``bench_log.py`` -> ``log``), sorted."""
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def machine_info(workdir: Path) -> dict[str, Any]:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "nproc": affinity,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "filesystem": _filesystem(workdir),
    }


def _filesystem(path: Path) -> str:
    """The mount holding ``path`` (device, mount point, type) from /proc/mounts."""
    try:
        mounts = [line.split()[:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    best = max((m for m in mounts if str(path.resolve()).startswith(m[1].rstrip("/") + "/")
                or str(path.resolve()) == m[1]), key=lambda m: len(m[1]), default=None)
    return f"{best[2]} on {best[1]} ({best[0]})" if best else "unknown"


def table(rows: list[tuple[str, Measurement]]) -> str:
    """One Markdown table of every measurement."""
    head = ("benchmark", "metric", "spec target", "our target", "measured", "pass")
    body = [(name, m.metric, m.spec_target, m.our_target, m.measured(), m.verdict())
            for name, m in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(head), line(tuple("-" * w for w in widths)), *map(line, body)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="small sizes: proves it runs")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this benchmark (e.g. log); repeatable")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help=f"where to write the results (default {DEFAULT_JSON})")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="parent of the temporary directories (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        wanted = [n.removeprefix("bench_") for n in args.only]
        unknown = [n for n in wanted if n not in names]
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; have {', '.join(names)}")
        names = [n for n in names if n in wanted]

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="fleet-hive-bench-", dir=args.workdir))
    machine = machine_info(root)
    progress(f"{len(names)} benchmark(s) in {root} ({'smoke' if args.smoke else 'full'} size)")
    results: list[dict[str, Any]] = []
    rows: list[tuple[str, Measurement]] = []
    crashed = []
    try:
        for name in names:
            workdir = root / name
            workdir.mkdir()
            progress(f"== {name}")
            started = time.perf_counter()
            entry: dict[str, Any] = {"name": name, "module": f"benchmarks.bench_{name}"}
            try:
                module = importlib.import_module(f"benchmarks.bench_{name}")
                measurements = module.run(smoke=args.smoke, workdir=workdir)
                entry.update(status="ok", error=None,
                             measurements=[m.to_json() for m in measurements])
                rows += [(name, m) for m in measurements]
            except Exception:
                error = traceback.format_exc()
                print(error, file=sys.stderr)
                crashed.append(name)
                entry.update(status="crashed", error=error, measurements=[])
            finally:
                entry["seconds"] = round(time.perf_counter() - started, 3)
                if not args.keep:
                    shutil.rmtree(workdir, ignore_errors=True)
            progress(f"== {name}: {entry['status']} in {entry['seconds']:.1f} s")
            results.append(entry)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    missed = [m.metric for _, m in rows if m.passed is False]
    print(f"fleet-hive benchmarks ({'smoke' if args.smoke else 'full'} size): "
          f"nproc {machine['nproc']}, Python {machine['python']}, {machine['date']}, "
          f"load {machine['loadavg_at_start']}, {machine['filesystem']}")
    print(table(rows))
    print(f"{sum(m.passed is True for _, m in rows)} passed, {len(missed)} missed, "
          f"{sum(m.passed is None for _, m in rows)} for comparison"
          + (f"; CRASHED: {', '.join(crashed)}" if crashed else ""))
    for _, m in rows:
        if m.notes:
            print(f"- {m.metric}: {m.notes}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "machine": machine,
        "smoke": args.smoke,
        "benchmarks": results,
        "summary": {"passed": sum(m.passed is True for _, m in rows), "missed": missed,
                    "crashed": crashed},
    }, indent=2) + "\n", encoding="utf-8")
    progress(f"results written to {args.json}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
