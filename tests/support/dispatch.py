"""Helpers for the dispatch tests: real agent scripts, the intervals they log, missions with
dependencies and overlapping files, a small specialists service (the interface the
specialists capability provides dispatch), and a dispatcher run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: An agent that logs its start and end (monotonic clock, nanoseconds) to $AGENT_LOG, with
#: the sortie, its files (read back from the prompt) and its pid; sleeps $AGENT_SLEEP
#: seconds between them (default 0.05); exits with $AGENT_EXIT (default 0).
INTERVAL_AGENT = textwrap.dedent('''\
    import os, sys, time
    prompt = sys.stdin.read()
    sid = os.environ["FLEET_SORTIE_ID"]
    log = os.environ["AGENT_LOG"]
    def note(what):
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(fd, f"{what} {sid} {time.monotonic_ns()} {os.getpid()} "
                     f"{os.environ['FLEET_ACTOR']}\\n".encode())
        os.close(fd)
    note("start")
    slow = os.environ.get("AGENT_SLOW_SORTIE")
    time.sleep(float(os.environ.get("AGENT_SLOW_SECONDS", "30")) if sid == slow
               else float(os.environ.get("AGENT_SLEEP", "0.05")))
    note("end")
    sys.exit(int(os.environ.get("AGENT_EXIT", "0")))
''')


def write_agent(directory: Path, name: str = "agent.py", text: str = INTERVAL_AGENT) -> str:
    """Write an agent script; returns the shell command that runs it."""
    path = directory / name
    path.write_text(text)
    return f"{sys.executable} {path}"


@dataclass
class Interval:
    sortie: str
    start: int
    end: int | None
    pid: int
    actor: str


def intervals(log: Path) -> list[Interval]:
    """Every run the agents logged, in start order (``end`` None: never ended)."""
    out: dict[tuple[str, int], Interval] = {}
    if not log.exists():
        return []
    for line in log.read_text().splitlines():
        what, sid, ns, pid, *actor = line.split(" ")
        key = (sid, int(pid))
        if what == "start":
            out[key] = Interval(sid, int(ns), None, int(pid), " ".join(actor))
        else:
            out[key].end = int(ns)
    return sorted(out.values(), key=lambda i: i.start)


def layered_mission(hive: Any, n: int, *, width: int = 10, shared_every: int = 7,
                    ) -> tuple[str, list[Any]]:
    """A mission of ``n`` sorties in layers of ``width``: sortie k depends on k - width
    (and on k - width - 1 for every third one); each edits its own file, and every
    ``shared_every``-th sortie also touches ``shared/**`` (so those never run together),
    every fifth one a file of its own directory as a glob (``dir{k%4}/*.txt``)."""
    items: list[dict[str, Any]] = []
    for k in range(n):
        files = [f"src/f{k}.py"]
        if k % shared_every == 0:
            files.append("shared/**")
        if k % 5 == 0:
            files.append(f"dir{k % 4}/*.txt")
        after: list[int] = []
        if k >= width:
            after.append(k - width)
            if k % 3 == 0 and k - width - 1 >= 0:
                after.append(k - width - 1)
        items.append({"title": f"sortie {k}", "files": files, "after": after})
    m = hive.missions.create("layered", sorties=items)
    return m.id, hive.missions.get(m.id).sorties


def run_dispatch(repo: Path, *args: str, env: dict[str, str] | None = None,
                 timeout: float = 120) -> tuple[subprocess.CompletedProcess[str],
                                                list[dict[str, Any]]]:
    """``fleet-hive dispatch ... --json`` as a real process: the result and its records."""
    result = subprocess.run([sys.executable, "-m", "fleet_hive", "-C", str(repo), "dispatch",
                             *args, "--json"], capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, **(env or {})})
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result, records


def start_dispatch(repo: Path, *args: str, env: dict[str, str] | None = None,
                   ) -> subprocess.Popen[str]:
    """``fleet-hive dispatch ... --json`` started in the background (stdout: records)."""
    return subprocess.Popen([sys.executable, "-m", "fleet_hive", "-C", str(repo), "dispatch",
                             *args, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie leader reaped by nobody still counts: check the members' states
    return any(_state(pid) not in (None, "Z") for pid in group_members(pgid))


def group_members(pgid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:
            out.append(int(entry))
    return out


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[0]


@dataclass
class FakeSpecialist:
    name: str
    capabilities: list[str]
    load: int = 0
    heartbeats: int = 0


@dataclass
class FakeSpecialists:
    """The specialists interface dispatch takes (``register``, ``heartbeat``,
    ``capable``), in memory. ``load`` is counted from the claims it is told of: dispatch
    balances by asking ``capable`` again before each assignment."""

    known: dict[str, FakeSpecialist] = field(default_factory=dict)
    registered: list[tuple[str, list[str]]] = field(default_factory=list)
    #: the load of a name now (e.g. its claimed sorties); None: the stored ``load``
    load_of: Any = None

    def register(self, name: str, capabilities: list[str]) -> FakeSpecialist:
        self.registered.append((name, list(capabilities)))
        sp = self.known.setdefault(name, FakeSpecialist(name, list(capabilities)))
        sp.capabilities = list(capabilities)
        return sp

    def heartbeat(self, name: str) -> None:
        self.known[name].heartbeats += 1

    def capable(self, kind: str | None) -> list[FakeSpecialist]:
        found = [s for s in self.known.values() if kind is None or kind in s.capabilities]
        if self.load_of is not None:
            for s in found:
                s.load = self.load_of(s.name)
        return sorted(found, key=lambda s: (s.load, s.name))

    def silent(self, threshold: float | None = None) -> list[FakeSpecialist]:
        return []


def dispatcher(hive: Any, specialists: Any = None) -> Any:
    """``hive.dispatch`` with a specialists service (as the lead wires the real one)."""
    from fleet_hive.dispatch.service import Dispatcher, Paths

    layout = hive.layout
    return Dispatcher(uow=lambda: hive.uow, sorties=lambda: hive.sorties,
                      missions=lambda: hive.missions, reservations=lambda: hive.reservations,
                      brief=hive._specialist_brief, actor=hive.actor,
                      batch=hive.snapshots_deferred,
                      paths=Paths(hive.root, layout.dispatch_leases, layout.dispatch_logs,
                                  layout.dispatch_prompts),
                      specialists=None if specialists is None else (lambda: specialists))
