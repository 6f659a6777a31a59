"""The full click application: help, usage errors, and every invocation the fast parser
(:mod:`.fast`) leaves to it. Imported only then.

Commands declared with :mod:`.spec` become click commands through :func:`to_click`, which
replays their declarations as the click decorators they mirror; plain click modules in
``COMMANDS`` are used as they are.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path

import click

from ..kernel.errors import EXIT_INTERRUPTED, EXIT_USAGE
from . import COMMANDS, Ctx, spec
from .output import write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_TYPES: dict[type[Any], Any] = {spec.IntRange: click.IntRange, spec.FloatRange: click.FloatRange,
                                spec.Choice: click.Choice, spec.Path: click.Path}


def _click_type(type_: Any) -> Any:
    if type(type_) not in _TYPES:
        return type_
    if isinstance(type_, spec.Choice):
        return click.Choice(type_.choices)
    if isinstance(type_, spec.Path):
        return click.Path(file_okay=type_.file_okay, dir_okay=type_.dir_okay,
                          path_type=type_.path_type)
    return _TYPES[type(type_)](min=type_.min, max=type_.max)


def _command(cmd: spec.Command) -> click.Command:
    body = cmd.body

    def callback(**params: Any) -> Any:
        ctx = click.get_current_context().find_object(Ctx)
        if ctx is None:
            raise RuntimeError("fleet-hive commands run under fleet_hive.cli.main")
        try:
            return body(ctx, **params)
        except spec.UsageError as e:
            raise click.UsageError(str(e)) from None

    callback.__doc__ = cmd.help
    callback.__name__ = body.__name__
    decorated: Any = callback
    for param in reversed(cmd.params):  # the decorators again, innermost first
        if param.json:
            decorated = json_option(decorated)
            continue
        attrs = dict(param.attrs)
        if "type" in attrs:
            attrs["type"] = _click_type(attrs["type"])
        make: Any = click.option if param.kind == "option" else click.argument
        decorated = make(*param.decls, **attrs)(decorated)
    make = click.command
    made: click.Command = make(cmd.name, **cmd.attrs)(decorated)
    return made


def to_click(obj: spec.Command | spec.Group | click.Command) -> click.Command:
    """The click command for a declaration (made once), or a click command as it is."""
    if isinstance(obj, click.Command):
        return obj
    made: click.Command | None = getattr(obj, "_click", None)
    if made is None:
        if isinstance(obj, spec.Group):
            group = click.group(obj.name)(obj.body)
            for sub in obj.commands.values():
                group.add_command(_command(sub))
            made = group
        else:
            made = _command(obj)
        obj._click = made
    return made


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
            package = __name__.rpartition(".")[0]
            return to_click(getattr(importlib.import_module(f"{package}.{module}"), attr))
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


def invoke(args: Sequence[str], obj: Ctx) -> Any:
    """Run ``args`` through click; click's own outcomes (usage errors, ``--help``, an
    abort) become exit codes here, printed as click prints them."""
    as_json = "--json" in args
    try:
        return cli.main(args=list(args), prog_name="fleet-hive", standalone_mode=False,
                        obj=obj)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        if as_json:
            write_json({"error": {"code": "usage", "message": e.format_message(),
                                  "hint": "see --help"}})
        e.show()
        return e.exit_code if e.exit_code != 1 else EXIT_USAGE
    except click.Abort:
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
