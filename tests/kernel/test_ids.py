"""Identifiers: segment names that sort in the order a writer made them."""

from __future__ import annotations

import time

from fleet_hive.kernel.ids import new_segment_name


def test_a_segment_name_sorts_after_the_previous_one_even_if_the_clock_went_back():
    now = time.time_ns() // 1_000_000
    later = new_segment_name(now + 3_600_000)  # made an hour "ahead", then the clock was set back
    name = new_segment_name(now, after=later)
    assert name > later and len(name) == len(later)
    same_ms = [new_segment_name(now)]
    for _ in range(50):
        same_ms.append(new_segment_name(now, after=same_ms[-1]))
    assert same_ms == sorted(same_ms) and len(set(same_ms)) == len(same_ms)


def test_a_name_that_is_not_a_ulid_is_still_followed():
    assert new_segment_name(after="zzz-not-a-ulid") > "zzz-not-a-ulid"
