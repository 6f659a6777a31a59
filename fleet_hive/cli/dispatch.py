"""``dispatch``: run a mission's sorties through agent processes (``docs/agents.md``)."""

from __future__ import annotations

import os

import click

from ..kernel.errors import EXIT_INTERRUPTED, FleetHiveError
from . import Ctx, json_option, pass_ctx
from .output import write_json


@click.command("dispatch")
@click.argument("mission_id", metavar="MISSION")
@click.option("--workers", type=click.IntRange(1, 256), default=4, show_default=True,
              help="How many agents run at once.")
@click.option("--agent", "agent", default=None, metavar="COMMAND",
              help="The agent command, run through the shell once per try with the prompt "
                   "on stdin (env FLEET_AGENT).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Stop a try's whole process group after this long.")
@click.option("--retries", type=click.IntRange(0, 100), default=1, show_default=True,
              help="Tries after the first when an agent fails.")
@click.option("--backoff", type=click.FloatRange(min=0), default=1.0, show_default=True,
              metavar="SECONDS", help="Wait before the first retry (doubled each time).")
@click.option("--isolation", type=click.Choice(["shared", "worktree"]), default=None,
              help="Where agents work: the repository itself (shared, the default; config "
                   "`isolation`) or a git worktree and branch per try, merged once verified "
                   "(worktree).")
@click.option("--verify", default=None, metavar="COMMAND",
              help="With --isolation worktree: a command that must pass in the try's "
                   "worktree before its merge (config `verify`), e.g. 'python -m pytest -q'.")
@click.option("--base", default=None, metavar="BRANCH",
              help="With --isolation worktree: the branch merged into (default: the one "
                   "checked out in the repository).")
@click.option("--cleanup", is_flag=True,
              help="Remove MISSION's kept branches and leftover worktrees, then exit.")
@json_option
@pass_ctx
def dispatch_cmd(ctx: Ctx, mission_id: str, workers: int, agent: str | None,
                 timeout: float | None, retries: int, backoff: float, isolation: str | None,
                 verify: str | None, base: str | None, cleanup: bool) -> None:
    """Run MISSION's ready sorties through an agent command, up to --workers at once, in
    dependency order: each sortie is claimed and its files reserved in one decision before
    its agent starts, so sorties whose files overlap never run together.

    The agent gets the sortie's prompt on stdin and FLEET_MISSION_ID, FLEET_SORTIE_ID,
    FLEET_SPECIALIST, FLEET_ACTOR, FLEET_REPO in its environment. Exit 0 completes the
    sortie; anything else fails the try (retried with backoff, then failed, with an error
    checkpoint). Exit code 1 when a sortie failed, 130 when interrupted (running agents
    are stopped and their sorties re-queued).

    With --isolation worktree each try runs in its own git worktree (FLEET_WORKTREE) on
    the branch fleet/MISSION/SORTIE; exit 0 commits what it left, checks that it changed
    only its reserved files, runs --verify there and merges through a queue, one merge at
    a time (re-verified when the base moved). The sortie completes only once merged; a
    refused change fails the try and keeps its branch until --cleanup (docs/dispatch.md).

    With --json, one JSON object per line as things happen (sortie_started,
    sortie_progressed, sortie_completed, sortie_failed, sortie_retried, verify_started,
    verify_passed, verify_failed, merge_queued, merged, merge_conflict,
    mission_completed, dispatch_finished).
    """
    from ..dispatch.model import AGENT_ENV, Options, parse_size
    from .progress import renderer

    hive = ctx.hive()
    cfg = hive.config
    if cleanup:
        done = hive.dispatch.cleanup(mission_id, worktree_dir=cfg.worktree_dir, base=base)
        removed = done["removed"]
        if ctx.json:
            write_json(done)
        else:
            click.echo(f"mission {done['mission_id']}: removed {len(removed['branches'])} "
                       f"branch(es), {len(removed['worktrees'])} worktree(s)"
                       + "".join(f"\n  {x}" for x in removed["branches"]
                                 + removed["worktrees"]))
        return
    command = agent if agent is not None else os.environ.get(AGENT_ENV, "")
    isolation = isolation or cfg.isolation
    worktree = isolation == "worktree"
    options = Options(agent=command, workers=workers, timeout=timeout, retries=retries,
                      backoff=backoff, isolation=isolation,
                      verify=(verify or cfg.verify) if worktree else verify,
                      base=base, verify_after_merge=cfg.verify_after_merge,
                      worktree_dir=cfg.worktree_dir,
                      disk_budget=parse_size(cfg.worktree_disk_budget),
                      keep_failed_branches=cfg.keep_failed_branches)
    environ = _agent_environ()
    show = renderer(ctx.json)
    try:
        summary = hive.dispatch.run(mission_id, options, environ=environ,
                                    on_progress=show)
    finally:
        show.close()
    if summary.interrupted:
        return EXIT_INTERRUPTED  # type: ignore[return-value]
    if not summary.ok:
        failed = ", ".join(summary.failed[:5]) or "none"
        raise _Failed(
            f"mission {summary.mission_id}: {len(summary.failed)} sortie(s) failed "
            f"({failed}), {len(summary.waiting)} not run",
            code="sorties_failed",
            hint="see the logs in .fleet/local/dispatch/logs/; `fleet-hive sortie retry ID` "
                 "then dispatch again")


class _Failed(FleetHiveError):
    """Some sorties failed: with --json the error is the stream's last line."""

    json_lines = True


def _agent_environ() -> dict[str, str]:
    """Our environment for the agents, with ``fleet-hive`` on PATH (the one running
    this, when PATH would find none: a virtualenv not activated)."""
    import shutil
    import sys

    env = dict(os.environ)
    scripts = os.path.dirname(sys.executable)
    if shutil.which("fleet-hive", path=env.get("PATH")) is None and \
            os.path.exists(os.path.join(scripts, "fleet-hive")):
        env["PATH"] = os.pathsep.join(filter(None, [scripts, env.get("PATH")]))
    return env
