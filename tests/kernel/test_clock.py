"""One time format for everything in .fleet/, and its inverse."""

from __future__ import annotations

import re

import pytest

from fleet_hive.kernel import clock

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_iso_round_trips_to_the_microsecond():
    for ts in (0.0, 1_800_000_000.123456, 1_700_000_000.999999):
        text = clock.iso(ts)
        assert ISO.match(text), text
        assert abs(clock.epoch(text) - ts) < 1e-6


def test_utc_now_has_the_same_format_and_is_now():
    text = clock.utc_now()
    assert ISO.match(text), text
    assert abs(clock.epoch(text) - clock.now()) < 5


def test_epoch_accepts_other_zones():
    assert clock.epoch("1970-01-01T01:00:00+01:00") == 0.0


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("5m", 300), ("1h30m", 5400),
                                           ("2", 2), (" 1D ", 86400), ("0", None),
                                           ("5 minutes", None), ("", None), (True, None)])
def test_duration_seconds(text, seconds):
    from fleet_hive.kernel.clock import duration_seconds

    assert duration_seconds(text) == seconds


def test_parse_duration_says_what_is_wrong_and_allows_zero_only_when_asked():
    from fleet_hive.kernel.clock import parse_duration
    from fleet_hive.kernel.errors import InvalidInputError

    assert parse_duration("1h30m", "--older-than") == 5400
    assert parse_duration("0", "--older-than", zero=True) == 0
    with pytest.raises(InvalidInputError, match="--older-than must be longer than zero"):
        parse_duration("0s", "--older-than")
    with pytest.raises(InvalidInputError, match="invalid duration 'soon' for stale_after"):
        parse_duration("soon", "stale_after")
    with pytest.raises(InvalidInputError, match="invalid duration"):
        parse_duration("30 d", "checkpoint_max_age", zero=True)  # one grammar: no inner blank
