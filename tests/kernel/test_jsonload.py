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
