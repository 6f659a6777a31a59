"""The write path's schema validator against the pydantic models it stands in for.

For every registered event type, generated inputs (valid ones, boundary values, wrong types,
missing and extra keys, values pydantic would coerce) go through both. The validator must
never answer differently from pydantic: where it accepts, pydantic accepts and dumps the
same data; where pydantic refuses, the validator defers. And it must actually carry the
ordinary writes (a valid value is accepted without pydantic), or it would save nothing.
"""

from __future__ import annotations

import random
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from fleet_hive.app.capabilities import event_type_modules
from fleet_hive.events import registry, validation

registry.use_modules(event_type_modules())
TYPES = registry.known_types()


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return root["$defs"][ref.rsplit("/", 1)[1]] if ref else schema


def example(schema: dict[str, Any], root: dict[str, Any], rng: random.Random,
            full: bool) -> Any:
    """A value that satisfies ``schema`` (the regexes used are those of the models)."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return example(rng.choice(schema["anyOf"]), root, rng, full)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: example(v, root, rng, full) for k, v in props.items()
                if full or k in schema.get("required", ())}
    if kind == "array":
        n = max(schema.get("minItems", 0), 1 if full else 0)
        return [example(schema.get("items", {}), root, rng, full) for _ in range(n)]
    if kind == "integer":
        lo = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        return rng.randint(lo, schema.get("maximum", lo + 100))
    if kind == "number":
        return float(schema.get("minimum", 0)) + 0.5
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, rng)


_SAMPLES = {  # one value matching each pattern of the models
    r"^s-[0-9a-z]{4,32}$": "s-abcd1234",
    r"^m-[0-9a-z]{4,32}$": "m-abcd1234",
    r"^c-[0-9a-z]{4,32}$": "c-abcd1234",
    r"^[0-9a-f]{64}$": "ab" * 32,
    r"^[0-9a-f]{40,64}$": "ab" * 20,  # a git commit id (sha-1 or sha-256)
    r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,63}$": "area/api",
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$": "2026-12-02T01:02:03.456Z",
    r"^msg-[0-9a-z]{4,32}$": "msg-abcd1234",
    r"^[A-Za-z0-9][A-Za-z0-9_.:/+-]{0,127}$": "blocker-s-abcd1234",
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$": "py-1",
}


def _string(schema: dict[str, Any], rng: random.Random) -> str:
    if "pattern" in schema:
        return _SAMPLES[schema["pattern"]]
    if schema.get("x-fleet-check") == "normalized-glob":
        return rng.choice(["src/a.py", "src/**", "docs/*.md"])
    return "x" * max(schema.get("minLength", 0), 1)


def mutations(data: dict[str, Any], schema: dict[str, Any], root: dict[str, Any]
              ) -> list[dict[str, Any]]:
    """Invalid, boundary and coercible variants of ``data``."""
    out: list[dict[str, Any]] = [{**data, "unexpected": 1}]
    bad_values: list[Any] = [None, 1, 1.0, 1.5, True, "1", "", "x\n", [], (), ["x"],
                             {"a": 1}, "./a", "a//b", "\u00e9" * 3]
    for key, sub in schema.get("properties", {}).items():
        if key in data:
            out.append({k: v for k, v in data.items() if k != key})
        for bad in bad_values:
            out.append({**data, key: bad})
        sub = _resolve(sub, root)
        if "pattern" in sub and isinstance(data.get(key), str):
            out.append({**data, key: data[key] + "\n"})  # Python's ``$`` would match
        for bound in ("minLength", "maxLength"):
            if bound in sub:
                n = sub[bound]
                for size in (n - 1, n, n + 1):
                    if size >= 0:
                        out.append({**data, key: "y" * size})
        for bound in ("minimum", "maximum", "exclusiveMinimum"):
            if bound in sub:
                for delta in (-1, 0, 1):
                    out.append({**data, key: sub[bound] + delta})
        if sub.get("type") == "array" and isinstance(data.get(key), list):
            out.append({**data, key: tuple(data[key])})
            out.append({**data, key: [*data[key], None]})
            if "maxItems" in sub:
                item = data[key][0] if data[key] else "z"
                out.append({**data, key: [item] * (sub["maxItems"] + 1)})
    return out


def pydantic_answer(name: str, data: Any) -> Any:
    try:
        model = TYPES[name].model.model_validate(data)
    except ValidationError:
        return "refused"
    return model.model_dump(mode="json", exclude_none=False)


@pytest.mark.parametrize("name", sorted(TYPES))
def test_the_validator_never_disagrees_with_pydantic(name: str) -> None:
    schema = validation.schema_of(name)
    assert schema is not None, f"schemas/events/{name}.schema.json is missing"
    rng = random.Random(name)
    cases = []
    for _ in range(10):
        for full in (False, True):
            data = example(schema, schema, rng, full)
            cases.append(data)
            cases += mutations(data, schema, schema)
    accepted = 0
    for data in cases:
        fast = validation.conform(schema, data, schema)
        if fast is validation.UNSURE:
            continue
        accepted += 1
        assert pydantic_answer(name, data) == fast, (name, data)
    valid = [d for d in cases[:1] if pydantic_answer(name, d) != "refused"]
    assert valid, "the generated example must be valid"
    assert validation.conform(schema, valid[0], schema) == pydantic_answer(name, valid[0])
    assert accepted > 0


@pytest.mark.parametrize("name", sorted(TYPES))
def test_refused_data_gets_pydantics_message(name: str) -> None:
    schema = validation.schema_of(name)
    assert schema is not None
    data = {**example(schema, schema, random.Random(1), True), "unexpected": 1}
    with pytest.raises(Exception) as fast:
        validation.validate_data(name, data)
    with pytest.raises(Exception) as slow:
        registry.validate_data(name, data)
    assert str(fast.value) == str(slow.value)
    assert "unexpected" in str(fast.value)


def test_an_unnormalized_glob_is_left_to_pydantic_which_refuses_it() -> None:
    schema = validation.schema_of("reservation_acquired")
    assert schema is not None
    data = example(schema, schema, random.Random(2), False)
    assert validation.conform(schema, data, schema) is not validation.UNSURE
    data["paths"] = ["./src/a.py"]
    assert validation.conform(schema, data, schema) is validation.UNSURE
    assert pydantic_answer("reservation_acquired", data) == "refused"


def test_a_domain_type_names_its_use_case_without_the_models() -> None:
    for name in TYPES:
        assert validation.use_case_of(name) == registry.use_case_of(name)
    assert validation.use_case_of("note_added") is None


def test_validating_an_ordinary_write_imports_no_pydantic() -> None:
    code = ("import sys\n"
            "from fleet_hive.events.validation import validate_data, use_case_of\n"
            "print(validate_data('sortie_claimed', {'specialist': 'bob', 'prev': None}))\n"
            "print(use_case_of('sortie_claimed'))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('pydantic', 'pydantic_core')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == ("({'merged': [], 'prev': None, 'reason': '', 'specialist': 'bob'}, 1)")
    assert "sortie claim" in out[1]
    assert out[2] == "[]"


def test_a_checkpoint_body_is_judged_as_pydantic_judges_it(hive) -> None:
    """Checkpoint creation checks its body with the same validator (``extra="allow"``
    models keep unknown keys, ``const`` pins the schema version)."""
    import glob
    from pathlib import Path

    import orjson

    from fleet_hive.checkpoints import files
    from fleet_hive.checkpoints.body import CheckpointBody
    from fleet_hive.kernel.resources import resource_path

    m = hive.missions.create("m")
    s = hive.sorties.add(m.id, "s", files=["src/a.py"])
    hive.missions.start(m.id)
    hive.sorties.claim(s.id)
    hive.checkpoints.create(m.id, note="n")
    (path,) = glob.glob(str(hive.layout.checkpoints / "*" / "*.yaml"))
    body = files.inspect(Path(path)).body
    schema = orjson.loads((Path(resource_path("schemas")) / "checkpoint.schema.json")
                          .read_bytes())

    def judged(data: Any) -> Any:
        try:
            return CheckpointBody.model_validate(data).model_dump(mode="json")
        except ValidationError:
            return "refused"

    assert validation.conform(schema, body, schema) == judged(body)
    cases = [*mutations(body, schema, schema),
             {**body, "schema_version": 1}, {**body, "schema_version": True},
             {**body, "mission": {**body["mission"], "extra": 1}}]
    for data in cases:
        fast = validation.conform(schema, data, schema)
        if fast is not validation.UNSURE:
            assert fast == judged(data), data
