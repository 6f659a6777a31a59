"""``services up|down|status|logs``: the background server, through its provider
(``docs/services.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from . import Ctx, json_option, pass_ctx
from .output import clean, write_json

if TYPE_CHECKING:
    from ..services import Outcome, Provider, ServiceStatus


def _provider(ctx: Ctx) -> Provider:
    from ..services import provider

    hive = ctx.hive()
    settings = hive.config.services
    return provider(settings.provider, hive.layout, settings={"port": settings.port})


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = [f"{d}d"] * bool(d) + [f"{h}h"] * bool(h) + [f"{m}m"] * bool(m) + [f"{s}s"]
    return "".join(parts[:2])


def _line(st: ServiceStatus) -> str:
    """One line with a visual indicator (colour only on a terminal)."""
    if st.running:
        mark = click.style("●", fg="green" if st.healthy else "yellow", bold=True)
        health = "" if st.healthy else f"  ({clean(st.reason)})"
        return (f"{mark} running  pid {st.pid}  {st.url}  version {st.version or '?'}  "
                f"up {_uptime(st.uptime)}  [{st.provider}]{health}")
    if st.stale:
        mark = click.style("✗", fg="red", bold=True)
        return f"{mark} stopped  stale pid file: {clean(st.reason)}  [{st.provider}]"
    mark = click.style("○", fg="red")
    last = f"  (last: {clean(st.reason)})" if st.reason else ""
    return f"{mark} stopped{last}  [{st.provider}]"


def _emit(ctx: Ctx, outcome: Outcome) -> None:
    if ctx.json:
        write_json(outcome.to_json())
        return
    click.echo(_line(outcome.status))
    if outcome.detail:
        click.echo(clean(outcome.detail), err=True)


@click.group("services")
def services() -> None:
    """The background server (fleet-hive serve) as a service: up, down, status, logs.

    Run by the provider named in .fleet/config.yaml (services.provider; local: a
    detached process of this machine, loopback only). Its pid file and timestamped log
    are in .fleet/local/.
    """


@services.command("up")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port to listen on (default: services.port in config.yaml, else 8765; "
                   "0: any free port).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None,
              help="Seconds to wait for the server to answer (default 20); exit 4 past it.")
@json_option
@pass_ctx
def up_cmd(ctx: Ctx, port: int | None, timeout: float | None) -> None:
    """Start the server in the background and return once it answers its health check.

    Idempotent: if it already runs, says so and exits 0. A stale pid file (a crashed
    server) is replaced.
    """
    _emit(ctx, _provider(ctx).start(port=port, timeout=timeout))


@services.command("down")
@click.option("--grace", type=click.FloatRange(min=0), default=None,
              help="Seconds between SIGTERM and SIGKILL (default 2).")
@json_option
@pass_ctx
def down_cmd(ctx: Ctx, grace: float | None) -> None:
    """Stop the server gracefully (SIGTERM, then SIGKILL after the grace period) and
    remove its pid file. Not running: says so and exits 0."""
    _emit(ctx, _provider(ctx).stop(grace=grace))


@services.command("status")
@json_option
@pass_ctx
def status_cmd(ctx: Ctx) -> None:
    """running (pid, url, version, uptime) or stopped; a pid file whose process is gone
    or was replaced by another program is reported as stale, with why."""
    st = _provider(ctx).status()
    if ctx.json:
        write_json(st.to_json())
    else:
        click.echo(_line(st))


@services.command("logs")
@click.option("--tail", type=click.IntRange(min=0), default=None,
              help="Only the last N lines.")
@json_option
@pass_ctx
def logs_cmd(ctx: Ctx, tail: int | None) -> None:
    """The server's log, one timestamped line each (oldest first)."""
    lines = _provider(ctx).logs(tail)
    if ctx.json:
        write_json([line.to_json() for line in lines])
        return
    for line in lines:
        click.echo(clean(f"{line.time} {line.text}" if line.time else line.text))
