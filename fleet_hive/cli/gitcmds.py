"""``commit``, ``sync``, ``history`` and ``hooks``: fleet-hive's git commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import Ctx, json_option, pass_ctx
from .output import clean, info, write_json


@click.command("commit")
@click.option("-m", "--message", default=None,
              help="Commit message (default: a summary of the new events).")
@json_option
@pass_ctx
def commit_cmd(ctx: Ctx, message: str | None) -> None:
    """Commit the .fleet/ changes onto the current branch, through dulwich.

    Only .fleet/ is committed: your staged changes stay staged and your working tree is
    untouched; no git command is run. The changes are validated first (event lines are
    append-only and valid). On a branch with no commits yet, the first commit holds only
    .fleet/. Refused on a detached HEAD and during a merge, rebase, cherry-pick, revert
    or bisect.
    """
    result = ctx.hive().git.commit(message)
    if ctx.json:
        write_json(result.to_json())
        return
    for warning in result.warnings:
        info(f"warning: {warning}")
    if result.commit is None:
        info("Nothing to commit in .fleet/")
    elif result.root:
        info(f"Created the first commit of branch {result.branch} ({result.commit[:12]}) with "
             f"only .fleet/ in it: {result.message}")
    else:
        info(f"[{result.branch} {result.commit[:12]}] {result.message}")


@click.command("sync")
@click.option("--remote", default="origin", show_default=True,
              help="The git remote to sync with.")
@json_option
@pass_ctx
def sync_cmd(ctx: Ctx, remote: str) -> None:
    """Commit .fleet/, fetch, merge the remote's .fleet/, and push (through dulwich).

    Event logs merge without conflicts by design; mission snapshots are regenerated from
    the merged log. Paths outside .fleet/ that only the remote changed are brought in if
    your copies are unmodified. A path changed on both sides, or a local change the
    remote would overwrite, stops the sync before anything changed (exit 3). A push that
    lost a race with another clone fetches and merges again.
    """
    result = ctx.hive().git.sync(remote)
    if ctx.json:
        write_json(result.to_json())
        return
    for warning in result.warnings:
        info(f"warning: {warning}")
    merged = {"up_to_date": "already up to date with", "ahead": "ahead of",
              "new_branch": "new on", "fast_forward": "fast-forwarded to",
              "merge": "merged with"}.get(result.merge, result.merge)
    line = f"{result.branch}: {merged} {remote}"
    if result.fetched_events:
        line += f", {result.fetched_events} new event(s) from the remote"
    if result.commits:
        line += f", {len(result.commits)} commit(s) made"
    line += ", pushed" if result.pushed else ", nothing to push"
    info(line)


@click.command("history")
@click.option("--mission", default=None, help="Only this mission (id or unique prefix).")
@click.option("--since", default=None,
              help="Start of the range (default: merge-base with the default branch, or the "
                   "root).")
@click.option("--until", default="HEAD", show_default=True, help="End of the range.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md",
              show_default=True, help="Markdown for a pull request, or JSON for tools.")
@json_option
@pass_ctx
def history_cmd(ctx: Ctx, mission: str | None, since: str | None, until: str,
                fmt: str) -> None:
    """The mission history between two commits, ready for a pull request description.

    Reads the events added to .fleet/events/ between the two commits: missions created
    or finished, sorties and their outcomes, who did what, conflicts and checkpoints.
    """
    from ..app.history import history, render_markdown

    result = history(ctx.hive(), since=since, until=until, mission=mission)
    if ctx.json or fmt == "json":
        write_json(result.to_json())
    else:
        click.echo(clean(render_markdown(result), multiline=True), nl=False)


@click.group("hooks")
def hooks() -> None:
    """git hooks that keep .fleet/ valid and the index fresh (install, uninstall, run)."""


@hooks.command("install")
@json_option
@pass_ctx
def hooks_install(ctx: Ctx) -> None:
    """Install the pre-commit, post-merge, post-checkout and post-rewrite hooks.

    Existing hooks are kept and run first (saved as NAME.fleet-hive-chained);
    core.hooksPath is respected. The post-* hooks regenerate the mission snapshots
    (git-ignored) after merges, checkouts and rewrites. Removes the snapshot merge driver
    an older version configured.
    """
    from ..app.hooks import install

    result = install(ctx.hive(), sys.executable)
    if ctx.json:
        write_json(result.to_json())
        return
    for name, action in result.hooks.items():
        info(f"{name}: {action}")
    info(f"hooks in {result.hooks_dir}")


@hooks.command("uninstall")
@json_option
@pass_ctx
def hooks_uninstall(ctx: Ctx) -> None:
    """Remove fleet-hive's hooks, restore the hooks they chained, remove the merge driver."""
    from ..app.hooks import uninstall

    result = uninstall(ctx.hive())
    if ctx.json:
        write_json(result.to_json())
        return
    for name, action in result.hooks.items():
        info(f"{name}: {action}")


@hooks.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("hook")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--hook-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the shim lives, to find the hook it chained (default: the "
                   "repository's hooks directory).")
@json_option
@pass_ctx
def hooks_run(ctx: Ctx, hook: str, args: tuple[str, ...], hook_dir: Path | None) -> None:
    """Run one hook as git would (the installed shims call this).

    HOOK is pre-commit, post-merge, post-checkout, post-rewrite or merge-snapshot. A hook
    that was installed before fleet-hive's (NAME.fleet-hive-chained) runs first, with the
    same arguments and stdin. pre-commit refuses invalid or edited .fleet/ lines (exit 1)
    and staged files another holder reserved exclusively (exit 3), and stops with the
    chained hook's exit status when it fails. Environment: FLEET_HOLDER names your holder
    (its reservations do not block you; default: the actor, FLEET_ACTOR);
    FLEET_SKIP_RESERVATIONS=1 skips the reservation check. The other hooks never fail.
    """
    from ..app.hive import Hive
    from ..app.hooks import run
    from ..kernel.layout import find_git_root

    root = find_git_root(ctx.cwd)
    assert root is not None
    hive = Hive(root, actor=ctx.actor)
    ctx._hive = hive
    outcome = run(hive, hook, list(args), dict(os.environ), hook_dir=hook_dir)
    if ctx.json:
        write_json(outcome.to_json())
    for message in outcome.messages:
        info(message)
    if outcome.exit_code:
        raise SystemExit(outcome.exit_code)
