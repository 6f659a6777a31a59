"""File reservations with real processes: races, a killed holder, waits, cycles, the CLI.

Processes are started together and synchronised through their stdin; nothing here
asserts on timings (the order of events is read from the reservations themselves).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

import fleet_hive
from tests.support import PROJECT, run_cli, segment_lines

RACERS = 8
ROUNDS = 20


def _popen(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *args], stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _cli(repo: Path, *args: str) -> subprocess.Popen[str]:
    return _popen("-m", "fleet_hive", "-C", str(repo), *args)


def _events(repo: Path, type_: str) -> list:
    with fleet_hive.open(repo) as h:
        return h.events.by_type(type_)


def _until(cond, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_cli_race_one_winner(hive, repo: Path):
    procs = [_cli(repo, "lock", "acquire", "src/a.py", "--holder", f"h{i}", "--json")
             for i in range(RACERS)]
    results = [(p.wait(60), p.communicate()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0] + [3] * (RACERS - 1), [err for _, (_, err) in results]
    (winner,) = [json.loads(out) for code, (out, _) in results if code == 0]
    for code, (out, _) in results:
        if code == 3:
            err = json.loads(out)["error"]
            assert err["code"] == "conflict" and winner[0]["holder"] in err["message"]
            assert err["conflicts"][0]["holder"] == winner[0]["holder"]
    assert len(_events(repo, "reservation_acquired")) == 1
    assert len(_events(repo, "reservation_refused")) == RACERS - 1


RACER = textwrap.dedent("""
    import sys
    import fleet_hive
    from fleet_hive.kernel.errors import ConflictError

    repo, holder, parity = sys.argv[1], sys.argv[2], int(sys.argv[3])
    hive = fleet_hive.open(repo)
    hive.log  # pay the imports and open the files before the race
    from fleet_hive.events.registry import known_types
    known_types()
    hive.index.catch_up()
    print("ready", flush=True)
    for line in sys.stdin:
        rnd = int(line)
        # half the racers ask for the directory by glob, half for one file in it
        path = f"src/r{rnd}/**" if parity else f"src/r{rnd}/a.py"
        try:
            hive.reservations.acquire(path, holder=holder, ttl=600)
            print(f"{rnd} ok", flush=True)
        except ConflictError:
            print(f"{rnd} conflict", flush=True)
""")


def test_process_race_many_rounds(hive, repo: Path, tmp_path: Path):
    script = tmp_path / "racer.py"
    script.write_text(RACER)
    procs = [_popen(str(script), str(repo), f"h{i}", str(i % 2), stdin=subprocess.PIPE)
             for i in range(RACERS)]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for rnd in range(ROUNDS):
            for p in procs:  # release all of them at once
                assert p.stdin is not None
                p.stdin.write(f"{rnd}\n")
                p.stdin.flush()
            answers = [p.stdout.readline().split() for p in procs if p.stdout is not None]
            assert all(a[0] == str(rnd) for a in answers), answers
            outcomes = sorted(a[1] for a in answers)
            assert outcomes == ["conflict"] * (RACERS - 1) + ["ok"], (rnd, answers)
    finally:
        for p in procs:
            if p.stdin is not None:
                p.stdin.close()
        for p in procs:
            p.wait(60)
    assert all(p.returncode == 0 for p in procs)
    # The log agrees: one grant per round, and no two live reservations overlap.
    grants = _events(repo, "reservation_acquired")
    assert len(grants) == ROUNDS
    assert sorted(int(g.data["path"].split("/")[1][1:]) for g in grants) == list(range(ROUNDS))
    assert len(_events(repo, "reservation_refused")) == ROUNDS * (RACERS - 1)


HOLDER = textwrap.dedent("""
    import sys, time
    import fleet_hive

    hive = fleet_hive.open(sys.argv[1])
    (r,) = hive.reservations.acquire("src/k.py", holder="doomed", ttl=float(sys.argv[2]))
    print(r.expires_at, flush=True)
    time.sleep(120)
""")


def test_killed_holder_expires_after_its_ttl(hive, repo: Path, tmp_path: Path):
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    proc = _popen(str(script), str(repo), "1.5")
    assert proc.stdout is not None
    expires_at = proc.stdout.readline().strip()
    assert expires_at, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    got = run_cli("-C", str(repo), "lock", "acquire", "src/k.py", "--holder", "heir",
                  "--wait", "30", "--json")
    assert got.returncode == 0, got.stderr
    (lease,) = json.loads(got.stdout)
    assert lease["holder"] == "heir"
    assert lease["acquired_at"] >= expires_at  # granted only once the dead holder's TTL ran out
    (expired,) = _events(repo, "reservation_expired")
    assert expired.data["holder"] == "doomed" and expired.data["expires_at"] == expires_at


def test_wait_succeeds_when_holder_releases(hive, repo: Path):
    hive.reservations.acquire("src/w.py", holder="h1")
    proc = _cli(repo, "lock", "acquire", "src/w.py", "--holder", "h2", "--wait", "60", "--json")
    _until(lambda: _events(repo, "reservation_waiting"))
    assert proc.poll() is None  # still waiting
    hive.reservations.release("src/w.py", holder="h1")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)[0]["holder"] == "h2"
    (ended,) = _events(repo, "reservation_wait_ended")
    assert ended.data["outcome"] == "acquired"


def test_wait_times_out_with_exit_4(hive, repo: Path):
    hive.reservations.acquire("src/w.py", holder="h1")
    got = run_cli("-C", str(repo), "lock", "acquire", "src/w.py", "--holder", "h2",
                  "--wait", "0.3", "--json")
    assert got.returncode == 4, got.stderr
    err = json.loads(got.stdout)["error"]
    assert err["code"] == "timeout" and "h1" in err["message"]
    assert err["conflicts"][0]["path"] == "src/w.py"
    assert [e.data["outcome"] for e in _events(repo, "reservation_wait_ended")] == ["timeout"]
    assert hive.reservations.list(holder="h2") == []


def test_wait_cycle_between_two_processes(hive, repo: Path):
    res = hive.reservations
    res.acquire("src/x.py", holder="A")
    res.acquire("src/y.py", holder="B")
    a = _cli(repo, "lock", "acquire", "src/y.py", "--holder", "A", "--wait", "60", "--json")
    _until(lambda: _events(repo, "reservation_waiting"))
    got = run_cli("-C", str(repo), "lock", "acquire", "src/x.py", "--holder", "B",
                  "--wait", "60", "--json")
    assert got.returncode == 3, got.stderr
    err = json.loads(got.stdout)["error"]
    assert err["code"] == "deadlock" and err["cycle"] == ["B", "A", "B"]
    assert "B waits for A (src/x.py), A waits for B (src/y.py)" in err["message"]
    assert a.poll() is None  # the older waiter keeps waiting
    res.release_all("B")
    out, stderr = a.communicate(timeout=60)
    assert a.returncode == 0, stderr
    assert json.loads(out)[0]["path"] == "src/y.py"


def test_cli_release_renew_list_check(hive, repo: Path):
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("-C", str(repo), "--json", "lock", *args)

    assert cli("acquire", "src/a.py", "src/b.py", "--holder", "h1", "--ttl", "100",
               "--reason", "refactor").returncode == 0
    before = segment_lines(repo)
    got = cli("release", "src/a.py", "--holder", "h2")
    assert got.returncode == 3
    assert json.loads(got.stdout)["error"]["code"] == "not_owner"
    assert segment_lines(repo) == before  # nothing written

    listed = json.loads(cli("list").stdout)
    assert [(r["path"], r["holder"], r["mode"], r["reason"]) for r in listed] == [
        ("src/a.py", "h1", "exclusive", "refactor"), ("src/b.py", "h1", "exclusive", "refactor")]
    assert {"path", "holder", "mode", "acquired_at", "expires_at", "reason"} <= set(listed[0])
    assert json.loads(cli("list", "--holder", "h2").stdout) == []
    assert [r["path"] for r in json.loads(cli("list", "--path", "src/a.py").stdout)] == [
        "src/a.py"]

    checked = cli("check", "src/a.py", "README")
    assert checked.returncode == 3
    assert json.loads(checked.stdout)["error"]["conflicts"][0]["holder"] == "h1"
    ok = cli("check", "src/a.py", "--holder", "h1")
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True
    assert cli("check", "src/*.py").returncode == 0  # a file named "*.py": not reserved
    assert cli("check", "src/*.py", "--glob").returncode == 3

    renewed = json.loads(cli("renew", "--holder", "h1", "--ttl", "500").stdout)
    assert [r["ttl"] for r in renewed] == [500.0, 500.0]
    assert cli("renew", "--holder", "h2").returncode == 1

    again = json.loads(cli("acquire", "src/a.py", "--holder", "h1").stdout)
    assert again[0]["id"] == listed[0]["id"]  # re-acquire keeps the same reservation

    released = json.loads(cli("release", "src/a.py", "--holder", "h1").stdout)
    assert [r["path"] for r in released] == ["src/a.py"]
    assert [r["path"] for r in json.loads(cli("release", "--all", "--holder", "h1").stdout)
            ] == ["src/b.py"]
    assert cli("release", "--holder", "h1").returncode == 2  # neither paths nor --all
    assert json.loads(cli("list").stdout) == []


@pytest.mark.parametrize(("argv", "fragment"), [
    (["acquire", "", "--holder", "h1"], "empty path"),
    (["acquire", "/etc/passwd", "--holder", "h1"], "outside the repository"),
    (["acquire", "src/../../x", "--holder", "h1"], ".."),
    (["acquire", "src/[ab", "--holder", "h1"], "unterminated"),
    (["acquire", "a.py", "--holder", "h1", "--ttl", "0"], "ttl"),
    (["acquire", "a.py", "--holder", "h1", "--ttl", "-3"], "ttl"),
    (["acquire", "a.py", "--holder", ""], "empty holder"),
    (["acquire", "a.py", "--holder", "h1", "--wait", "-1"], "wait"),
    (["check", "../x"], ".."),
    (["release", "", "--holder", "h1"], "empty path"),
])
def test_cli_bad_input(hive, repo: Path, argv: list[str], fragment: str):
    got = run_cli("-C", str(repo), "lock", *argv)
    assert got.returncode == 1, (got.stdout, got.stderr)
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0]
    assert segment_lines(repo) == []


def test_cli_absolute_path_inside_repo(hive, repo: Path):
    got = run_cli("-C", str(repo / "."), "--json", "lock", "acquire", str(repo / "src" / "a.py"),
                  "--holder", "h1")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)[0]["path"] == "src/a.py"


HEAVY = ["pydantic", "dulwich", "jinja2", "filelock", "ruamel"]


@pytest.mark.parametrize("argv", [["check", "src/a.py", "--json"], ["list", "--json"]])
def test_read_commands_stay_light(hive, repo: Path, argv: list[str]):
    hive.reservations.acquire("src/**", holder="h1")
    probe = (
        "import sys, runpy, json\n"
        f"sys.argv = ['fleet-hive', '-C', {str(repo)!r}, 'lock'] + {argv!r}\n"
        "try:\n    runpy.run_module('fleet_hive', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    got = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    loaded = set(json.loads(got.stderr.strip().splitlines()[-1]))
    assert orjson.loads(got.stdout) is not None
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.slow
def test_lock_benchmarks_run_at_smoke_size(tmp_path: Path):
    """``benchmarks/bench_locks.py`` keeps working (timings are not asserted)."""
    project = PROJECT
    out = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": str(project)}
    got = subprocess.run([sys.executable, "-m", "benchmarks", "--smoke", "--only", "locks",
                          "--json", str(out), "--workdir", str(tmp_path / "work")],
                         cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stderr[-4000:]
    (bench,) = json.loads(out.read_text())["benchmarks"]
    assert (bench["name"], bench["status"]) == ("locks", "ok")
    metrics = {m["metric"]: m for m in bench["measurements"]}
    assert len(metrics) == 9
    assert all(m["n"] > 0 and m["median_ms"] > 0 for m in metrics.values())


def test_a_killed_waiter_causes_no_false_deadlock(hive, repo: Path):
    res = hive.reservations
    res.acquire("src/x.py", holder="A")
    res.acquire("src/y.py", holder="B")
    b = _cli(repo, "lock", "acquire", "src/x.py", "--holder", "B", "--wait", "600", "--json")
    _until(lambda: _events(repo, "reservation_waiting"))
    (waiting,) = _events(repo, "reservation_waiting")
    assert waiting.data["pid"] == b.pid and waiting.data["host"]
    b.send_signal(signal.SIGKILL)
    b.wait(10)
    assert b.returncode == -signal.SIGKILL
    got = run_cli("-C", str(repo), "lock", "acquire", "src/y.py", "--holder", "A",
                  "--wait", "0.5", "--json")
    # B still holds y.py, so A times out (exit 4); it is not refused as a deadlock (exit 3)
    assert got.returncode == 4, got.stdout + got.stderr
    assert json.loads(got.stdout)["error"]["code"] == "timeout"
    ended = {e.data["request_id"]: e.data["outcome"]
             for e in _events(repo, "reservation_wait_ended")}
    assert ended[waiting.data["request_id"]] == "died"  # the dead wait is ended, once
    assert [e.data["why"] for e in _events(repo, "reservation_refused")] == ["timeout"]
