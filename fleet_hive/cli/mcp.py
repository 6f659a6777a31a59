"""``mcp``: serve fleet-hive to MCP clients on stdio (``docs/mcp.md``)."""

from __future__ import annotations

import click

from ..kernel.errors import FleetHiveError
from . import Ctx, json_option, pass_ctx


@click.command("mcp")
@click.option("--tools", "tier", type=click.Choice(("default", "all")), default="default",
              show_default=True,
              help="default: the tools an agent needs in a sortie (tools/list under 8,000 "
                   "bytes); all: every tool, for coordinators.")
@click.option("--actor", "actor", default=None,
              help="Who acts (overrides the global --actor; env FLEET_ACTOR).")
@json_option
@pass_ctx
def mcp_cmd(ctx: Ctx, tier: str, actor: str | None) -> None:
    """An MCP server on stdin/stdout over this repository (the client starts it).

    Tool results are the CLI's JSON shapes, compact; errors are the CLI's error object
    with isError set. With --json, an error before serving (not initialized, the extra
    not installed) is the JSON error object on stdout. Needs the server extra:
    pip install 'fleet-hive[server]'. See docs/mcp.md.
    """
    from ..app.hive import open as open_hive

    hive = open_hive(ctx.cwd, actor=actor or ctx.actor)  # not initialized: exit 1 now
    try:
        from ..server.mcp.stdio import serve
    except ImportError as e:
        raise FleetHiveError(f"the MCP server needs the mcp package ({e})",
                             hint="pip install 'fleet-hive[server]'") from e
    serve(hive, tier)
