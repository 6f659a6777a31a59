"""Serve the tool table (:mod:`.tools`) over stdio with the official MCP SDK.

One :class:`~fleet_hive.app.hive.Hive` serves every call, used from one worker thread
only (its SQLite connection belongs to the thread that opened it): calls run one at a
time, in the order they came, while the event loop keeps reading the protocol. A result
is the CLI's JSON, compact; an error is the CLI's error object with ``isError`` set.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent

from ...kernel.errors import FleetHiveError
from ...kernel.jsondump import dumps
from .tools import ToolDef, select

if TYPE_CHECKING:
    from ...app.hive import Hive

INSTRUCTIONS = ("fleet-hive: coordinate coding agents on one repository. In a sortie: "
                "ready, claim, start, progress, complete; reserve files before editing.")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fleet-hive")
    except PackageNotFoundError:
        return "0"


def _result(value: Any) -> CallToolResult:
    text = value if isinstance(value, str) else dumps(value, indent=False).decode("utf-8")
    return CallToolResult(content=[TextContent(type="text", text=text)])


def _error(payload: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=dumps(
        payload, indent=False).decode("utf-8"))], is_error=True)


class HiveRunner:
    """Runs calls on the :class:`Hive` in its one thread, in order."""

    def __init__(self, hive: Hive) -> None:
        self.hive = hive
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet-hive")

    async def call(self, fn: Any, **kwargs: Any) -> CallToolResult:
        def work() -> CallToolResult:
            try:
                return _result(fn(self.hive, **kwargs))
            except FleetHiveError as e:
                return _error(e.to_json())
            except Exception as e:  # a bug, not the caller's fault: say so, keep serving
                return _error({"error": {"code": "internal",
                                         "message": f"internal error: {type(e).__name__}: {e}",
                                         "hint": "report it with the arguments given"}})

        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    def close(self) -> None:
        self._thread.submit(self.hive.close).result()
        self._thread.shutdown()


def _tool(runner: HiveRunner, tool: ToolDef) -> Any:
    """An async function with ``tool.fn``'s signature less its first (Hive) parameter,
    for the SDK to derive the input schema from."""
    fn = tool.fn
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())[1:]

    @functools.wraps(fn)
    async def call(**kwargs: Any) -> CallToolResult:
        return await runner.call(fn, **kwargs)

    del call.__wrapped__  # the SDK must see the signature below, not fn's
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=CallToolResult)
    call.__annotations__ = {p.name: p.annotation for p in params}
    call.__annotations__["return"] = CallToolResult
    call.__doc__ = (fn.__doc__ or "").strip().splitlines()[0]
    return call


class _Server(MCPServer[Any]):
    """The SDK's server, answering a call it refuses (an unknown tool, arguments that do
    not fit the schema) with the CLI's error object too."""

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as e:
            if self._tool_manager.get_tool(name) is None:
                return _error({"error": {"code": "not_found", "message": f"no tool {name!r}",
                                         "hint": "tools/list names them"}})
            lines = [line for line in str(e).splitlines()
                     if line.strip() and "errors.pydantic.dev" not in line]
            return _error({"error": {"code": "invalid_input", "message": " ".join(
                line.strip() for line in lines), "hint": "see the tool's inputSchema"}})


def build(hive: Hive, tier: str = "default") -> tuple[MCPServer[Any], HiveRunner]:
    """The MCP server of ``tier``'s tools over ``hive``, and the runner to close after."""
    runner = HiveRunner(hive)
    server = _Server("fleet-hive", version=_version(),
                     instructions=INSTRUCTIONS, log_level="WARNING")
    for tool in select(tier):
        server.add_tool(_tool(runner, tool), name=tool.name)
    return server, runner


def serve(hive: Hive, tier: str = "default") -> None:
    """Serve MCP on stdin/stdout until the client closes it."""
    server, runner = build(hive, tier)
    try:
        server.run("stdio")
    except KeyboardInterrupt:
        return  # Ctrl-C in a terminal ends the session like a closed stdin: no traceback
    finally:
        runner.close()
        sys.stdout.flush()
