"""Commands declared as plain data, without importing click.

``command``, ``group``, ``argument`` and ``option`` take exactly the arguments of their
click namesakes and record them; the command body stays an ordinary function
``body(ctx, **params)``. Two things read the records: :mod:`.fast`, which parses the
ordinary invocations itself (no click import: start-up is what agents feel), and
:func:`fleet_hive.cli.clickapp.to_click`, which replays them as click decorators for
everything else (help, errors, unusual spellings), so click prints what it always did.
One declaration per option; nothing is written twice.

Only what the fast parser understands may be declared: an unknown attribute is an error
at import, not a silent difference between the two parsers.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class UsageError(Exception):
    """A usage error a command body found before it changed anything (before it opened
    the hive): the invocation is answered by click, which prints it as it prints its own."""


class IntRange:
    def __init__(self, min: int | None = None, max: int | None = None) -> None:
        self.min, self.max = min, max

    def convert(self, value: Any) -> int:
        number = int(value)
        if (self.min is not None and number < self.min) or \
                (self.max is not None and number > self.max):
            raise ValueError(value)
        return number


class FloatRange:
    def __init__(self, min: float | None = None, max: float | None = None) -> None:
        self.min, self.max = min, max

    def convert(self, value: Any) -> float:
        number = float(value)
        if (self.min is not None and number < self.min) or \
                (self.max is not None and number > self.max):
            raise ValueError(value)
        return number


class Choice:
    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = tuple(choices)

    def convert(self, value: str) -> str:
        if value not in self.choices:
            raise ValueError(value)
        return value


class Path:
    """``click.Path`` with its defaults (need not exist; readable if it does)."""

    def __init__(self, *, file_okay: bool = True, dir_okay: bool = True,
                 path_type: type[Any] | None = None) -> None:
        self.file_okay, self.dir_okay, self.path_type = file_okay, dir_okay, path_type

    def convert(self, value: str) -> Any:
        try:
            st = os.stat(value)
        except OSError:
            pass  # a path that does not exist yet is fine (click's exists=False)
        else:
            if (not self.file_okay and stat.S_ISREG(st.st_mode)) or \
                    (not self.dir_okay and stat.S_ISDIR(st.st_mode)) or \
                    not os.access(value, os.R_OK):
                raise ValueError(value)
        return value if self.path_type is None else self.path_type(value)


_SCALARS: dict[Any, Callable[[str], Any]] = {None: str, str: str, int: int, float: float}

_OPTION_ATTRS = {"type", "is_flag", "multiple", "required", "default", "envvar", "metavar",
                 "help", "show_default", "expose_value", "is_eager"}
_ARGUMENT_ATTRS = {"type", "required", "nargs", "metavar", "default"}


class Param:
    """One ``click.option``/``click.argument`` call, and what the fast parser needs of it."""

    def __init__(self, kind: str, decls: tuple[str, ...], attrs: dict[str, Any],
                 json: bool = False) -> None:
        allowed = _OPTION_ATTRS if kind == "option" else _ARGUMENT_ATTRS
        unknown = set(attrs) - allowed
        if unknown:
            raise TypeError(f"{decls}: the fast parser does not know {sorted(unknown)}")
        self.kind, self.decls, self.attrs, self.json = kind, decls, attrs, json
        type_ = attrs.get("type")
        if type_ not in _SCALARS and not hasattr(type_, "convert"):
            raise TypeError(f"{decls}: unsupported type {type_!r}")
        self.type = type_
        self.is_flag = bool(attrs.get("is_flag"))
        self.multiple = bool(attrs.get("multiple"))
        self.nargs: int = attrs.get("nargs", 1)
        self.envvar: str | None = attrs.get("envvar")
        self.expose = attrs.get("expose_value", True)
        default = attrs.get("default")
        if default is not None and type_ is None and not isinstance(default, str):
            raise TypeError(f"{decls}: give a type for a non-str default")
        if kind == "argument":
            self.name = decls[0].replace("-", "_").lower()
            self.opts: tuple[str, ...] = ()
            self.required = attrs.get("required", "default" not in attrs and self.nargs > 0)
        else:
            self.opts = tuple(d for d in decls if not d.isidentifier())
            names = [d for d in decls if d.isidentifier()]
            if names:
                self.name = names[0]
            else:  # click: the first long option, else the first one
                longest = sorted(self.opts, key=lambda o: -len(o) + len(o.lstrip("-")))[0]
                self.name = longest.lstrip("-").replace("-", "_").lower()
            self.required = bool(attrs.get("required"))
        if self.is_flag:
            self.default: Any = bool(default)
        elif self.multiple or self.nargs == -1:
            self.default = ()
        else:
            self.default = None if default is None else self.convert(default)

    def convert(self, value: Any) -> Any:
        """``value`` as click would pass it; ValueError if click would refuse it."""
        scalar = _SCALARS.get(self.type)
        if scalar is not None:
            return scalar(value)
        return self.type.convert(value)  # type: ignore[union-attr]


Body = Callable[..., "Any"]


class Command:
    _click: Any = None  # the click command made of it, once made

    def __init__(self, name: str, body: Body, attrs: dict[str, Any]) -> None:
        self.name, self.body, self.attrs = name, body, attrs
        self.help = body.__doc__
        self.params: list[Param] = list(reversed(getattr(body, "__fh_params__", [])))
        variadic = [p for p in self.params if p.kind == "argument" and p.nargs == -1]
        arguments = [p for p in self.params if p.kind == "argument"]
        if variadic and arguments[-1] is not variadic[0]:
            raise TypeError(f"{name}: only the last argument may take many values")


class Group:
    _click: Any = None

    def __init__(self, name: str, body: Body) -> None:
        self.name, self.body, self.help = name, body, body.__doc__
        self.commands: dict[str, Command] = {}

    def command(self, name: str, **attrs: Any) -> Callable[[Body], Command]:
        def decorate(body: Body) -> Command:
            cmd = self.commands[name] = command(name, **attrs)(body)
            return cmd

        return decorate


def command(name: str, **attrs: Any) -> Callable[[Body], Command]:
    """``click.command(name, short_help=...)``; the body receives ``(ctx, **params)``."""
    if set(attrs) - {"short_help"}:
        raise TypeError(f"{name}: unsupported {sorted(attrs)}")
    return lambda body: Command(name, body, attrs)


def group(name: str) -> Callable[[Body], Group]:
    """``click.group(name)``: the function only gives the help text."""
    return lambda body: Group(name, body)


def _memo(param: Param) -> Callable[[Body], Body]:
    def decorate(body: Body) -> Body:
        body.__dict__.setdefault("__fh_params__", []).append(param)
        return body

    return decorate


def argument(*decls: str, **attrs: Any) -> Callable[[Body], Body]:
    return _memo(Param("argument", decls, attrs))


def option(*decls: str, **attrs: Any) -> Callable[[Body], Body]:
    return _memo(Param("option", decls, attrs))


def json_option(body: Body) -> Body:
    """``--json`` on a subcommand, equivalent to the global flag."""
    return _memo(Param("option", ("--json", "json_"), {
        "is_flag": True, "expose_value": False, "is_eager": True,
        "help": "Print one JSON document on stdout."}, json=True))(body)
