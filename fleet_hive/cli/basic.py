"""``init``, ``index status|rebuild`` and ``verify``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from . import Ctx, json_option, pass_ctx
from .output import clean, info, write_json


@click.command("init")
@json_option
@pass_ctx
def init_cmd(ctx: Ctx) -> None:
    """Create .fleet/ in this git repository (safe to run again)."""
    from ..app.hive import init

    existed = False
    from ..kernel.layout import find_git_root

    root = find_git_root(ctx.cwd)
    if root is not None:
        existed = (root / ".fleet").is_dir()
    hive = init(ctx.cwd, actor=ctx.actor)
    ctx._hive = hive
    result = {"root": str(hive.root), "fleet": str(hive.layout.fleet),
              "writer": hive.events.writer_id(), "created": not existed}
    if ctx.json:
        write_json(result)
    else:
        verb = "Created" if not existed else "Already initialized:"
        info(f"{verb} {hive.layout.fleet} (writer {result['writer']})")


@click.group("index")
def index() -> None:
    """The SQLite index cache (.fleet/.cache/index.sqlite): disposable, rebuilt from the log."""


@index.command("status")
@json_option
@pass_ctx
def index_status(ctx: Ctx) -> None:
    """Show whether the cache is up to date, and how big it is."""
    status = ctx.hive().index.status()
    if ctx.json:
        write_json(status.to_json())
        return
    state = "fresh" if status.fresh else "was stale (caught up now)"
    click.echo(f"index      {status.path}\nevents     {status.events}\nsegments   "
               f"{status.segments}\nlatest seq {status.latest_seq}\nstate      {state}\n"
               f"size       {status.size_bytes} bytes")
    if status.in_memory:
        click.echo(f"in memory  {status.in_memory}")
    if status.problem_count:
        click.echo(f"integrity  {status.problem_count} problem(s) in the event log "
                   "(run `fleet-hive verify` for every problem and its fix)")
        for p in status.problems:
            where = f"{p['path']} line {p['line']}" if p.get("line") else p["path"]
            click.echo(f"  {where}: {p['message']}")


@index.command("rebuild")
@json_option
@pass_ctx
def index_rebuild(ctx: Ctx) -> None:
    """Read the whole log into a fresh cache (seq numbers keep growing)."""
    hive = ctx.hive()
    started = time.perf_counter()
    show = sys.stderr.isatty() and not ctx.json
    if show:
        with click.progressbar(length=1, label="rebuilding index", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            count = hive.index.rebuild(progress)
    else:
        count = hive.index.rebuild()
    result = {"events": count, "latest_seq": hive.index.latest_seq(),
              "seconds": round(time.perf_counter() - started, 3)}
    if ctx.json:
        write_json(result)
    else:
        info(f"Indexed {count} events in {result['seconds']} s")


@click.command("verify")
@click.option("--repair", is_flag=True,
              help="Regenerate derived files (snapshots) that disagree with the log.")
@json_option
@pass_ctx
def verify_cmd(ctx: Ctx, repair: bool) -> None:
    """Check the log's integrity: JSON, envelopes, torn lines, duplicate ids, gaps in n,
    committed lines changed or removed and committed segments missing (against git's HEAD),
    and the derived files (snapshots, the lock manifest, the index) against the log.

    Exits 1 when any error is found (with --json: the error object, the problems inside);
    warnings (a torn tail left by a crash) do not fail. The log itself is never changed,
    not even by --repair.
    """
    from ..app.verify import failure, verify

    ctx.reports_integrity = True  # every problem is listed here: no warning about them at exit
    report = verify(ctx.hive(), repair=repair)
    if not ctx.json:
        for p in report.problems:
            click.echo(clean(f"{p.severity}: {p.text()} [{p.kind}]"))
        status = "ok" if report.ok else "FAILED"
        click.echo(f"verify {status}: {report.events} events in {report.segments} segments, "
                   f"{len(report.problems)} problem(s)")
    if not report.ok:
        raise failure(report)
    if ctx.json:
        write_json(report.to_json())


@click.command("demo")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@json_option
@pass_ctx
def demo_cmd(ctx: Ctx, directory: Path | None) -> None:
    """Run a whole mission end to end in a scratch repository (DIR, or a temporary one).

    A small codebase gets a mission of six sorties with dependencies, dispatched to
    built-in demonstration agents (real processes, three at a time) that edit the code and
    report progress; one fails once and succeeds on its retry. .fleet/ is committed,
    verified, and the mission's pull-request history printed.
    """
    from ..app.demo import run_demo
    from . import COMMANDS
    from .dispatch import _agent_environ
    from .progress import Renderer, renderer

    say = (lambda line: None) if ctx.json else info
    show = Renderer() if ctx.json else renderer(False)  # --json: the result says it all
    try:
        result = run_demo(directory, say=say, on_progress=show,
                          mail="mail" in COMMANDS, environ=_agent_environ())
    finally:
        show.close()
    if ctx.json:
        write_json(result)
        return
    click.echo()
    click.echo(result["history_markdown"])
    info(f"Explore it: fleet-hive -C {result['directory']} status")
