"""The ``fleet-hive`` command line: thin click commands over :class:`fleet_hive.app.hive.Hive`.

Only this package imports click. Command groups live in their own modules and are imported
only when invoked, so ``fleet-hive ready --json`` never pays for what it does not run.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..app.hive import Hive

#: command name -> "module:attribute" (relative to this package), loaded on use.
COMMANDS: dict[str, str] = {
    "init": "basic:init_cmd",
    "events": "events:events",
    "index": "basic:index",
    "verify": "basic:verify_cmd",
    "demo": "basic:demo_cmd",
    "lock": "locks:lock",
    "mission": "missions:mission",
    "sortie": "missions:sortie",
    "ready": "missions:ready_cmd",
    "status": "status:status_cmd",
    "commit": "gitcmds:commit_cmd",
    "sync": "gitcmds:sync_cmd",
    "history": "gitcmds:history_cmd",
    "hooks": "gitcmds:hooks",
    "recover": "recovery:recover_cmd",
    "context": "recovery:context_cmd",
    "checkpoint": "checkpoints:checkpoint",
}


@dataclass
class Ctx:
    """What every command needs, resolved once: where, who, and how to print."""

    cwd: Path
    actor: str | None
    json: bool = False
    #: The command reports the log's integrity itself (``verify``): no warning at exit.
    reports_integrity: bool = False
    _hive: Hive | None = field(default=None, repr=False)

    def hive(self) -> Hive:
        if self._hive is None:
            from ..app.hive import open as open_hive

            self._hive = open_hive(self.cwd, actor=self.actor)
        return self._hive


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            command: click.Command = getattr(importlib.import_module(f"{__name__}.{module}"),
                                             attr)
            return command
        return super().get_command(ctx, name)


def json_option(fn: Any) -> Any:
    """``--json`` on a subcommand, equivalent to the global flag."""

    def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(Ctx).json = True

    return click.option("--json", "json_", is_flag=True, expose_value=False, is_eager=True,
                        callback=set_json, help="Print one JSON document on stdout.")(fn)


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Run as if started in this directory.")
@click.option("--actor", envvar="FLEET_ACTOR", default=None,
              help="Who is acting (env FLEET_ACTOR; default: git user name, else OS user).")
@click.option("--json", "json_", is_flag=True, help="Print one JSON document on stdout.")
@click.version_option(package_name="fleet-hive", prog_name="fleet-hive")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None, actor: str | None, json_: bool) -> None:
    """fleet-hive: coordinate coding agents on one repository, with the history in git.

    Every command takes --json (before or after the command name) and then prints exactly
    one JSON document on stdout; errors are {"error": {"code", "message", "hint"}}.
    Exit codes: 0 ok, 1 error, 2 usage, 3 conflict, 4 timeout, 70 internal, 130 interrupted.
    """
    obj = ctx.ensure_object(Ctx)
    obj.cwd = (directory or Path(os.getcwd())).absolute()
    obj.actor = actor
    obj.json = obj.json or json_


def main(argv: list[str] | None = None) -> None:
    from .output import run

    args = sys.argv[1:] if argv is None else argv
    ctx_obj = Ctx(Path(os.getcwd()), None)

    def invoke() -> Any:
        return cli.main(args=args, prog_name="fleet-hive", standalone_mode=False, obj=ctx_obj)

    code = run(invoke, args, on_crash=lambda e, text: ctx_obj._hive is not None
               and ctx_obj._hive.checkpoints.on_exception(e, text))
    hive = ctx_obj._hive
    if hive is not None:
        from .output import warn

        if "uow" in hive.__dict__:  # the command wrote: say what fell behind, if anything
            for problem in hive.uow.warnings:
                warn(problem)
        if "index" in hive.__dict__ and hive.index.opened and not ctx_obj.reports_integrity:
            from ..app.status import index_warnings

            for notice in index_warnings(hive.index):
                warn(notice)
        hive.close()
    sys.exit(code)
