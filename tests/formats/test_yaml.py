"""``formats.yaml.dump``: the common case written without ruamel.yaml, byte for byte as
ruamel.yaml writes it; anything else still goes to ruamel.yaml."""

from __future__ import annotations

import contextlib
import io
import random
import subprocess
import sys

import pytest

from fleet_hive.formats import yaml as fy

WORDS = ["", "abc", "a b", "a: b", "a #b", "#x", "-x", "- x", "x-", "*.py", "src/**", "yes",
         "no", "on", "true", "null", "~", "1", "1.5", "0x1", "1e3", "2026-12-02",
         "2026-12-02T06:28:36.322120Z", "2026-12-02T06:28:36Z", "it's", "é", "a\tb", " lead",
         "trail ", "a  b", "?x", "%x", "@x", "`x", "x:y", "x,y", "[x]", "{x}", "x!", "!x", "&x",
         "|x", ">x", "'x", '"x', "x'", "12:30", "0777", "+1", ".5", ".inf", "NaN", "Null",
         "True", "m-bbr4jqyvj20b", "Seed f411778e maintainers", "halfway, 漢字", "a\nb", "=",
         "<<", "x=y", "a/b.c", "sortie 8", "-", "?", ":", "1_000", "_1", "__", "y", "N", "OFF",
         "/abs/path", "/*", "a*b", "a(b)", "日本", "x\u2028y", "x\x85y", "\ufeffx", "e3",
         "a\u0301", "x²", "Ⅻ", "a.", "a,", "a'b'", "src/m-dk4jja9qrqd9/8/**"]


def ruamel_dump(obj) -> str:
    buf = io.StringIO()
    fy._dumper().dump(obj, buf)
    return buf.getvalue()


def _value(rng: random.Random, depth: int = 0):
    kinds = ["word", "word", "chars", "int", "bool", "none"] + (
        ["list", "dict", "empty"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "word":
        return rng.choice(WORDS)
    if kind == "chars":
        return "".join(rng.choice("aZé漢 -_./*:#'\"1\t,") for _ in range(rng.randint(1, 6)))
    if kind == "int":
        return rng.choice([0, -3, 7, 2**40, -(2**63)])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "empty":
        return rng.choice([[], {}])
    if kind == "list":
        return [_value(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    return {rng.choice(["id", "title", "files", "a_b", "x1", "2x", "Key", "k"]):
            _value(rng, depth + 1) for _ in range(rng.randint(1, 4))}


@pytest.mark.parametrize("word", WORDS)
def test_each_string_is_written_as_ruamel_writes_it(word):
    for doc in ({"k": word}, [word], {"k": [word, {"n": word}]}):
        assert fy.dump(doc) == ruamel_dump(doc)


@pytest.mark.parametrize("seed", range(30))
def test_random_documents_are_written_as_ruamel_writes_them(seed):
    rng = random.Random(seed)
    fast = 0
    for _ in range(150):
        doc = {"top": _value(rng), "more": [_value(rng), _value(rng)]}
        assert fy.dump(doc) == ruamel_dump(doc), doc
        with contextlib.suppress(fy._Unsure):  # the rest went to ruamel.yaml
            fy._block(doc, 0, [])
            fast += 1
    assert fast > 0  # the corpus exercises the ruamel-free path, not only the fallback


def test_a_mission_snapshot_is_written_without_importing_ruamel(hive):
    m = hive.missions.create("plain words", sorties=[{"title": "a sortie", "files": ["src/**"]},
                                                     {"title": "b", "after": [0]}])
    hive.missions.start(m.id)
    code = ("import sys, fleet_hive; h = fleet_hive.open(sys.argv[1], actor='w'); "
            f"h.missions.update({m.id!r}, title='renamed'); "
            "print(sorted(k for k in sys.modules if k.startswith('ruamel')))")
    out = subprocess.run([sys.executable, "-c", code, str(hive.root)], check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == "[]"
    text = (hive.layout.missions / f"{m.id}.yaml").read_text()
    assert "title: renamed" in text
    assert fy.load(text)["sorties"][0]["files"] == ["src/**"]
