"""``serve``: the HTTP API and the dashboard in the foreground (``docs/server.md``)."""

from __future__ import annotations

from typing import Any

import click

from . import Ctx, json_option, pass_ctx
from .output import info, write_json_line


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --allow-remote.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port, printed).")
@click.option("--allow-remote", is_flag=True,
              help="Allow a --host other machines can reach (the token is then all that "
                   "guards the repository; there is no TLS).")
@click.option("--rate-limit", type=click.FloatRange(min=0), default=None,
              help="Requests per second per client (default 200; 0: no limit).")
@json_option
@pass_ctx
def serve_cmd(ctx: Ctx, host: str, port: int, allow_remote: bool, rate_limit: float | None,
              ) -> None:
    """Serve the HTTP API (/api/v1/) and the dashboard (/) until interrupted.

    Prints where (with --json: one JSON object on the first line) and the dashboard URL,
    whose #token fragment lets the page call the API. Every route but /api/v1/health needs
    the bearer token of .fleet/local/token.
    """
    try:
        from ..server.run import is_loopback, serve
    except ImportError as e:  # the optional extra is not installed
        from ..kernel.errors import FleetHiveError

        raise FleetHiveError(f"the server is not installed ({e.name} is missing)",
                             hint="pip install 'fleet-hive[server]'") from e
    if not is_loopback(host):
        if not allow_remote:
            raise click.UsageError(f"--host {host} is reachable from other machines: add "
                                   "--allow-remote to mean it")
        info(f"warning: listening on {host}: anyone who can reach it and has the token "
             "can read and change this repository's fleet (no TLS)")
    root = ctx.hive().root

    def ready(where: dict[str, Any]) -> None:
        if ctx.json:
            write_json_line(where)
        else:
            info(f"fleet-hive serving {where['root']} on {where['url']} (pid {where['pid']})")
            info(f"dashboard: {where['dashboard']}")

    serve(root, host=host, port=port, rate=rate_limit, on_ready=ready)
