"""The reservations projection against the projection contract."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.contracts.projection import ProjectionContract


class TestReservationsProjection(ProjectionContract):
    name = "reservations"
    tables = ("reservations", "reservation_waits", "reservation_digest")

    def scenario(self, hive: Any) -> Iterator[str]:
        res = hive.reservations
        res.acquire(["src/**"], holder="ada", ttl=600)
        yield "exclusive glob"
        res.acquire(["docs/a.md", "docs/b.md"], holder="bob", ttl=600, shared=True)
        yield "shared paths"
        res.renew("ada", ttl=900)
        yield "renewed"
        res.release(["docs/a.md"], holder="bob")
        yield "one released"
        res.release_all("ada")
        yield "all of one holder released"
