"""The fast path: ordinary invocations of :mod:`.spec` commands, parsed without click.

:func:`plan` understands the well-formed invocations (global ``-C DIR``, ``--actor A`` /
``FLEET_ACTOR``, ``--json`` before or after the command, ``--opt value``, ``--opt=value``,
flags, repeated options, arguments, ``--``) and returns the call to make; for anything
else — ``--help``, ``--version``, an unknown option, a missing or bad value, a value that
starts with ``-``, too many arguments, a command that is not declared with :mod:`.spec` —
it returns None and the invocation goes to click (:mod:`.clickapp`), built from the same
declarations, which prints what it always printed. It may only ever say less than click,
never something else.

``FLEET_HIVE_NO_FAST=1`` turns it off (every invocation through click): for debugging, and
for the tests that compare the two.
"""

from __future__ import annotations

import codecs
import errno
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from . import COMMANDS, Ctx, spec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_GLOBAL_DIRECTORY = spec.Param("option", ("-C", "directory"),
                               {"type": spec.Path(file_okay=False)})  # a str


def _misconfigured(stream: Any) -> bool:
    """click re-wraps a stream whose encoding is ASCII: leave such a terminal to click."""
    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name == "ascii"
    except LookupError:
        return False


def plan(args: Sequence[str], ctx: Ctx) -> Callable[[], Any] | None:
    """The call that runs ``args`` exactly as click would, or None to leave it to click."""
    if os.environ.get("FLEET_HIVE_NO_FAST") or os.environ.get("_FLEET_HIVE_COMPLETE") \
            or _misconfigured(sys.stdout) or _misconfigured(sys.stderr):
        return None
    directory: str | None = None
    actor: str | None = None
    as_json = False
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        if arg == "--json":
            as_json = True
        elif arg in ("-C", "--actor") and i + 1 < len(args) and not args[i + 1].startswith("-"):
            i += 1
            if arg == "-C":
                directory = args[i]
            else:
                actor = args[i]
        elif arg.startswith("--actor="):
            actor = arg[len("--actor="):]
        else:
            return None
        i += 1
    if i == len(args) or args[i] not in COMMANDS:
        return None
    module, attr = COMMANDS[args[i]].split(":")
    target = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
    i += 1
    if isinstance(target, spec.Group):
        if i == len(args) or args[i] not in target.commands:
            return None
        target = target.commands[args[i]]
        i += 1
    if not isinstance(target, spec.Command):
        return None
    parsed = _parse(target, args[i:])
    if parsed is None:
        return None
    params, sub_json = parsed
    if actor is None:
        actor = os.environ.get("FLEET_ACTOR") or None
    try:
        cwd = None if directory is None else _GLOBAL_DIRECTORY.convert(directory)
    except ValueError:
        return None
    ctx.cwd = os.path.join(os.getcwd(), cwd) if cwd else os.getcwd()  # Path.absolute()
    ctx.actor = actor
    ctx.json = ctx.json or as_json or sub_json
    body = target.body

    def call() -> Any:
        try:
            return body(ctx, **params)
        except OSError as e:  # what click's main does with a closed stdout
            if e.errno != errno.EPIPE:
                raise
            sys.stdout = _Pacified(sys.stdout)
            sys.stderr = _Pacified(sys.stderr)
            sys.exit(1)
        except (EOFError, KeyboardInterrupt):
            sys.stderr.write("\n")  # click closes the terminal's ^C echo
            sys.stderr.flush()
            raise KeyboardInterrupt from None

    return call


def _parse(cmd: spec.Command, args: Sequence[str]) -> tuple[dict[str, Any], bool] | None:
    """The command's parameter values from ``args``, or None where click must answer."""
    by_opt = {opt: p for p in cmd.params for opt in p.opts}
    given: dict[str, Any] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positional.extend(args[i:])
            break
        if not arg.startswith("-"):
            positional.append(arg)
            continue
        name, eq, value = arg.partition("=")
        param = by_opt.get(name) if name.startswith("--") else None
        if param is None:
            return None
        if param.is_flag:
            if eq:
                return None
            given[param.name] = True
            continue
        if not eq:
            if i == len(args) or args[i].startswith("-"):
                return None
            value = args[i]
            i += 1
        try:
            converted = param.convert(value)
        except ValueError:
            return None
        if param.multiple:
            given[param.name] = (*given.get(param.name, ()), converted)
        else:
            given[param.name] = converted
    params: dict[str, Any] = {}
    as_json = False
    for param in cmd.params:
        if param.kind == "argument":
            if param.nargs == -1:
                values, positional = positional, []
            elif positional:
                values = [positional.pop(0)]
            else:
                values = []
            if not values and param.required:
                return None
            try:
                converted_values = tuple(param.convert(v) for v in values)
            except ValueError:
                return None
            params[param.name] = converted_values if param.nargs == -1 else \
                (converted_values[0] if converted_values else None)
            continue
        if param.name in given:
            value = given[param.name]
        elif param.envvar and os.environ.get(param.envvar):
            try:
                value = param.convert(os.environ[param.envvar])
            except ValueError:
                return None
            if param.multiple:
                return None  # click splits the variable: leave it to click
        elif param.required:
            return None
        else:
            value = param.default
        if param.json:
            as_json = bool(value)
        elif param.expose:
            params[param.name] = value
    if positional:
        return None
    return params, as_json


class _Pacified:
    """click's wrapper for a stream whose reader went away: flushing it is not an error."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as e:
            if e.errno != errno.EPIPE:
                raise

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.wrapped, attr)
