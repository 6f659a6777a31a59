"""The event-store contract of ``spec/api.md``: one class of tests that every backend's
test case subclasses (the in-memory store and the JSONL log with its index)."""

from __future__ import annotations

import threading

import pytest

from fleet_hive.kernel.errors import FleetHiveError, InvalidInputError


class StoreContract:
    """What ``spec/api.md`` promises of ``hive.events``, whatever the backend.

    Not collected itself (no ``Test`` prefix): each backend's subclass provides ``store``.
    """

    def count(self, store) -> int:
        return len(store.query())

    def test_append_returns_envelope(self, store):
        ev = store.append("note_added", stream="mission:m1", data={"text": "hi"})
        assert ev.type == "note_added" and ev.stream == "mission:m1"
        assert ev.data == {"text": "hi"}
        assert len(ev.id) == 26 and ev.clock >= 1 and ev.n >= 1
        assert ev.time.endswith("Z") and ev.schema_version == 1
        (stored,) = store.by_stream("mission:m1")
        assert stored.id == ev.id and stored.seq is not None and stored.seq >= 1

    def test_ids_unique_and_order_total(self, store):
        evs = [store.append("note_added", stream="s:1", data={"text": str(i)}) for i in range(20)]
        assert len({e.id for e in evs}) == 20
        keys = [e.order_key for e in store.by_stream("s:1")]
        assert keys == sorted(keys)
        assert [e.data["text"] for e in store.by_stream("s:1")] == [str(i) for i in range(20)]

    def test_batch_is_all_or_nothing(self, store):
        before = self.count(store)
        with pytest.raises(InvalidInputError, match="batch item 2"):
            store.append_batch([
                {"type": "note_added", "stream": "s:1", "data": {"text": "a"}},
                {"type": "note_added", "stream": "s:1", "data": {"text": "b"}},
                {"type": "note_added", "stream": "s:1", "data": {"text": 3}},
            ])
        assert self.count(store) == before
        evs = store.append_batch([
            {"type": "note_added", "stream": "s:2", "data": {"text": "a"}},
            {"type": "note_added", "stream": "s:2", "data": {"text": "b"}},
        ])
        assert [e.data["text"] for e in store.by_stream("s:2")] == ["a", "b"]
        assert evs[1].n == evs[0].n + 1

    def test_queries(self, store):
        root = store.append("note_added", stream="a:1", data={"text": "root"}, correlation_id="c1")
        child = store.append("note_added", stream="b:1", data={"text": "child"},
                             causation_id=root.id, correlation_id="c1")
        store.append("custom_happened", stream="b:1", data={"x": 1}, custom=True)
        assert [e.id for e in store.by_causation(root.id)] == [child.id]
        assert {e.id for e in store.by_correlation("c1")} == {root.id, child.id}
        assert [e.type for e in store.by_type("custom_happened")] == ["custom_happened"]
        assert len(store.by_type("note_added", limit=1)) == 1
        latest = store.latest_sequence()
        assert latest >= 3
        assert store.after_sequence(latest) == []
        tail = store.after_sequence(latest - 2)
        assert len(tail) == 2 and all(e.seq > latest - 2 for e in tail)
        page = store.query(type="note_added", limit=1, offset=1)
        assert [e.id for e in page] == [child.id]
        child_seq = store.by_stream("b:1")[0].seq
        assert [e.type for e in store.by_stream("b:1", after=child_seq)] == ["custom_happened"]

    @pytest.mark.parametrize("kwargs, message", [
        ({"type": "NoteAdded", "stream": "s:1", "data": {}}, "invalid event type"),
        ({"type": "note_added", "stream": "nocolon", "data": {"text": "x"}}, "invalid stream"),
        ({"type": "note_added", "stream": "s:1", "data": {"text": ""}}, "invalid data"),
        ({"type": "note_added", "stream": "s:1", "data": {"text": "x", "extra": 1}},
         "invalid data"),
        ({"type": "never_defined", "stream": "s:1", "data": {}}, "unknown event type"),
        ({"type": "note_added", "stream": "s:1", "data": ["x"]}, "must be a JSON object"),
    ])
    def test_bad_input_writes_nothing(self, store, kwargs, message):
        before = self.count(store)
        kwargs = dict(kwargs)
        with pytest.raises(InvalidInputError, match=message) as info:
            store.append(kwargs.pop("type"), **kwargs)
        assert isinstance(info.value, FleetHiveError) and info.value.exit_code == 1
        assert self.count(store) == before

    def test_negative_limit_refused(self, store):
        with pytest.raises(InvalidInputError):
            store.query(limit=-1)

    def test_concurrent_appends_lose_and_duplicate_nothing(self, store):
        """Eight threads append at once; every event is stored once, each writer's ``n``
        stays gapless and every batch stays contiguous. (Processes racing the JSONL store
        are in ``tests/events/test_concurrency.py``.)"""
        before = self.count(store)
        errors: list[BaseException] = []

        def work(t: int) -> None:
            try:
                for i in range(25):
                    if i % 5 == 0:
                        store.append_batch([{"type": "note_added", "stream": f"t:{t}",
                                             "data": {"text": f"{t}.{i}.{k}"}} for k in range(3)])
                    else:
                        store.append("note_added", stream=f"t:{t}", data={"text": f"{t}.{i}"})
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        events = store.query()
        assert len(events) - before == 8 * (20 + 5 * 3)
        assert len({e.id for e in events}) == len(events)
        by_writer: dict[str, list[int]] = {}
        for e in events:
            by_writer.setdefault(e.writer, []).append(e.n)
        for ns in by_writer.values():
            assert sorted(ns) == list(range(min(ns), min(ns) + len(ns)))
        for t in range(8):
            texts = [e.data["text"] for e in store.by_stream(f"t:{t}")]
            assert len(texts) == 35
            for i in range(0, 25, 5):
                at = texts.index(f"{t}.{i}.0")
                assert texts[at:at + 3] == [f"{t}.{i}.{k}" for k in range(3)]
