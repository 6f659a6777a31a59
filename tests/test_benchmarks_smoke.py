"""The benchmark suite keeps working: a smoke-size run of the log benchmarks.

Behaviour only. Timings are never asserted here (benchmarks are not tests; a shared,
noisy machine would make such a test flaky): only that the suite runs, exits 0 and reports
a measured value for every metric.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import PROJECT

#: Every metric bench_log reports (at smoke size), by a distinctive part of its name.
LOG_METRICS = (
    "durable single append, in-process: latency",
    "durable single append, in-process: throughput",
    "raw os.write + fdatasync",
    "batched append",
    "concurrent appenders x 100: per-append latency",
    "concurrent appenders x 100: throughput",
    "concurrent appenders x 100: lost + duplicated",
    "index catch-up after 1 new event (",
    "index catch-up after 1 new event in a 1k-event stream",
    "index catch-up with nothing new",
    "full index rebuild, 10k events",
    "full index rebuild, 10k events: peak memory",
    "orjson.loads of the same 10k lines",
    "json.loads of the same 10k lines",
)


def _run_suite(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--workdir", str(tmp_path / "work")],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.slow
def test_log_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "log", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]

    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["smoke"] is True
    assert results["machine"]["nproc"] >= 1 and results["machine"]["python"]
    (bench,) = results["benchmarks"]
    assert (bench["name"], bench["status"], bench["error"]) == ("log", "ok", None)
    measurements = bench["measurements"]
    names = [m["metric"] for m in measurements]
    for metric in LOG_METRICS:
        assert any(metric in name for name in names), f"no metric {metric!r} in {names}"
    for m in measurements:
        assert m["value"] is not None or m["median_ms"] is not None, m
        assert m["passed"] in (True, False, None)
        assert m["measured"] and m["measured"] != "—"
        assert m["spec_target"] and m["our_target"]
    # The correctness half of the concurrency benchmark is a fact, not a timing.
    (lost,) = [m for m in measurements if "lost + duplicated" in m["metric"]]
    assert lost["value"] == 0 and lost["passed"] is True, lost["notes"]

    # The table on stdout names every metric; temporary directories are gone.
    for name in names:
        assert name in proc.stdout
    assert not any((tmp_path / "work").iterdir())


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    proc = _run_suite(tmp_path, "--only", "no_such_bench", "--json", str(tmp_path / "r.json"))
    assert proc.returncode == 2
    assert "unknown benchmark" in proc.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_missions_and_git_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "missions", "--only", "git",
                      "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    benches = {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}
    assert set(benches) == {"missions", "git"}
    for bench in benches.values():
        assert bench["status"] == "ok" and bench["error"] is None, bench
        assert bench["measurements"], bench["name"]
        for m in bench["measurements"]:
            assert m["measured"] and m["measured"] != "—", m
    names = [m["metric"] for m in benches["missions"]["measurements"]]
    assert any("ready --json" in n for n in names)
    assert any("mission list --json" in n for n in names)
    assert any("fleet-hive commit" in m["metric"] for m in benches["git"]["measurements"])


@pytest.mark.slow
def test_crash_test_runs_and_loses_nothing(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.crash_test", "--duration", "4", "--seed", "1",
         "--at-least", "50", "--json", "--workdir", str(tmp_path / "work")],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300,
    )
    result = json.loads(proc.stdout)
    counts = result["counts"]
    assert counts["acknowledged"] > 0 and result["kills"] > 0, result
    assert counts["lost"] == 0 and counts["duplicated"] == 0, counts
    assert counts["found"] == counts["acknowledged"] <= counts["in_log"]
    assert set(result["verify"]) >= {"exit_code", "ok", "problems"}
    assert proc.returncode == (0 if result["passed"] else 1), proc.stderr[-4000:]
    if result["passed"]:
        assert not any((tmp_path / "work").iterdir()), "the repository is removed"


def test_crash_test_rejects_bad_arguments(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.crash_test", "--duration", "0"],
                          cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--duration" in proc.stderr


def test_process_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "processes", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert bench["status"] == "ok" and bench["error"] is None, bench
    names = [m["metric"] for m in bench["measurements"]]
    for command in ("ready --json", "status --json", "lock check", "events list",
                    "sortie claim", "sortie complete", "lock acquire", "events append"):
        assert any(command in n for n in names), command
    assert any("snapshots: deferred" in n for n in names)
    history = [n for n in names if "same open work" in n]  # the long-lived repository
    assert len(history) == 2 and any("ready" in n for n in history), names
    for m in bench["measurements"][1:]:  # each next to the same run's floor
        assert "over `python -c pass`" in m["notes"], m


@pytest.mark.slow
def test_recovery_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "recovery", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert (bench["name"], bench["status"], bench["error"]) == ("recovery", "ok", None)
    names = [m["metric"] for m in bench["measurements"]]
    for metric in ("`recover` plan in-process", "`recover --apply` in-process",
                   "stale-work check",
                   "`fleet-hive context` (md, nothing remembered) as a process",
                   "`fleet-hive context` (md, remembered) as a process", "`python -c pass`"):
        assert any(metric in name for name in names), f"no metric {metric!r} in {names}"


@pytest.mark.slow
def test_checkpoint_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "checkpoints", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert (bench["name"], bench["status"], bench["error"]) == ("checkpoints", "ok", None)
    names = [m["metric"] for m in bench["measurements"]]
    for metric in ("`checkpoint create` in-process", "`checkpoint resume`, 2 sorties",
                   "`checkpoint resume`, nothing to restore", "baseline: one durable"):
        assert any(metric in name for name in names), (metric, names)
    for m in bench["measurements"]:
        assert m["measured"] and m["measured"] != "—", m


@pytest.mark.slow
def test_planning_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "planning", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert (bench["name"], bench["status"], bench["error"]) == ("planning", "ok", None)
    names = [m["metric"] for m in bench["measurements"]]
    for metric in ("`decompose` (auto, heuristic) as a process",
                   "`decompose` (risk, heuristic) as a process",
                   "plan validation in-process", "`plan validate MISSION` as a process"):
        assert any(metric in name for name in names), (metric, names)
    for m in bench["measurements"]:
        assert m["measured"] and m["measured"] != "—", m


def test_dispatch_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "dispatch", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert (bench["name"], bench["status"], bench["error"]) == ("dispatch", "ok", None)
    names = [m["metric"] for m in bench["measurements"]]
    for metric in ("dispatch wall per sortie", "durable (fsync)", "durability: none",
                   "agent alone", "`fleet-hive dispatch` as a process",
                   "--isolation shared", "--isolation worktree"):
        assert any(metric in name for name in names), (metric, names)
    for m in bench["measurements"]:
        assert m["measured"] and m["measured"] != "—", m
    (durable,) = [m for m in bench["measurements"] if "durable (fsync)" in m["metric"]]
    assert "overhead beyond the agent" in durable["notes"] and durable["passed"] in (True, False)
    assert not any((tmp_path / "work").iterdir())


@pytest.mark.slow
def test_mail_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "mail", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert (bench["name"], bench["status"], bench["error"]) == ("mail", "ok", None)
    names = [m["metric"] for m in bench["measurements"]]
    for metric in ("`mail send` as a process", "`mail inbox NAME", "wake-up",
                   "`python -c pass`"):
        assert any(metric in name for name in names), (metric, names)
    for m in bench["measurements"]:
        assert m["measured"] and m["measured"] != "—", m


@pytest.mark.slow
def test_learning_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "learning", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert (bench["name"], bench["status"], bench["error"]) == ("learning", "ok", None)
    names = [m["metric"] for m in bench["measurements"]]
    for metric in ("`advise` (3 features) over", "`sortie complete` with the outcome policy",
                   "`sortie complete` without the outcome policy", "`fleet-hive learn stats"):
        assert any(metric in name for name in names), (metric, names)
    for m in bench["measurements"]:
        assert m["measured"] and m["measured"] != "—", m


@pytest.mark.slow
def test_server_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    pytest.importorskip("fastapi", reason="the server extra is not installed")
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "server", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert (bench["name"], bench["status"], bench["error"]) == ("server", "ok", None)
    names = [m["metric"] for m in bench["measurements"]]
    for metric in ("`GET /ready`, 1 client", "`GET /ready`, 32 concurrent clients",
                   "`POST /events` (durable write), 1 client", "SSE delivery"):
        assert any(metric in name for name in names), (metric, names)
    for m in bench["measurements"]:
        assert m["measured"] and m["measured"] != "—", m


@pytest.mark.slow
def test_mcp_benchmarks_run_at_smoke_size(tmp_path: Path) -> None:
    pytest.importorskip("mcp", reason="the MCP SDK comes with the server extra")
    out = tmp_path / "results.json"
    proc = _run_suite(tmp_path, "--smoke", "--only", "mcp", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert (bench["name"], bench["status"], bench["error"]) == ("mcp", "ok", None)
    by_name = {m["metric"]: m for m in bench["measurements"]}
    for metric in ("MCP `tools/list`, default tier: bytes", "MCP `tools/list`, all tier: bytes",
                   "MCP session start (spawn, initialize)"):
        assert by_name[metric]["value"], metric
    assert by_name["MCP `tools/list`, default tier: bytes"]["value"] <= 8000
    for name in by_name:
        if "round trip" in name:
            assert by_name[name]["n"] == 5, name
