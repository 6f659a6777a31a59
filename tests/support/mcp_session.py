"""An MCP client session with ``fleet-hive mcp`` run as a real process, through the SDK's
own stdio client (tests and the benchmark drive it from synchronous code)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def server_params(repo: Path, *args: str, actor: str = "ada") -> Any:
    from mcp import StdioServerParameters

    env = {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME", "PATH")}
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "fleet_hive", "-C", str(repo), "mcp",
                                       "--actor", actor, *args], env=env)


def with_session(repo: Path, body: Callable[[Any], Awaitable[T]], *args: str,
                 actor: str = "ada", timeout: float = 60) -> T:
    """Start ``fleet-hive mcp ARGS`` in ``repo``, initialize, run ``body(session)``."""
    from mcp import ClientSession, stdio_client

    async def main() -> T:
        async with stdio_client(server_params(repo, *args, actor=actor)) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            return await body(session)

    return asyncio.run(asyncio.wait_for(main(), timeout))


def list_tools_bytes(result: Any) -> int:
    """The size of a ``tools/list`` answer as it crosses the wire (compact JSON of its
    result, as the SDK serializes it)."""
    doc = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def payload(result: Any) -> Any:
    """A tool result's JSON (its one text block), or the text itself when not JSON."""
    (block,) = result.content
    try:
        return json.loads(block.text)
    except ValueError:
        return block.text
