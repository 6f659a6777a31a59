"""``kernel.jsondump.dumps``: orjson's bytes, with or without orjson loaded."""

from __future__ import annotations

import random
import subprocess
import sys

import orjson
import pytest

from fleet_hive.kernel import jsondump as output


def _value(rng: random.Random, depth: int = 0) -> object:
    kinds = ["str", "int", "bool", "none"] + (["list", "dict"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        alphabet = "aé\x00\x1b\x7f\u2028\u2029\"\\/\t\n😀中\u0301 "
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
    if kind == "int":
        return rng.choice([0, -1, 1, 2**31, -(2**63), 2**64 - 1, rng.randint(-10**12, 10**12)])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_value_key(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _value_key(rng: random.Random) -> str:
    return "".join(rng.choice("ké\x1b\"") for _ in range(rng.randint(0, 3)))


@pytest.mark.parametrize("seed", range(20))
def test_the_stdlib_path_writes_orjsons_bytes(seed: int, monkeypatch: pytest.MonkeyPatch):
    rng = random.Random(seed)
    monkeypatch.delitem(sys.modules, "orjson")  # as in a read that never loaded it
    for _ in range(200):
        obj = _value(rng)
        assert output._plain(obj)
        assert output.dumps(obj) == orjson.dumps(obj, option=orjson.OPT_INDENT_2)
        assert output.dumps(obj, indent=False) == orjson.dumps(obj)


@pytest.mark.parametrize("obj", [1.5, {"ttl": 3600.0}, [1e-7], {1: "int key"}, ("tuple",),
                                 2**64, "\ud800"])
def test_anything_else_goes_to_orjson(obj: object, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delitem(sys.modules, "orjson")
    try:
        want: bytes | type[Exception] = orjson.dumps(obj, option=orjson.OPT_INDENT_2)
    except TypeError:
        want = TypeError
    if want is TypeError:
        with pytest.raises(TypeError):
            output.dumps(obj)
    else:
        assert output.dumps(obj) == want


@pytest.mark.parametrize("seed", range(5))
def test_floats_without_an_exponent_take_the_stdlib_path(seed: int,
                                                         monkeypatch: pytest.MonkeyPatch):
    """Both write the shortest repr that reads back; only exponents (and NaN) differ."""
    import struct

    rng = random.Random(seed)
    monkeypatch.delitem(sys.modules, "orjson")
    specials = [0.0, -0.0, 3600.0, 3583.402, 1e-4, 1e15, 9999999999999998.0]
    randoms = [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
               for _ in range(2000)]
    randoms += [rng.uniform(-1, 1) * 10 ** rng.randint(-6, 17) for _ in range(2000)]
    for x in specials + randoms:
        obj = {"ttl": x, "items": [x, 1]}
        if "e" in repr(x) or "n" in repr(x):
            assert not output._plain(obj)
            continue
        assert output._plain(obj)
        assert output.dumps(obj) == orjson.dumps(obj, option=orjson.OPT_INDENT_2)
        assert output.dumps(obj, indent=False) == orjson.dumps(obj)
        assert "orjson" not in sys.modules


def test_a_read_command_loads_no_orjson(hive, repo) -> None:
    m = hive.missions.create("m")
    hive.sorties.add(m.id, "s")
    hive.index.catch_up()
    probe = ("import sys, runpy\n"
             f"sys.argv = ['fleet-hive', '-C', {str(repo)!r}, 'ready', '--json']\n"
             "try:\n    runpy.run_module('fleet_hive', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "sys.stderr.write('orjson' in sys.modules and 'loaded' or 'absent')\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stderr.strip().endswith("absent"), result.stderr
    assert '"title": "s"' in result.stdout


_ODD = [1.5, 1e-05, 1e300, float("nan"), float("inf"), -0.0, ("a", 1), 2**70, {"k": (1, 2)},
        "\ud800", {1: "int key"}, {True: None}, [[[[]]]], "", "😀"]


@pytest.mark.parametrize("ensure_ascii", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_compact_text_is_json_dumps_for_any_value(seed: int, ensure_ascii: bool):
    """json's C encoder, called as ``json.dumps`` calls it: the same text for every value,
    odd ones too, and the same error for what JSON cannot hold."""
    import json

    rng = random.Random(seed)
    for obj in [*(_value(rng) for _ in range(300)), *_ODD]:
        assert output.compact_text(obj, ensure_ascii=ensure_ascii) == json.dumps(
            obj, separators=(",", ":"), ensure_ascii=ensure_ascii), obj
    for bad in [{1, 2}, object(), {(1, 2): 3}]:
        with pytest.raises(TypeError) as ours:
            output.compact_text(bad, ensure_ascii=ensure_ascii)
        with pytest.raises(TypeError) as theirs:
            json.dumps(bad, separators=(",", ":"), ensure_ascii=ensure_ascii)
        assert str(ours.value) == str(theirs.value)
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        output.compact_text(looped)
