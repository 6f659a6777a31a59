"""The missions projection against the projection contract."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.contracts.projection import ProjectionContract


class TestMissionsProjection(ProjectionContract):
    name = "missions"
    tables = ("missions", "mission_labels", "mission_counts", "sorties", "sortie_deps")

    def scenario(self, hive: Any) -> Iterator[str]:
        m = hive.missions.create("contract", labels=["api"])
        yield "mission created"
        a = hive.sorties.add(m.id, "design", files=["docs/**"])
        b = hive.sorties.add(m.id, "build", after=[a.id])
        yield "sorties added"
        hive.sorties.claim(a.id, specialist="ada")
        hive.sorties.start(a.id)
        hive.sorties.progress(a.id, 40, note="half")
        yield "sortie in progress"
        hive.sorties.complete(a.id)
        hive.missions.update(m.id, title="contract, renamed", labels=["api", "x"])
        yield "sortie completed, mission renamed"
        hive.sorties.delete(b.id)
        yield "sortie deleted"
