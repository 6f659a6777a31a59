"""The projection contract: whatever a capability projects into the index, catching up
event by event gives exactly the tables a rebuild from the log gives, a version change
rebuilds them, and events of streams it does not declare never touch them.

Each capability's test case subclasses :class:`ProjectionContract`, names its projection
and the tables to compare (private caches, such as stored fold states, may differ in how
they were reached), and writes a scenario through the public API.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fleet_hive.app.capabilities import CAPABILITIES, projections
from fleet_hive.index.db import Index
from fleet_hive.index.projection import ProjectionSpec


class ProjectionContract:
    name: str  # the capability whose projection is checked
    tables: tuple[str, ...]  # the tables that must equal a rebuild's

    def scenario(self, hive: Any) -> Iterator[str]:
        """Writes through the public API, yielding a label after each step."""
        raise AssertionError("each projection's test case writes its own scenario")

    def spec(self) -> ProjectionSpec:
        (spec,) = [c.projection for c in CAPABILITIES if c.name == self.name and c.projection]
        return spec

    def rows(self, index: Index) -> dict[str, list[tuple]]:
        return {t: sorted(index.read(f"SELECT * FROM {t}", catch_up=False))
                for t in self.tables}

    def reference(self, hive: Any, tmp_path: Path) -> Index:
        index = Index(hive.layout, projections())
        index.path = tmp_path / "reference.sqlite"
        return index

    def test_the_projection_declares_its_tables(self, hive):
        projection = hive.index.projection(self.spec())
        assert set(self.tables) <= set(projection.tables)

    def test_catching_up_step_by_step_equals_a_rebuild(self, hive, tmp_path: Path):
        reference = self.reference(hive, tmp_path)
        try:
            steps = 0
            for label in self.scenario(hive):
                hive.index.catch_up()
                reference.rebuild()
                assert self.rows(hive.index) == self.rows(reference), label
                steps += 1
            assert steps > 0
            assert any(self.rows(hive.index).values()), "the scenario projected nothing"
        finally:
            reference.close()

    def test_a_new_version_rebuilds_the_tables(self, hive):
        list(self.scenario(hive))
        hive.index.catch_up()
        before = self.rows(hive.index)
        db = hive.index.db
        for table in self.tables:
            db.execute(f"DELETE FROM {table}")
        db.execute("UPDATE meta SET value = 'outdated' WHERE key = ?",
                   (f"projection:{self.spec().name}",))
        hive.index.catch_up()
        after = self.rows(hive.index)
        assert after == before, {t: (before[t], after[t]) for t in after if after[t] != before[t]}

    def test_other_streams_leave_the_tables_alone(self, hive):
        list(self.scenario(hive))
        hive.index.catch_up()
        before = self.rows(hive.index)
        stream = "contract:unrelated"
        assert not self.spec().wants(stream)
        hive.events.append("note_added", stream=stream, data={"text": "not mine"})
        hive.index.catch_up()
        after = self.rows(hive.index)
        assert after == before, {t: (before[t], after[t]) for t in after if after[t] != before[t]}
