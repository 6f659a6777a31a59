"""The API token file: made once with mode 0600, read back, never replaced, narrowed."""

from __future__ import annotations

import stat
from pathlib import Path

from fleet_hive.kernel.tokens import ensure_token, read_token


def test_a_token_is_made_private_once_and_then_reused(tmp_path: Path):
    path = tmp_path / "local" / "token"
    assert read_token(path) is None
    token = ensure_token(path)
    assert len(token) >= 40 and token.isascii()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_token(path) == token == read_token(path)


def test_a_readable_token_is_narrowed_and_an_empty_one_replaced(tmp_path: Path):
    path = tmp_path / "token"
    path.write_text("kept\n")
    path.chmod(0o644)
    assert ensure_token(path) == "kept"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("")
    fresh = ensure_token(path)
    assert fresh and fresh != "kept" and read_token(path) == fresh


def test_init_makes_the_token(repo: Path):
    import fleet_hive

    fleet_hive.init(repo).close()
    token = repo / ".fleet" / "local" / "token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    before = token.read_text()
    fleet_hive.init(repo).close()  # idempotent: the same token
    assert token.read_text() == before
