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

#: A compiled schema (:func:`compiled`): a value in, pydantic's JSON dump of it or
#: :data:`UNSURE` out.
Check = Callable[["Any"], "Any"]

_schemas: dict[str, dict[str, Any] | None] = {}


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


#: Each type's compiled check (see :func:`compiled`) and schema version; None: no schema.
_checks: dict[str, tuple[Check, int] | None] = {}


def validate_data(name: str, data: Any, *, custom: bool = False) -> tuple[dict[str, Any], int]:
    """Same contract as :func:`fleet_hive.events.registry.validate_data`, without importing
    pydantic unless the data needs its judgement."""
    try:
        entry = _checks[name]
    except KeyError:
        schema = schema_of(name)
        entry = _checks[name] = None if schema is None else (
            compiled(schema, schema), int(schema.get("x-fleet-schema-version", 1)))
    if entry is not None and (type(data) is dict or isinstance(data, Mapping)):
        out = entry[0](data)
        if out is not UNSURE:
            return out, entry[1]
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
    return compiled(schema, root)(value)


#: Compiled schemas by identity; each entry holds its schema and root, so an id is never
#: reused while it is cached.
_compiled: dict[tuple[int, int], tuple[Mapping[str, Any], Mapping[str, Any], Check]] = {}


def compiled(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Check:
    """:func:`conform` for ``schema`` as one function, built once: everything the schema
    alone decides (its keywords, bounds, pattern, defaults) is settled here, so a check
    only looks at the value. A batch of a thousand events checks in a few milliseconds."""
    key = (id(schema), id(root))
    entry = _compiled.get(key)
    if entry is not None and entry[0] is schema and entry[1] is root:
        return entry[2]
    check = _compile(schema, root)
    _compiled[key] = (schema, root, check)
    return check


def _unsure(value: Any) -> Any:
    return UNSURE


def _compile(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Check:
    ref = schema.get("$ref")
    if ref is not None:
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            return _unsure
        target = root.get("$defs", {}).get(ref[len("#/$defs/"):])
        if target is None:
            return _unsure
        resolved: list[Check] = []  # compiled on first use: a definition may refer to itself

        def by_ref(value: Any) -> Any:
            if not resolved:
                resolved.append(compiled(target, root))
            return resolved[0](value)
        return by_ref
    options = schema.get("anyOf")
    if options is not None:
        members = [compiled(option, root) for option in options]

        def any_of(value: Any) -> Any:
            for member in members:  # pydantic tries them in order in strict mode first
                out = member(value)
                if out is not UNSURE:
                    return out
            return UNSURE
        return any_of
    check = _compile_kind(schema, root)
    if "const" in schema:
        const, const_type, inner = schema["const"], type(schema["const"]), check

        def with_const(value: Any) -> Any:
            if value != const or type(value) is not const_type:
                return UNSURE
            return inner(value)
        check = with_const
    if "enum" in schema:
        members_of, inner_enum = schema["enum"], check

        def with_enum(value: Any) -> Any:
            return inner_enum(value) if value in members_of else UNSURE
        check = with_enum
    return check


def _compile_kind(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Check:
    kind = schema.get("type")
    if kind == "object":
        return _compile_object(schema, root)
    if kind == "string":
        return _compile_string(schema)
    if kind == "integer" or kind == "number":
        if not set(schema) <= _NUMBER_KEYS:
            return _unsure
        lo, hi = schema.get("minimum"), schema.get("maximum")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        types = (int,) if kind == "integer" else (int, float)

        def number(value: Any) -> Any:
            if type(value) not in types or (kind == "number" and not _finite(value)):
                return UNSURE
            ok = ((lo is None or value >= lo) and (hi is None or value <= hi)
                  and (xlo is None or value > xlo) and (xhi is None or value < xhi))
            return value if ok else UNSURE
        return number
    if kind == "boolean":
        return lambda value: value if type(value) is bool else UNSURE
    if kind == "null":
        return lambda value: None if value is None else UNSURE
    if kind == "array":
        if not set(schema) <= _ARRAY_KEYS:
            return _unsure
        least, most = schema.get("minItems"), schema.get("maxItems")
        items = schema.get("items", {})
        item = compiled(items, root) if items else None

        def array(value: Any) -> Any:
            if type(value) not in (list, tuple) or (least is not None and len(value) < least) \
                    or (most is not None and len(value) > most):
                return UNSURE
            if item is None:
                return list(value)
            out = [item(v) for v in value]
            return UNSURE if any(v is UNSURE for v in out) else out
        return array
    return _unsure  # no type (Any) or a keyword set we do not handle: pydantic decides


_ARRAY_KEYS = {"type", "title", "description", "default", "items", "minItems", "maxItems"}
_OBJECT_KEYS = {"type", "properties", "required", "additionalProperties", "title",
                "description", "$defs", "x-fleet-schema-version", "x-fleet-recorded-by"}


def _compile_object(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Check:
    if not set(schema) <= _OBJECT_KEYS:
        return _unsure
    props: Mapping[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    if not props:  # a free-form dict
        if extra is True or extra is None:
            def free(value: Any) -> Any:
                if not isinstance(value, Mapping) or not all(type(k) is str for k in value):
                    return UNSURE
                return dict(value)
            return free
        if isinstance(extra, Mapping):
            each = compiled(extra, root)

            def free_typed(value: Any) -> Any:
                if not isinstance(value, Mapping):
                    return UNSURE
                out = {k: each(v) for k, v in value.items()}
                ok = all(type(k) is str for k in out) and UNSURE not in out.values()
                return out if ok else UNSURE
            return free_typed
        return _unsure
    required = schema.get("required", ())
    allow_extra = extra is True
    #: per property: its name, its check, and whether it is missing-but-defaulted (then the
    #: default) or must be given (then a sentinel)
    fields: list[tuple[str, Check, Any]] = []
    for key, sub in props.items():
        must = key in required or "default" not in sub
        fields.append((key, compiled(sub, root), _REQUIRED if must else sub["default"]))
    names = frozenset(props)

    def obj(value: Any) -> Any:
        if type(value) is not dict and not isinstance(value, Mapping):
            return UNSURE
        result: dict[str, Any] = {}
        if not names.issuperset(value):
            unknown = [k for k in value if k not in names]
            if not allow_extra or not all(type(k) is str for k in unknown):
                return UNSURE  # extra keys: refused or dropped by pydantic, so it decides
            result = {k: value[k] for k in unknown}  # extra="allow" keeps them
        for key, check, default in fields:
            if key in value:
                out = check(value[key])
                if out is UNSURE:
                    return UNSURE
                result[key] = out
            elif default is _REQUIRED:
                return UNSURE
            else:
                result[key] = list(default) if isinstance(default, list) else \
                    dict(default) if isinstance(default, dict) else default
        return result
    return obj


#: A property without a default: a value must be given.
_REQUIRED: Any = object()

_STRING_KEYS = {"type", "title", "description", "default", "minLength", "maxLength", "pattern",
                "enum", "const", "x-fleet-check"}


def _compile_string(schema: Mapping[str, Any]) -> Check:
    if not set(schema) <= _STRING_KEYS:
        return _unsure
    least, most = schema.get("minLength"), schema.get("maxLength")
    least = 0 if least is None else least
    pattern = schema.get("pattern")
    matches: Callable[[str], bool] | None = None
    if pattern is not None:
        matches = KNOWN_PATTERNS.get(pattern)  # the schemas' own patterns: no re
        if matches is None:
            matches = _searcher(pattern)
    name = schema.get("x-fleet-check")
    extra_check = None if name is None else CHECKS.get(name, _refuse)

    def string(value: Any) -> Any:
        if type(value) is not str or len(value) < least or (most is not None and len(value) > most):
            return UNSURE
        # Python's ``$`` also matches before a final newline, the regex of pydantic does not
        if matches is not None and ("\n" in value or not matches(value)):
            return UNSURE
        if extra_check is not None and not extra_check(value):
            return UNSURE
        return value
    return string


def _searcher(pattern: str) -> Callable[[str], bool]:
    """``re.search`` of ``pattern``, compiled on first use (few schemas need one)."""
    found: list[re.Pattern[str]] = []

    def search(value: str) -> bool:
        if not found:
            import re

            found.append(re.compile(pattern))
        return found[0].search(value) is not None
    return search


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float: pydantic says what it makes of it
        return False


def _refuse(value: str) -> bool:
    return False


_NUMBER_KEYS = {"type", "title", "description", "default", "minimum", "maximum",
                "exclusiveMinimum", "exclusiveMaximum", "enum", "const"}
