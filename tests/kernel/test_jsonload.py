"""``kernel.jsonload.loads_many``: several stored documents in one parse, damage still found."""

from __future__ import annotations

import json
import sys

import orjson
import pytest

from fleet_hive.kernel import jsonload


@pytest.mark.parametrize("with_orjson", [False, True])
def test_many_documents_read_as_one_call_each_would(with_orjson: bool,
                                                     monkeypatch: pytest.MonkeyPatch):
    if not with_orjson:
        monkeypatch.delitem(sys.modules, "orjson", raising=False)
    docs = [{"id": f"s-{i}", "files": ["a", "é"], "n": i, "x": None} for i in range(50)]
    raws = [orjson.dumps(d) for d in docs]
    assert jsonload.loads_many(raws) == docs
    assert jsonload.loads_many([]) == []
    assert jsonload.loads_many([r.decode() for r in raws]) == docs  # text columns too


@pytest.mark.parametrize("damaged", [b"1, 2", b"", b"{\"a\": 1}]", b"1],[2", b"{", b"]"])
def test_a_damaged_document_is_an_error_not_a_shifted_list(damaged: bytes,
                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delitem(sys.modules, "orjson", raising=False)
    raws = [b'{"a": 1}', damaged, b'{"b": 2}']
    with pytest.raises(ValueError):  # JSONDecodeError is one
        jsonload.loads_many(raws)
    with pytest.raises(json.JSONDecodeError):
        [jsonload.loads(r) for r in raws]


_LINE = (b'{"id":"01J","type":"note_added","stream":"note:x","clock":7,"writer":"w1","n":3,'
         b'"time":"2026-12-02T10:00:00.000000Z","actor":"a\xc3\xa9","data":{"text":"hi",'
         b'"ttl":3600.5,"big":18446744073709551615,"neg":-9223372036854775808,"l":[1,2]}}')
_TRICKY = [b'NaN', b'Infinity', b'-Infinity', b'1e400', b'-1e400', b'1e-400', b'1E5',
           b'99999999999999999999', b'-9223372036854775809', b'18446744073709551616',
           b'"\\ud800"', b'"\\uDC00x"', b'"\\ud83d\\ude00"', b'"\xed\xa0\x80"', b'"\xff"',
           b'"\x01"', b'"\\u0000"', b'01', b'1.', b'.5', b'-', b'[' * 3000 + b']' * 3000,
           b'"\\\\ud800"', b'true', b'null', b'{"a":1,"a":2}', b'"\xef\xbb\xbf"']


def _verdict(parse, raw: bytes) -> tuple[str, object]:
    try:
        return "ok", parse(raw)
    except ValueError:
        return "refused", None


@pytest.mark.parametrize("seed", range(10))
def test_a_log_line_is_judged_exactly_as_orjson_judges_it(seed: int,
                                                          monkeypatch: pytest.MonkeyPatch):
    import random

    rng = random.Random(seed)
    monkeypatch.delitem(sys.modules, "orjson", raising=False)
    lines = [_LINE, b"\xef\xbb\xbf" + _LINE, b" " + _LINE, _LINE + b" x", _LINE[:-1]]
    for value in _TRICKY:
        lines.append(_LINE.replace(b'"hi"', value))
        lines.append(_LINE.replace(b'"ttl":3600.5', b'"k":' + value))
    for _ in range(300):  # random damage: a byte changed, dropped or doubled
        raw = bytearray(_LINE)
        i = rng.randrange(len(raw))
        op = rng.choice(["set", "drop", "dup"])
        if op == "set":
            raw[i] = rng.choice(b'{}[]",:0123456789eE.-\\ux\xc3\xed\x00 ')
        elif op == "drop":
            del raw[i]
        else:
            raw.insert(i, raw[i])
        lines.append(bytes(raw))
    for raw in lines:
        ours = _verdict(jsonload.loads_line, raw)
        sys.modules.pop("orjson", None)  # loads_line imported it for a tricky line
        theirs = _verdict(orjson.loads, raw)
        assert ours == theirs, raw
        if ours[0] == "ok":
            assert repr(ours[1]) == repr(theirs[1]), raw  # same types too: 1e+20, not an int


def _outcome(parse, raw: object) -> tuple[str, str]:
    try:
        return "ok", repr(parse(raw))
    except (ValueError, TypeError, RecursionError) as e:
        return type(e).__name__, str(e)


@pytest.mark.parametrize("seed", range(5))
def test_loads_without_orjson_is_json_loads_in_value_and_error(seed: int,
                                                               monkeypatch: pytest.MonkeyPatch):
    """``loads`` reads through json's C scanner without importing ``json``: the same value
    as ``json.loads``, or the same error in the same words (it leaves those to it)."""
    import random

    rng = random.Random(seed)
    monkeypatch.delitem(sys.modules, "orjson", raising=False)
    docs: list[object] = [_LINE, b" \n" + _LINE + b"\r\n", b"\xef\xbb\xbf" + _LINE,
                          "\ufeff{}", _LINE.decode(), bytearray(_LINE), memoryview(_LINE),
                          _LINE.decode().encode("utf-16"), b"", b" ", b"1 2", 42]
    for value in _TRICKY:
        docs += [value, _LINE.replace(b'"hi"', value), value.decode("latin-1")]
    for _ in range(300):
        raw = bytearray(_LINE)
        i = rng.randrange(len(raw))
        raw[i] = rng.choice(b'{}[]",:0123456789eE.-\\ux\xc3\xed\x00 \t')
        docs.append(bytes(raw))
    for raw in docs:
        assert _outcome(jsonload.loads, raw) == _outcome(json.loads, raw), raw


@pytest.mark.parametrize("bad", [b"{", b"[1,", b'"\x01"', b'{"a" 1}', b"1 2", b"\xff"])
def test_a_read_that_parses_well_imports_no_json_package(tmp_path, bad: bytes):
    """The scanner is json's own C one: ``kernel.jsonload`` reads without the ``json``
    package (whose decoder imports ``re``), which it imports only to word an error: the
    first error of a process, before anything imported ``json``, is ``json.loads``'s."""
    import subprocess

    probe = ("import sys; from fleet_hive.kernel import jsonload as j; "
             "assert j.loads(b'{\"a\": [1, 2.5, null]}') == {'a': [1, 2.5, None]}; "
             "assert j.loads_many([b'1', b'{}']) == [1, {}]; "
             "assert j.loads_line(b'{\"n\": 1}') == {'n': 1}; "
             "print(sorted(m for m in ('json', 're', 'orjson') if m in sys.modules)); "
             f"raw = {bad!r}\n"
             "try:\n    j.loads(raw)\nexcept Exception as e:\n    ours = (type(e), str(e))\n"
             "import json\n"
             "try:\n    json.loads(raw)\nexcept Exception as e:\n    theirs = (type(e), str(e))\n"
             "print(ours == theirs, ours)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "[]", result.stdout
    assert result.stdout.splitlines()[1].startswith("True "), result.stdout
