"""Validating an event's ``data`` on the write path from the committed JSON Schemas.

The pydantic models in each capability's ``event_types.py`` are the source of truth:
``schemas/events/<type>.schema.json`` is generated from them and checked for drift in CI
(:mod:`fleet_hive.app.schemas`). Importing pydantic and building the models costs a write
command 60 to 100 ms, more than everything else it does, so the write path checks ``data``
against the one schema of the type being written instead (a small JSON file, read once per
process) with :func:`conform`, which handles exactly the keywords those generated schemas
use.

:func:`conform` is deliberately one-sided: it either returns the data exactly as pydantic
would (``model_dump(mode="json")``: defaults filled in, tuples as lists) or says it is not
sure. Anything unusual (a value pydantic would coerce, a refused value, a key it does not
know, a keyword it does not handle) goes to the pydantic registry, which then accepts or
refuses it with its own message. So the result is always pydantic's, and a test compares
the two on generated inputs (``tests/events/test_validation.py``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType

from ..kernel import jsonload
from ..kernel.resources import resource_path
from ..kernel.textshapes import KNOWN as KNOWN_PATTERNS

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Any

#: The answer of :func:`conform` when pydantic must decide.
UNSURE: Any = object()

_schemas: dict[str, dict[str, Any] | None] = {}
_patterns: dict[str, re.Pattern[str]] = {}


def schema_of(name: str) -> dict[str, Any] | None:
    """The shipped JSON Schema of event type ``name``; None if there is none."""
    if name in _schemas:
        return _schemas[name]
    schema = None
    if name.replace("_", "").isalnum() and name.isascii():
        try:
            path = os.path.join(resource_path("schemas"), "events", f"{name}.schema.json")
            with open(path, "rb") as f:
                schema = jsonload.loads(f.read())
        except (OSError, jsonload.JSONDecodeError):
            schema = None
    _schemas[name] = schema
    return schema


#: Modules declaring event types, handed to the registry when pydantic must decide.
_modules: list[str] = []


def use_modules(modules: Sequence[str]) -> None:
    """Declare the modules whose event types are valid (see the registry's namesake); they
    are imported only when :func:`validate_data` or :func:`use_case_of` defers to them."""
    _modules.extend(m for m in modules if m not in _modules)


def _registry() -> ModuleType:
    from . import registry

    registry.use_modules(_modules)
    return registry


def validate_data(name: str, data: Any, *, custom: bool = False) -> tuple[dict[str, Any], int]:
    """Same contract as :func:`fleet_hive.events.registry.validate_data`, without importing
    pydantic unless the data needs its judgement."""
    schema = schema_of(name)
    if schema is not None and isinstance(data, Mapping):
        out = conform(schema, data, schema)
        if out is not UNSURE:
            return out, int(schema.get("x-fleet-schema-version", 1))
    result: tuple[dict[str, Any], int] = _registry().validate_data(name, data, custom=custom)
    return result


def use_case_of(name: str) -> str | None:
    """The use case that records domain event type ``name`` (None: open to raw appends)."""
    schema = schema_of(name)
    if schema is not None:
        recorded_by = schema.get("x-fleet-recorded-by")
        return recorded_by if isinstance(recorded_by, str) else None
    use_case: str | None = _registry().use_case_of(name)
    return use_case


def _glob_is_normalized(value: str) -> bool:
    from ..kernel import globs

    try:
        return globs.normalize(value) == value
    except Exception:  # an invalid pattern: pydantic says why
        return False


#: Checks named by ``x-fleet-check`` (an ``AfterValidator`` of the model).
CHECKS: dict[str, Callable[[str], bool]] = {"normalized-glob": _glob_is_normalized}


def conform(schema: Mapping[str, Any], value: Any, root: Mapping[str, Any]) -> Any:
    """``value`` as pydantic's JSON dump of it, if it plainly satisfies ``schema``; else
    :data:`UNSURE`."""
    ref = schema.get("$ref")
    if ref is not None:
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            return UNSURE
        target = root.get("$defs", {}).get(ref[len("#/$defs/"):])
        return UNSURE if target is None else conform(target, value, root)
    options = schema.get("anyOf")
    if options is not None:
        for option in options:  # pydantic tries the members in order in strict mode first
            out = conform(option, value, root)
            if out is not UNSURE:
                return out
        return UNSURE
    if "enum" in schema and value not in schema["enum"]:
        return UNSURE
    if "const" in schema and (value != schema["const"]
                              or type(value) is not type(schema["const"])):
        return UNSURE
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, value, root)
    if kind == "string":
        return value if type(value) is str and _string_ok(schema, value) else UNSURE
    if kind == "integer":
        return value if type(value) is int and _number_ok(schema, value) else UNSURE
    if kind == "number":
        if type(value) in (int, float) and math.isfinite(value) and _number_ok(schema, value):
            return value
        return UNSURE
    if kind == "boolean":
        return value if type(value) is bool else UNSURE
    if kind == "null":
        return None if value is None else UNSURE
    if kind == "array":
        if (type(value) not in (list, tuple) or not set(schema) <= _ARRAY_KEYS
                or not _size_ok(schema, len(value), "Items")):
            return UNSURE
        items = schema.get("items", {})
        out = [conform(items, v, root) for v in value] if items else list(value)
        return UNSURE if any(v is UNSURE for v in out) else out
    return UNSURE  # no type (Any) or a keyword set we do not handle: pydantic decides


_ARRAY_KEYS = {"type", "title", "description", "default", "items", "minItems", "maxItems"}
_OBJECT_KEYS = {"type", "properties", "required", "additionalProperties", "title",
                "description", "$defs", "x-fleet-schema-version", "x-fleet-recorded-by"}


def _object(schema: Mapping[str, Any], value: Any, root: Mapping[str, Any]) -> Any:
    if not isinstance(value, Mapping) or not set(schema) <= _OBJECT_KEYS:
        return UNSURE
    props: Mapping[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    if not props:  # a free-form dict
        if extra is True or extra is None:
            return dict(value) if all(type(k) is str for k in value) else UNSURE
        if isinstance(extra, Mapping):
            out = {k: conform(extra, v, root) for k, v in value.items()}
            ok = all(type(k) is str for k in out) and UNSURE not in out.values()
            return out if ok else UNSURE
        return UNSURE
    unknown = [k for k in value if k not in props]
    if unknown and (extra is not True or not all(type(k) is str for k in unknown)):
        return UNSURE  # extra keys: refused or dropped by pydantic, so it decides
    required = schema.get("required", ())
    result: dict[str, Any] = {k: value[k] for k in unknown}  # extra="allow" keeps them
    for key, sub in props.items():
        if key in value:
            out = conform(sub, value[key], root)
            if out is UNSURE:
                return UNSURE
            result[key] = out
        elif key in required or "default" not in sub:
            return UNSURE
        else:
            default = sub["default"]
            result[key] = list(default) if isinstance(default, list) else \
                dict(default) if isinstance(default, dict) else default
    return result


_STRING_KEYS = {"type", "title", "description", "default", "minLength", "maxLength", "pattern",
                "enum", "const", "x-fleet-check"}


def _string_ok(schema: Mapping[str, Any], value: str) -> bool:
    if not set(schema) <= _STRING_KEYS or not _size_ok(schema, len(value), "Length"):
        return False
    pattern = schema.get("pattern")
    if pattern is not None:
        # Python's ``$`` also matches before a final newline, the regex of pydantic does not
        if "\n" in value:
            return False
        known = KNOWN_PATTERNS.get(pattern)  # the schemas' own patterns: no re
        if known is not None:
            if not known(value):
                return False
        else:
            compiled = _patterns.get(pattern)
            if compiled is None:
                import re

                compiled = _patterns[pattern] = re.compile(pattern)
            if compiled.search(value) is None:
                return False
    check = schema.get("x-fleet-check")
    return check is None or (check in CHECKS and CHECKS[check](value))


_NUMBER_KEYS = {"type", "title", "description", "default", "minimum", "maximum",
                "exclusiveMinimum", "exclusiveMaximum", "enum", "const"}


def _number_ok(schema: Mapping[str, Any], value: float) -> bool:
    if not set(schema) <= _NUMBER_KEYS:
        return False
    lo, hi = schema.get("minimum"), schema.get("maximum")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    return ((lo is None or value >= lo) and (hi is None or value <= hi)
            and (xlo is None or value > xlo) and (xhi is None or value < xhi))


def _size_ok(schema: Mapping[str, Any], size: int, what: str) -> bool:
    lo, hi = schema.get(f"min{what}"), schema.get(f"max{what}")
    return (lo is None or size >= lo) and (hi is None or size <= hi)
