"""Plain data classes (``kernel/plain.py``) behave as the dataclasses and named tuples they
replaced: same constructors and defaults, equality, immutability where it was frozen,
``replace``, ``repr``; and the modules read commands import declare none with
``dataclasses`` or ``typing.NamedTuple``."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

from fleet_hive.events.envelope import Event
from fleet_hive.events.log import PendingEvent, WriterState
from fleet_hive.events.segments import Line, ReadResult
from fleet_hive.index.db import Damage, IndexStatus
from fleet_hive.index.projection import ProjectionSpec
from fleet_hive.index.unit_of_work import NewEvent
from fleet_hive.kernel.layout import Layout
from fleet_hive.kernel.liveness import ProcessId
from fleet_hive.missions.decide import NewSortie
from fleet_hive.missions.model import MISSION_TRANSITIONS, Mission, Sortie
from fleet_hive.reservations.model import CheckResult, Conflict, Reservation

PACKAGE = Path(__file__).resolve().parents[2] / "fleet_hive"

#: Modules that ``ready``, ``status``, ``lock check``, ``events list`` and ``sortie show``
#: import: none may build its classes with ``dataclasses`` or ``typing.NamedTuple``.
READ_PATH = [
    "kernel/layout.py", "kernel/globs.py", "kernel/liveness.py", "kernel/plain.py",
    "events/envelope.py", "events/segments.py", "events/log.py", "events/missing.py",
    "index/db.py", "index/projection.py", "index/unit_of_work.py", "app/capabilities.py",
    "missions/model.py", "missions/decide.py", "missions/service.py",
    "missions/projection.py", "reservations/model.py", "reservations/projection.py",
]


@pytest.mark.parametrize("rel", READ_PATH)
def test_read_path_modules_build_no_dataclass_or_named_tuple(rel: str):
    tree = ast.parse((PACKAGE / rel).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("dataclasses", "typing"):
            names = {a.name for a in node.names}
            assert node.module != "dataclasses", rel
            assert "NamedTuple" not in names, rel
        elif isinstance(node, ast.Import):
            assert "dataclasses" not in {a.name for a in node.names}, rel


def _reservation(**kw: object) -> Reservation:
    args = dict(id="r1", path="src/**", holder="ada", mode="exclusive", acquired_at="t0",
                expires_at="t1", reason=None, ttl=60.0, request_id="q1", event_id="e1",
                expires=1.0)
    args.update(kw)
    return Reservation(**args)  # type: ignore[arg-type]


def test_frozen_classes_compare_hash_and_refuse_assignment():
    a, b = _reservation(), _reservation()
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != _reservation(holder="bob")
    assert (a.clock, a.writer, a.n) == (0, "", 0)  # the defaults
    assert len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.holder = "bob"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del a.holder  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.extra = 1  # type: ignore[attr-defined]
    assert a.__eq__(object()) is NotImplemented
    layout = Layout(Path("/repo"))
    assert layout == Layout(Path("/repo")) and hash(layout) == hash(Layout(Path("/repo")))
    assert layout.events == Path("/repo/.fleet/events")  # cached_property still works
    with pytest.raises(AttributeError):
        layout.root = Path("/other")  # type: ignore[misc]
    assert ProcessId(1, "h") == ProcessId(1, "h", None) != ProcessId(1, "h", 5)
    assert MISSION_TRANSITIONS["start"].target == "in_progress"
    assert Damage(1, []) == Damage(1, [])


def test_replace_copies_with_changes():
    a = _reservation()
    b = a.replace(holder="bob", ttl=5.0)
    assert (b.holder, b.ttl, b.path) == ("bob", 5.0, a.path)
    assert a.holder == "ada"
    with pytest.raises(TypeError):
        a.replace(nope=1)


def test_repr_names_every_field():
    assert repr(ProcessId(1, "h")) == "ProcessId(pid=1, host='h', start=None)"
    assert repr(ReadResult()) == "ReadResult(end=0, torn=b'')"
    assert "holder='ada'" in repr(Conflict("a", _reservation()))


def test_mutable_classes_have_fresh_defaults_and_compare_by_value():
    m1, m2 = Mission("m-1"), Mission("m-1")
    assert m1 == m2
    m1.labels.append("x")
    assert m2.labels == [] and m1 != m2
    s = Sortie("s-1", mission_id="m-1")
    assert (s.status, s.priority, s.files, s.order, s.blocked_by) == (
        "pending", 2, [], (0, "", 0), [])
    s.status = "assigned"  # mutable, as the dataclass was
    assert s != Sortie("s-1", mission_id="m-1")
    with pytest.raises(TypeError):
        hash(s)
    with pytest.raises(AttributeError):
        s.extra = 1  # type: ignore[attr-defined]  # __slots__
    assert Sortie.from_doc(s.to_doc()) == s
    assert Mission.from_doc(m1.to_doc()) == m1
    assert NewSortie("t") == NewSortie("t", "", (), (), None, 2, "")
    assert Line(0, b"x", None) == Line(0, b"x", None, None)
    assert WriterState(writer="w").__dict__ == {"writer": "w", "segment": "", "size": 0,
                                                "n": 0, "clock": 0, "fingerprint": ""}
    status = IndexStatus("p", 1, 1, 1, True, 10)
    assert status.to_json()["problems"] == [] and status.to_json()["in_memory"] is None
    assert CheckResult(["a"], None, "exclusive", []).ok


def test_tuple_records_keep_their_named_tuple_behaviour():
    ev = Event("id1", "note_added", "s:1", 3, "w", 1, "t", "ada", None, None, 1, {"a": 1})
    assert ev.seq is None and ev.order_key == (3, "w", 1)
    assert ev == Event(*ev) and ev[0] == "id1" and len(ev) == 13
    assert pickle.loads(pickle.dumps(ev)) == ev
    assert type(pickle.loads(pickle.dumps(ev))) is Event
    assert repr(ev).startswith("Event(id='id1', type='note_added'")
    with pytest.raises(AttributeError):
        ev.seq = 5  # type: ignore[misc]
    assert Event.from_dict(ev.to_json(), 7).seq == 7
    p = PendingEvent("note_added", "s:1", {}, "ada")
    assert (p.schema_version, p.causation_id, p.correlation_id) == (1, None, None)
    n = NewEvent("note_added", "s:1", {}, correlation_id="m-1")
    assert (n.type, n.causation_id, n.correlation_id) == ("note_added", None, "m-1")
    spec = ProjectionSpec("missions", "4", ("mission:m-",), "mod:attr")
    assert spec.wants("mission:m-1") and not spec.wants("sortie:s-1")
    assert spec == ProjectionSpec("missions", "4", ("mission:m-",), "mod:attr")
