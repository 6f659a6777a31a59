"""The event envelope as it is stored and read back.

Kept free of pydantic on purpose: read paths build thousands of these from index rows,
and must start fast. Validation of ``data`` against each type's pydantic model happens
on append (:mod:`fleet_hive.events.registry`); the envelope's own JSON Schema is exported
from :class:`fleet_hive.events.registry.EnvelopeModel`.
"""

from __future__ import annotations

from ..kernel.errors import InvalidInputError
from ..kernel.plain import tuple_fields
from ..kernel.textshapes import stream_name, type_name
from .upcasting import UPCASTERS, upcast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ENVELOPE_VERSION = 1

#: Keys every stored line carries, in the order they are written.
ENVELOPE_KEYS = (
    "id",
    "type",
    "stream",
    "clock",
    "writer",
    "n",
    "time",
    "actor",
    "causation_id",
    "correlation_id",
    "schema_version",
    "data",
)


def check_type_name(name: str) -> str:
    if not isinstance(name, str) or not type_name(name) or len(name) > 64:
        raise InvalidInputError(
            f"invalid event type {name!r}",
            hint="event types are past-tense snake_case, e.g. note_added or sortie_completed",
        )
    return name


def check_stream_name(stream: str) -> str:
    if (not isinstance(stream, str) or not stream_name(stream)
            or len(stream) > 200):
        raise InvalidInputError(
            f"invalid stream name {stream!r}",
            hint="a stream is <stream_type>:<id>, e.g. mission:01HX... (lowercase type, then ':')",
        )
    return stream



@tuple_fields
class Event(tuple["Any", ...]):
    """One stored event: immutable. ``seq`` is its local position in the index (None until
    indexed). A tuple with named fields, as a ``typing.NamedTuple`` would make it but
    written out: read paths build hundreds of thousands of these, and a frozen dataclass
    costs five times as much to construct; the class itself costs next to nothing to
    create (a ``NamedTuple`` compiles its ``__new__`` with ``exec`` at import)."""

    __slots__ = ()
    _fields = ("id", "type", "stream", "clock", "writer", "n", "time", "actor",
               "causation_id", "correlation_id", "schema_version", "data", "seq")

    if TYPE_CHECKING:
        id: str
        type: str
        stream: str
        clock: int
        writer: str
        n: int
        time: str
        actor: str
        causation_id: str | None
        correlation_id: str | None
        schema_version: int
        data: dict[str, Any]
        seq: int | None

    def __new__(cls, id: str, type: str, stream: str, clock: int, writer: str, n: int,
                time: str, actor: str, causation_id: str | None, correlation_id: str | None,
                schema_version: int, data: dict[str, Any], seq: int | None = None) -> Event:
        return tuple.__new__(cls, (id, type, stream, clock, writer, n, time, actor,
                                   causation_id, correlation_id, schema_version, data, seq))

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self, strict=True))
        return f"Event({fields})"

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)

    @property
    def order_key(self) -> tuple[int, str, int]:
        """The total order of ``storage.md`` 5: (clock, writer, n)."""
        return (self.clock, self.writer, self.n)

    @classmethod
    def from_dict(cls, d: dict[str, Any], seq: int | None = None) -> Event:
        version = d.get("schema_version", 1)
        data = d.get("data") or {}
        if (d["type"], version) in UPCASTERS:
            data, version = upcast(d["type"], version, data)
        return cls(d["id"], d["type"], d["stream"], d["clock"], d["writer"], d["n"], d["time"],
                   d.get("actor", ""), d.get("causation_id"), d.get("correlation_id"), version,
                   data, seq)

    def to_json(self) -> dict[str, Any]:
        """The ``event`` JSON shape of ``cli.md``."""
        return {
            "id": self.id,
            "seq": self.seq,
            "type": self.type,
            "stream": self.stream,
            "clock": self.clock,
            "writer": self.writer,
            "n": self.n,
            "time": self.time,
            "actor": self.actor,
            "causation_id": self.causation_id,
            "correlation_id": self.correlation_id,
            "schema_version": self.schema_version,
            "data": self.data,
        }


def envelope_problem(d: Any) -> str | None:
    """Why a parsed line is not a valid envelope, or None when it is. Runs once per line
    read, so the common case is one flat expression; the explanation is worked out only
    for a bad line."""
    try:
        if (type(d["id"]) is str and type(d["type"]) is str and type(d["stream"]) is str
                and type(d["clock"]) is int and type(d["writer"]) is str
                and type(d["n"]) is int and type(d["time"]) is str
                and type(d.get("data", _EMPTY)) is dict):
            return None
    except (KeyError, TypeError, AttributeError):
        pass  # not an envelope: explained below (try/except, not suppress(): hot path)
    if not isinstance(d, dict):
        return "line is not a JSON object"
    for key, kind in _REQUIRED:
        value = d.get(key)
        if type(value) is not kind:
            return f"field {key!r} missing or not {kind.__name__}"
    return "field 'data' is not an object"


_EMPTY: dict[str, Any] = {}
_REQUIRED = (
    ("id", str),
    ("type", str),
    ("stream", str),
    ("clock", int),
    ("writer", str),
    ("n", int),
    ("time", str),
)

