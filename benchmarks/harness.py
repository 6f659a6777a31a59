"""What every benchmark module shares: measurements, percentiles, timing, child processes.

A benchmark module is ``benchmarks/bench_<name>.py`` exposing::

    def run(smoke: bool, workdir: pathlib.Path) -> list[Measurement]: ...

``workdir`` is an empty directory of its own (removed afterwards). ``smoke`` asks for a
small size that only proves the benchmark still works. A module never asserts on timings:
it reports a :class:`Measurement` per metric, with ``passed`` set against our target (or
``None`` for a metric that is only there for comparison), and the runner prints the table.

Samples are always in milliseconds; ``value`` is in ``unit``.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

#: The project checkout (holds ``fleet_hive/`` and ``benchmarks/``).
PROJECT = Path(__file__).resolve().parent.parent

_T0 = time.perf_counter()


@dataclass
class Measurement:
    """One row of the results table."""

    metric: str
    spec_target: str
    our_target: str
    unit: str
    samples: list[float] | None = None  # milliseconds, one per repetition
    value: float | None = None  # a single number in ``unit`` (throughput, seconds, MB, count)
    passed: bool | None = None  # None: no target, shown for comparison only
    notes: str = ""

    @property
    def median(self) -> float | None:
        return percentile(self.samples, 50) if self.samples else None

    @property
    def p95(self) -> float | None:
        return percentile(self.samples, 95) if self.samples else None

    @property
    def p99(self) -> float | None:
        return percentile(self.samples, 99) if self.samples else None

    def measured(self) -> str:
        """The "measured" cell: percentiles of the samples, else the value."""
        parts = []
        if self.samples:
            parts.append(
                f"p50 {fmt(self.median)} / p95 {fmt(self.p95)} / p99 {fmt(self.p99)} ms "
                f"(n={len(self.samples):,})"
            )
        if self.value is not None:
            parts.append(f"{fmt(self.value)} {self.unit}".rstrip())
        return "; ".join(parts) or "—"

    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: "info"}[self.passed]

    def to_json(self) -> dict[str, Any]:
        s = self.samples or []
        return {
            "metric": self.metric,
            "spec_target": self.spec_target,
            "our_target": self.our_target,
            "unit": self.unit,
            "value": self.value,
            "n": len(s),
            "median_ms": self.median,
            "p95_ms": self.p95,
            "p99_ms": self.p99,
            "min_ms": min(s) if s else None,
            "max_ms": max(s) if s else None,
            "mean_ms": sum(s) / len(s) if s else None,
            "passed": self.passed,
            "measured": self.measured(),
            "notes": self.notes,
        }


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linearly interpolated (numpy's default method)."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def fmt(x: float | None) -> str:
    """A number with about three significant digits, thousands separated."""
    if x is None:
        return "—"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def timed(fn: Callable[[], object], repeat: int, *, warmup: int = 0) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times; each call's time in ms."""
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    out = []
    for _ in range(repeat):
        t = clock()
        fn()
        out.append((clock() - t) / 1e6)
    return out


def peak_rss_mb(who: str = "self") -> float:
    """Peak resident memory in MB of this process (``self``) or of its reaped children.

    ``self`` reads ``VmHWM`` from /proc/self/status where it exists: ``ru_maxrss`` is
    wrong for a spawned process on Linux, because it survives ``exec`` and so starts at
    the size of the *parent* at spawn time. ``children`` is ``RUSAGE_CHILDREN`` (the
    largest of all children reaped so far, with that same flaw); for one child's own
    peak use :func:`run_process`, or have the child report ``peak_rss_mb()`` itself.
    """
    if who == "self":
        with contextlib.suppress(OSError), open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    target = resource.RUSAGE_SELF if who == "self" else resource.RUSAGE_CHILDREN
    return resource.getrusage(target).ru_maxrss / 1024  # Linux reports KiB


@dataclass
class ProcessResult:
    argv: list[str]
    returncode: int
    wall_ms: float  # from spawning the process to reaping it
    max_rss_mb: float  # the process's own peak resident memory (floor: ~10 MB, see below)
    stdout: str
    stderr: str

    def check(self) -> ProcessResult:
        if self.returncode != 0:
            raise RuntimeError(
                f"{' '.join(self.argv)} exited {self.returncode}:\n{self.stderr[-4000:]}"
            )
        return self


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a Python child: the project importable (``-m benchmarks.x``).

    An existing ``PYTHONPATH`` keeps precedence, so children import what the parent does.
    """
    env = dict(os.environ)
    paths = [*filter(None, env.get("PYTHONPATH", "").split(os.pathsep)), str(PROJECT)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.update(extra or {})
    return env


# A tiny launcher between us and the measured process. Spawned straight from a big
# benchmark process, a child's ru_maxrss would start at our size (see peak_rss_mb); spawned
# from this ~10 MB launcher it is the child's own. The launcher also times the child, so
# its own start-up is not counted. It reports "wall_ns maxrss_kib exit_code" on fd argv[1].
_LAUNCHER = """\
import os, sys, time
fd, argv = int(sys.argv[1]), sys.argv[2:]
t = time.perf_counter_ns()
try:
    pid = os.posix_spawnp(argv[0], argv, os.environ)
except OSError as e:
    os.write(2, f"cannot run {argv[0]}: {e}\\n".encode())
    os.write(fd, b"0 0 127")
    os._exit(0)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter_ns() - t
code = os.waitstatus_to_exitcode(status)
os.write(fd, f"{wall} {usage.ru_maxrss} {code}".encode())
os._exit(0)
"""


def run_process(argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None, input: str | None = None,
                timeout: float | None = None) -> ProcessResult:
    """Run ``argv`` to completion, timing the whole process and reading its peak memory.

    ``wall_ms`` runs from spawning ``argv`` to reaping it (what ``time`` in a shell shows);
    ``max_rss_mb`` is its own peak, with a floor of the launcher's ~10 MB. ``env``
    defaults to :func:`child_env`. On ``timeout`` the process group is killed and
    :class:`subprocess.TimeoutExpired` raised.
    """
    argv = [str(a) for a in argv]
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(write_fd), *argv],
            cwd=cwd, env=dict(env) if env is not None else child_env(),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            pass_fds=(write_fd,), start_new_session=True,
        )
    finally:
        os.close(write_fd)
    try:
        stdout, stderr = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        os.close(read_fd)
        raise
    with os.fdopen(read_fd, "rb") as f:
        report = f.read().split()
    if len(report) != 3:
        raise RuntimeError(f"launcher failed for {argv}: exit {proc.returncode}\n{stderr}")
    wall_ns, rss_kib, code = map(int, report)
    return ProcessResult(argv, code, wall_ns / 1e6, rss_kib / 1024, stdout, stderr)


K = TypeVar("K")


def interleaved(commands: Mapping[K, Sequence[str]], floor: Sequence[str], runs: int, *,
                env: Mapping[str, str] | None = None) -> tuple[dict[K, list[float]], list[float]]:
    """Time each of ``commands`` and the ``floor`` command (``python -c pass``) ``runs``
    times as whole processes, interleaved so that noise hits them all alike, after one
    untimed run of each command (bytecode, page cache, the index): the wall times in ms of
    each command and of the floor."""
    for argv in commands.values():
        run_process(argv, env=env).check()
    samples: dict[K, list[float]] = {k: [] for k in commands}
    bare: list[float] = []
    for _ in range(runs):
        for k, argv in commands.items():
            samples[k].append(run_process(argv, env=env).check().wall_ms)
        bare.append(run_process(floor, env=env).check().wall_ms)
    return samples, bare


def fleet_hive_command(*args: object) -> list[str]:
    """argv running ``fleet-hive args`` as agents do: the installed console script beside
    this interpreter (``python -m fleet_hive`` where there is none, which also pays for
    ``runpy``)."""
    script = Path(sys.executable).with_name("fleet-hive")
    if script.exists():
        return [sys.executable, str(script), *map(str, args)]
    return python_module("fleet_hive", *args)


def python_module(module: str, *args: object) -> list[str]:
    """argv running ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *map(str, args)]


def new_repo(path: Path, *, durability: str = "fsync", segment_max_bytes: int | None = None,
             actor: str = "bench") -> Any:
    """A fresh git repository at ``path`` with ``.fleet/`` initialised; returns the Hive."""
    import fleet_hive

    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    fleet = path / ".fleet"
    fleet.mkdir(exist_ok=True)
    lines = [f"durability: {durability}"]
    if segment_max_bytes is not None:
        lines.append(f"segment_max_bytes: {segment_max_bytes}")
    (fleet / "config.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return fleet_hive.init(path, actor=actor)


def progress(message: str) -> None:
    """A progress line on stderr (the table goes to stdout)."""
    print(f"[bench {time.perf_counter() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Stopwatch:
    """Accumulates the wall time of several timed blocks (``with sw: ...``)."""

    total_ns: int = 0
    _start: int = field(default=0, repr=False)

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter_ns()
        return self

    def __exit__(self, *exc: object) -> None:
        self.total_ns += time.perf_counter_ns() - self._start

    @property
    def seconds(self) -> float:
        return self.total_ns / 1e9
