"""The MCP server (issue 16): what ``tools/list`` costs an agent's context, per tier, and a
tool call's round trip over stdio with ``fleet-hive mcp`` as a real process, driven by the
MCP SDK's own client.

Round trips: ``ready`` on a 50-sortie mission (a read), ``check`` of one file (the
cheapest read), and ``progress`` on a claimed sortie (a durable write: lock, catch-up,
decide, append fsync'd, snapshot). The server's start-up (Python, the SDK, initialize) is
measured once per session, not per call.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import PROJECT, Measurement, new_repo, percentile, progress, timed

BUDGET = 8000


@dataclass(frozen=True)
class Sizes:
    sorties: int
    calls: int


FULL = Sizes(sorties=50, calls=200)
SMOKE = Sizes(sorties=5, calls=5)


def _params(repo: Path, *args: str) -> Any:
    from mcp import StdioServerParameters

    env = {k: v for k, v in os.environ.items() if k in ("HOME", "PATH")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT),
                                                      os.environ.get("PYTHONPATH")]))
    return StdioServerParameters(command=sys.executable, args=[
        "-m", "fleet_hive", "-C", str(repo), "mcp", "--actor", "bench", *args], env=env)


def _bytes(result: Any) -> int:
    doc = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


async def _session(repo: Path, body: Any, *args: str) -> Any:
    from mcp import ClientSession, stdio_client

    t = time.perf_counter_ns()
    async with stdio_client(_params(repo, *args)) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        started = (time.perf_counter_ns() - t) / 1e6
        return started, await body(session)


async def _calls(session: Any, name: str, args: Any, n: int) -> list[float]:
    samples = []
    for i in range(n):
        arguments = args(i) if callable(args) else args
        t = time.perf_counter_ns()
        result = await session.call_tool(name, arguments)
        samples.append((time.perf_counter_ns() - t) / 1e6)
        if result.is_error:
            raise RuntimeError(f"{name} failed: {result.content[0].text}")
    return samples


def run(smoke: bool, workdir: Path) -> list[Measurement]:
    sizes = SMOKE if smoke else FULL
    progress(f"fleet-hive mcp over stdio: tools/list per tier, {sizes.calls} calls per tool")
    repo = workdir / "mcp"
    hive = new_repo(repo, durability="fsync")
    m = hive.missions.create("served", priority=0)
    sorties = hive.sorties.add_many(m.id, [{"title": f"sortie {k}", "files": [f"src/{k}.py"]}
                                           for k in range(sizes.sorties)])
    mine = sorties[0].id
    hive.sorties.claim(mine, specialist="bench")
    hive.sorties.start(mine)
    # the same library calls in-process, for the protocol's share of a round trip
    base_ready = timed(lambda: [s.to_json() for s in hive.sorties.ready(limit=sizes.sorties)],
                       sizes.calls, warmup=2)
    base_check = timed(lambda: hive.reservations.check(["src/0.py"], holder="bench").to_json(),
                       sizes.calls, warmup=2)
    percents = itertools.cycle(range(100))
    base_progress = timed(lambda: hive.sorties.progress(mine, next(percents), note="bench"),
                          sizes.calls, warmup=2)
    hive.close()

    async def listing(session: Any) -> int:
        return _bytes(await session.list_tools())

    tiers = {tier: asyncio.run(_session(repo, listing, "--tools", tier))
             for tier in ("default", "all")}

    async def calls(session: Any) -> dict[str, list[float]]:
        await session.call_tool("ready", {})  # warm-up
        return {
            "ready": await _calls(session, "ready", {"limit": sizes.sorties}, sizes.calls),
            "check": await _calls(session, "check", {"paths": ["src/0.py"]}, sizes.calls),
            "progress": await _calls(session, "progress", lambda i: {
                "sortie": mine, "percent": i % 100, "note": "bench"}, sizes.calls),
        }

    started, samples = asyncio.run(_session(repo, calls))
    default_bytes, all_bytes = tiers["default"][1], tiers["all"][1]

    def share(name: str, base: list[float]) -> str:
        return (f"the same call in-process: p50 {percentile(base, 50):.2f} ms, so the "
                f"protocol adds ~{percentile(samples[name], 50) - percentile(base, 50):.1f} "
                "ms at p50")

    return [
        Measurement("MCP `tools/list`, default tier: bytes", "≤ 8,000 bytes (issue 16)",
                    "≤ 8,000 bytes", "bytes", value=default_bytes,
                    passed=default_bytes <= BUDGET,
                    notes="the serialized result as compact JSON; peers: 10-63k tokens"),
        Measurement("MCP `tools/list`, all tier: bytes", "", "", "bytes", value=all_bytes,
                    notes="for coordinators (`--tools all`)"),
        Measurement("MCP session start (spawn, initialize)", "", "", "ms",
                    value=round(started, 1), notes="once per client session"),
        Measurement(f"MCP `ready` round trip over stdio, {sizes.sorties} sorties", "",
                    "≤ 20 ms p95", "", samples=samples["ready"],
                    passed=percentile(samples["ready"], 95) <= 20,
                    notes=share("ready", base_ready)),
        Measurement("MCP `check` round trip over stdio, 1 file", "", "≤ 20 ms p95", "",
                    samples=samples["check"], passed=percentile(samples["check"], 95) <= 20,
                    notes=share("check", base_check)),
        Measurement("MCP `progress` round trip over stdio (durable write)", "",
                    "≤ 50 ms p95", "", samples=samples["progress"],
                    passed=percentile(samples["progress"], 95) <= 50,
                    notes="lock, catch-up, decide, append with fsync, snapshot; "
                          + share("progress", base_progress)),
    ]
