"""The few names of :mod:`typing` that run, for modules every command imports.

``import typing`` costs a process ~2.5 ms, and a command imports it for nothing: with
``from __future__ import annotations`` no annotation is evaluated, so a module on the read
or write path imports typing's names under ``TYPE_CHECKING = False`` / ``if TYPE_CHECKING:``
(the type checker takes that branch, the interpreter never does). What is left are the
names that appear in ordinary code: a port declared as a ``Protocol``, a ``Generic`` base,
a ``TypeVar``, a ``cast``. The type checker sees them here as typing's own; at run time they
are the stand-ins below, which do what the interpreter needs of them (nothing checks a port
at run time: no ``runtime_checkable`` is used).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Generic as Generic
    from typing import Protocol as Protocol
    from typing import TypeVar as TypeVar
    from typing import cast as cast
else:
    class Protocol:
        """A port: a plain base class at run time."""

        __slots__ = ()

    class Generic:
        """``Generic[T]`` is the class itself at run time."""

        __slots__ = ()

        def __class_getitem__(cls, item):
            return cls

    def TypeVar(name, *constraints, bound=None):
        return name

    def cast(typ, value):
        return value

__all__ = ["Generic", "Protocol", "TypeVar", "cast"]
