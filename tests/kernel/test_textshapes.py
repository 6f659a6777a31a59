"""``kernel.textshapes``: the schemas' patterns checked without ``re``, exactly as ``re``."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from fleet_hive.events.envelope import check_stream_name, check_type_name
from fleet_hive.kernel.errors import InvalidInputError
from fleet_hive.kernel.resources import resource_path
from fleet_hive.kernel.textshapes import KNOWN

#: valid examples the random texts are made from (changed, cut, doubled)
_SEEDS = ["2026-12-03T05:34:43.123456Z", "2026-12-03T05:34:43Z", "m-0v6krrxbvvne", "s-ab12",
          "c-" + "a" * 32, "msg-zzzz", "py-1", "a" * 64, "A_b.c:d/e+f-g", "a line", " x ",
          "f" * 40, "0" * 64, "note_added", "sortie_progress_reported", "sortie:s-ab12",
          "note:x.y-z_1", "a2_b3"]
_ALPHABET = "09az AZ_-.:/+\t\r\u00a0\u0663\u00e9TZmsc\x1cx"


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return found + [p for v in node.values() for p in _patterns(v)]
    if isinstance(node, list):
        return [p for v in node for p in _patterns(v)]
    return []


def _texts(seed: int) -> list[str]:
    rng = random.Random(seed)
    out = [""]
    for base in _SEEDS:
        out.append(base)
        for _ in range(150):
            text = list(base)
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(text) + 1)
                op = rng.choice(["set", "drop", "add"])
                if op == "set" and i < len(text):
                    text[i] = rng.choice(_ALPHABET)
                elif op == "drop" and i < len(text):
                    del text[i]
                else:
                    text.insert(i, rng.choice(_ALPHABET))
            out.append("".join(text))
        out += [base[:n] for n in range(len(base))]
    out += ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 8)))
            for _ in range(2000)]
    return out


def test_every_pattern_of_the_shipped_schemas_has_its_predicate():
    root = Path(resource_path("schemas"))
    found = {p for f in root.rglob("*.json") for p in _patterns(json.loads(f.read_text()))}
    assert found, "the probe finds the schemas' patterns"
    assert found <= set(KNOWN), sorted(found - set(KNOWN))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("pattern", list(KNOWN))
def test_each_predicate_answers_as_re_does(pattern: str, seed: int):
    compiled = re.compile(pattern)
    check = KNOWN[pattern]
    texts = _texts(seed)
    assert any(check(t) for t in texts) and not all(check(t) for t in texts), \
        "the texts cover both answers"
    for text in texts:  # texts without a newline: validation refuses those first
        assert check(text) == (compiled.search(text) is not None), text


@pytest.mark.parametrize("name", ["note_added\n", "note_added "])
def test_an_event_type_with_a_line_break_or_a_blank_is_refused(name: str):
    """``re``'s ``$`` let a final newline through; the hand-written check does not."""
    with pytest.raises(InvalidInputError):
        check_type_name(name)
    assert check_type_name("note_added") == "note_added"


@pytest.mark.parametrize("stream", ["note:x\n", "note:x:y", ":x", "note:", "Note:x"])
def test_a_stream_name_out_of_shape_is_refused(stream: str):
    with pytest.raises(InvalidInputError):
        check_stream_name(stream)
    assert check_stream_name("note:x.y-z_1") == "note:x.y-z_1"


@pytest.mark.parametrize("pattern", list(KNOWN))
def test_a_lazy_pattern_matches_as_re_does_newlines_and_all(pattern: str):
    """``LazyPattern.matches`` answers from the predicate, keeping ``re``'s ``$`` (which
    matches before a final newline) and its error for a text that is no string."""
    from fleet_hive.kernel.patterns import LazyPattern

    compiled, lazy = re.compile(pattern), LazyPattern(pattern)
    texts = _texts(0)
    texts += [t + "\n" for t in texts[:500]] + [t + "\n\n" for t in texts[:50]] \
        + ["\n" + t for t in texts[:50]] + [t[:1] + "\n" + t[1:] for t in texts[:50]]
    for text in texts:
        assert lazy.matches(text) == (compiled.match(text) is not None), text
    with pytest.raises(TypeError):
        lazy.matches(["m-abcd"])  # type: ignore[arg-type]
