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
