"""The learning tests drive many sorties through their lives: their repositories append
without fsync (``durability: none``), which changes nothing they check."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import unsynced_hive


@pytest.fixture
def hive(repo: Path):
    yield from unsynced_hive(repo, "tester")
