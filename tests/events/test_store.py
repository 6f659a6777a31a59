"""One contract, two event stores: the JSONL+index store and the in-memory one."""

from __future__ import annotations

import pytest

from fleet_hive.events.store import MemoryEventStore
from tests.contracts.event_store import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self):
        return MemoryEventStore(actor="tester")


class TestJsonlStore(StoreContract):
    @pytest.fixture
    def store(self, hive):
        return hive.events
