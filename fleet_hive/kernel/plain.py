"""Plain data classes without :mod:`dataclasses`.

``import dataclasses`` pulls in ``inspect`` (and ``ast``, ``dis``, ``tokenize``), and each
``@dataclass`` compiles its methods with ``exec`` when its module is imported: together
about 10 ms on every read command, which builds a handful of these objects. So the classes
on read paths write their ``__init__`` by hand, list their fields in ``__slots__`` (and
``_fields``, in order), and take equality, ``repr`` and :meth:`Plain.replace` from here:
the behaviour of ``@dataclass`` (``frozen=True`` for :class:`Frozen`), for a fraction of a
millisecond.

Immutable records built by the hundred thousand (events) are tuples with named fields
instead (:func:`tuple_fields`): a ``typing.NamedTuple`` compiles its ``__new__`` with
``exec`` when its module is imported, and a :class:`Frozen` ``__init__`` pays an
``object.__setattr__`` per field.
"""

from __future__ import annotations

from operator import itemgetter

from .typenames import TypeVar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, NoReturn, Self

_T = TypeVar("_T", bound=type)


class Plain:
    """Equality (same class, equal fields), ``repr`` and ``replace`` over ``_fields``.
    Mutable, so unhashable, like a ``@dataclass``."""

    __slots__ = ()
    #: The fields in constructor order (for a slotted class, its ``__slots__``).
    _fields: ClassVar[tuple[str, ...]] = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    __hash__: ClassVar[None] = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (what ``dataclasses.replace`` does)."""
        values = {f: getattr(self, f) for f in self._fields}
        values.update(changes)
        return type(self)(**values)


class Frozen(Plain):
    """:class:`Plain`, immutable and hashable (a ``@dataclass(frozen=True)``). Its
    ``__init__`` sets fields with ``object.__setattr__``."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen "
                             f"{type(self).__name__}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"cannot delete field {name!r} of a frozen "
                             f"{type(self).__name__}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(getattr(self, f) for f in self._fields))


#: ``object.__setattr__``, for the ``__init__`` of a :class:`Frozen` class.
setfield = object.__setattr__


try:  # the C accessor of collections.namedtuple
    from _collections import _tuplegetter  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - not CPython
    def _tuplegetter(index: int, doc: str | None) -> Any:
        return property(itemgetter(index), doc=doc)


def tuple_fields(cls: _T) -> _T:
    """Give a ``tuple`` subclass an attribute per name in its ``_fields`` (the ``i``-th
    item), as ``collections.namedtuple`` does. The class writes ``__new__`` by hand and
    declares the attributes' types under ``TYPE_CHECKING``."""
    for i, name in enumerate(cls.__dict__["_fields"]):
        setattr(cls, name, _tuplegetter(i, None))
    return cls
