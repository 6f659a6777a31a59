"""The learning tests drive many sorties through their lives: their repositories append
without fsync (``durability: none``), which changes nothing they check."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def hive(repo: Path):
    import fleet_hive

    fleet_hive.init(repo).close()
    config = repo / ".fleet" / "config.yaml"
    config.write_text(config.read_text().replace("durability: fsync", "durability: none"))
    h = fleet_hive.open(repo, actor="tester")
    yield h
    h.close()
