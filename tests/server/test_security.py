"""The guards in isolation: the token check, the actor header, the token bucket."""

from __future__ import annotations

import pytest

from fleet_hive.server.errors import ApiError
from fleet_hive.server.security import RateLimiter, actor_of, check_token


def test_only_the_exact_bearer_token_passes():
    check_token("s3cret", "Bearer s3cret")
    check_token("s3cret", "bearer s3cret")  # the scheme is case-insensitive
    for header in (None, "", "Bearer", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret",
                   "s3cret", "Bearer S3CRET", "Bearer \u00e9"):
        with pytest.raises(ApiError) as e:
            check_token("s3cret", header)
        assert e.value.status == 401 and e.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_actor_header():
    assert actor_of(None) == "api"
    assert actor_of(" agent-1 ") == "agent-1"
    for bad in ("", "   ", "a" * 201, "tab\there"):
        with pytest.raises(ApiError) as e:
            actor_of(bad)
        assert e.value.status == 400


def test_the_token_bucket_refills_at_its_rate_per_client():
    now = [100.0]
    limiter = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("a")
    assert wait == pytest.approx(0.5)
    assert limiter.take("b") == 0  # another client, its own bucket
    now[0] += 0.5
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0
    now[0] += 100  # a long pause refills to the burst, no more
    assert [limiter.take("a") for _ in range(4)].count(0) == 3
    assert RateLimiter(rate=0).take("x") == 0  # off


def test_the_bucket_table_is_bounded():
    limiter = RateLimiter(rate=1, burst=1, max_clients=10)
    for k in range(100):
        limiter.take(f"client-{k}")
    assert len(limiter._buckets) == 10
