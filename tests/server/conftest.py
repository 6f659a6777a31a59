"""A real ``fleet-hive serve`` on loopback over a real repository, one per test module
(starting one costs a second or two); tests that need a fresh repository start their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed: "
                    "pip install 'fleet-hive[server]'")
pytest.importorskip("httpx", reason="httpx is in the test extra")

from ..support.api import ApiServer, new_repo, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    repo = new_repo(tmp_path_factory.mktemp("served") / "repo")
    # no rate limit here: the module's tests fire requests back to back
    with serving(repo, "--rate-limit", "0") as s:
        yield s
