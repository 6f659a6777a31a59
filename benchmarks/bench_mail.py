"""Mail (issue 14): ``mail send`` and ``mail inbox`` as whole processes next to ``python -c
pass`` in the same run (interleaved, so noise hits all alike), and the wake-up latency of
``mail inbox --wait`` when another process sends: from the moment the sender's append has
returned (durable, fsync on) to the waiting process having printed the message and exited.

The repository holds a mission and a few hundred messages spread over ten inboxes (so an
inbox query has rows to skip); the waiter is a fresh ``python -m fleet_hive`` started a
second before the send (it is then blocked in inotify's ``select``).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .harness import (
    Measurement,
    child_env,
    new_repo,
    percentile,
    progress,
    python_module,
    run_process,
)


@dataclass(frozen=True)
class Sizes:
    messages: int
    runs: int
    waits: int


FULL = Sizes(messages=500, runs=30, waits=20)
SMOKE = Sizes(messages=20, runs=3, waits=2)


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    sizes = SMOKE if smoke else FULL
    root = workdir / "mail"
    hive = new_repo(root, durability="fsync")
    mission = hive.missions.create("mail benchmark")
    progress(f"{sizes.messages} messages over ten inboxes")
    for k in range(sizes.messages):
        hive.mail.send([f"agent-{k % 10}"], f"message {k}", "body " * 20, mission=mission.id)
    hive.index.catch_up()
    env = child_env({"PYTHONPYCACHEPREFIX": str(workdir / "pycache"), "FLEET_ACTOR": "bench"})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    bare = [python_module("fleet_hive")[0], "-c", "pass"]

    def fleet(*args: object) -> list[str]:
        return python_module("fleet_hive", "-C", root, *args)

    send = fleet("mail", "send", "--to", "agent-1", "--subject", "hello", "--body", "text",
                 "--json")
    inbox = fleet("mail", "inbox", "agent-1", "--unread", "--limit", "10", "--json")
    for argv in (send, inbox, bare):  # warm bytecode, page cache, remembered settings
        run_process(argv, env=env).check()
    samples: dict[str, list[float]] = {"send": [], "inbox": [], "bare": []}
    progress(f"mail send / mail inbox as processes ({sizes.runs} runs each)")
    for _ in range(sizes.runs):
        samples["send"].append(run_process(send, env=env).check().wall_ms)
        samples["inbox"].append(run_process(inbox, env=env).check().wall_ms)
        samples["bare"].append(run_process(bare, env=env).check().wall_ms)
    floor = percentile(samples["bare"], 50)

    progress(f"mail inbox --wait woken by a send from another process ({sizes.waits} times)")
    latencies: list[float] = []
    for k in range(sizes.waits):
        name = f"waiter-{k}"
        waiter = subprocess.Popen(fleet("mail", "inbox", name, "--unread", "--wait", "30",
                                        "--json"), env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.0)  # it has started and is blocked waiting
            hive.mail.send([name], "wake up")
            sent = time.perf_counter()
            out, err = waiter.communicate(timeout=60)
            latencies.append((time.perf_counter() - sent) * 1000)
        finally:
            if waiter.poll() is None:
                waiter.kill()
                waiter.wait()
        if waiter.returncode != 0 or "wake up" not in out:
            raise RuntimeError(f"the waiter did not get the message: {err[-2000:]}")
    hive.close()
    return [
        Measurement("`python -c pass` (the floor, same run)", "—", "—", "",
                    samples=samples["bare"]),
        _row(f"`mail send` as a process, fsync on, {sizes.messages} messages", samples["send"],
             floor, 30),
        _row(f"`mail inbox NAME --unread --limit 10 --json` as a process, {sizes.messages} "
             "messages", samples["inbox"], floor, 15),
        Measurement("`mail inbox --wait` wake-up after another process's send", "—",
                    "≤ 1000 ms p95", "", samples=latencies,
                    passed=percentile(latencies, 95) <= 1000,
                    notes="send returned -> waiter printed the message and exited "
                          "(inotify, no polling loop); includes its catch-up, query, "
                          "output and exit"),
    ]


def _row(metric: str, samples: list[float], floor: float, budget: float) -> Measurement:
    p50 = percentile(samples, 50)
    return Measurement(metric, "—", f"≤ +{budget:g} ms over `python -c pass`", "",
                       samples=samples, passed=p50 - floor <= budget,
                       notes=f"+{p50 - floor:.1f} ms over `python -c pass` "
                             f"(p50 {floor:.1f} ms, same run)")
