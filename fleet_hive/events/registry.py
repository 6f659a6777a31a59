"""The registry of event types: each type's pydantic model for ``data`` and its version.

Domain modules declare their types with :func:`event_type`. The registry names none of
them: whoever composes the application calls :func:`use_modules` with the modules to load
(``fleet_hive.app.capabilities`` holds the one list), and they are imported on the first
validation or export. Reading never needs this module (a stored event of an unknown or
future type is kept and returned as it is); appending does, because every ``data`` is
validated before it is written.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..kernel.errors import InvalidInputError
from .envelope import ENVELOPE_VERSION, check_type_name

#: Modules that declare event types (given by the composition root); imported on first use.
_modules: list[str] = ["fleet_hive.events.core_types"]


class EventData(BaseModel):
    """Base of every event's ``data`` model: unknown keys are refused, values are strict."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class EventType:
    name: str
    model: type[BaseModel]
    version: int
    description: str


_TYPES: dict[str, EventType] = {}
#: domain event types -> the use case that records them (see :func:`recorded_by`)
_RECORDED_BY: dict[str, str] = {}
_loaded = False


def event_type(name: str, *, version: int = 1) -> Callable[[type[BaseModel]], type[BaseModel]]:
    """Class decorator registering ``model`` as the ``data`` of event type ``name``."""
    check_type_name(name)

    def register(model: type[BaseModel]) -> type[BaseModel]:
        existing = _TYPES.get(name)
        if existing is not None and existing.model is not model:
            raise ValueError(f"event type {name!r} registered twice")
        doc = (model.__doc__ or "").strip().splitlines()
        _TYPES[name] = EventType(name, model, version, doc[0] if doc else "")
        return model

    return register


def recorded_by(use_cases: Mapping[str, str]) -> None:
    """Declare event types as *domain* types, each recorded only by its use case (named
    as the command to use, e.g. ``"`fleet-hive sortie complete` or hive.sorties.complete"``).

    A capability calls this for every type it declares: the use case checks the rules
    (transitions, claims, conflicts) and keeps derived files right, so a raw append of
    such a type (``hive.events.append``, ``events append``) is refused with that hint.
    Types nobody declares here (``note_added``, custom types) stay open to raw appends.
    """
    for name in use_cases:
        check_type_name(name)
    _RECORDED_BY.update(use_cases)


def use_case_of(name: str) -> str | None:
    """The use case that records domain event type ``name``; None for an open type."""
    _load()
    return _RECORDED_BY.get(name)


def use_modules(modules: Sequence[str]) -> None:
    """Declare the modules whose event types the registry serves (idempotent; a module
    already known is not imported again)."""
    global _loaded
    new = [m for m in modules if m not in _modules]
    if new:
        _modules.extend(new)
        _loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in _modules:
            importlib.import_module(module)
        _loaded = True


def known_types() -> dict[str, EventType]:
    _load()
    return dict(sorted(_TYPES.items()))


def get(name: str) -> EventType | None:
    _load()
    return _TYPES.get(name)


def validate_data(name: str, data: Any, *, custom: bool = False) -> tuple[dict[str, Any], int]:
    """Check ``data`` against the type's model; returns (JSON-ready data, schema_version).

    An unregistered type is refused unless ``custom`` is set, in which case ``data`` must
    merely be a JSON object (it is stored as given, with schema_version 1).
    """
    etype = _TYPES.get(name) if _loaded else get(name)
    if etype is None:
        check_type_name(name)
    if isinstance(data, Mapping):
        data = dict(data)
    else:
        raise InvalidInputError(
            f"event data must be a JSON object, got {type(data).__name__}",
            hint='pass an object, e.g. --data \'{"text": "hi"}\'',
        )
    if etype is None:
        if custom:
            return data, 1
        known = ", ".join(known_types())
        raise InvalidInputError(
            f"unknown event type {name!r}",
            hint=f"known types: {known}; use --custom (custom=True) for a type of your own",
        )
    try:
        model = etype.model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        raise InvalidInputError(
            f"invalid data for {name}: {where}: {first['msg']}",
            hint=f"see schemas/events/{name}.schema.json",
        ) from e
    return model.model_dump(mode="json", exclude_none=False), etype.version


class EnvelopeModel(BaseModel):
    """One line of an event segment (``storage.md`` 4)."""

    model_config = ConfigDict(extra="allow", title="fleet-hive event envelope")

    id: str = Field(description="random, time-sortable id (ULID); never derived from content")
    type: str = Field(pattern=r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$", description="past-tense")
    stream: str = Field(pattern=r"^[a-z][a-z0-9_]*:[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    clock: int = Field(ge=1, description="Lamport clock")
    writer: str = Field(description="random id of the writing clone")
    n: int = Field(ge=1, description="gapless position within the writer")
    time: str = Field(description="UTC, ISO 8601")
    actor: str = ""
    causation_id: str | None = None
    correlation_id: str | None = None
    schema_version: int = Field(default=ENVELOPE_VERSION, ge=1)
    data: dict[str, Any] = Field(default_factory=dict)
    batch: list[int] | None = Field(
        default=None, description="[index, size] for members of a multi-event batch"
    )


def json_schemas() -> dict[str, dict[str, Any]]:
    """Every schema that ``schemas/`` must hold, keyed by relative path."""
    out: dict[str, dict[str, Any]] = {"envelope.schema.json": EnvelopeModel.model_json_schema()}
    for name, etype in known_types().items():
        schema = etype.model.model_json_schema()
        schema["title"] = name
        schema["x-fleet-schema-version"] = etype.version
        if name in _RECORDED_BY:
            schema["x-fleet-recorded-by"] = _RECORDED_BY[name]
        if etype.description:
            schema["description"] = etype.description
        _factory_defaults(etype.model, schema)
        out[f"events/{name}.schema.json"] = schema
    return out


def _factory_defaults(model: type[BaseModel], schema: dict[str, Any]) -> None:
    """Write the value of each ``default_factory`` into the schema as its ``default`` (what
    pydantic fills in), so the write path's validator (:mod:`.validation`) knows it. (A
    model nested in ``$defs`` with such a field makes that validator defer to pydantic.)"""
    props = schema.get("properties", {})
    for field_name, info in model.model_fields.items():
        key = info.alias or field_name
        if info.default_factory is not None and key in props:
            props[key]["default"] = info.default_factory()  # type: ignore[call-arg]

