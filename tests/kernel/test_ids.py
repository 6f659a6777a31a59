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


def test_a_ulid_is_its_128_bits_in_crockford_base32():
    import random

    from fleet_hive.kernel import ids

    rng = random.Random(11)
    cases = [(0, 0), (2**48 - 1, 2**80 - 1), (1, 1), (2**47, 2**79)]
    cases += [(rng.getrandbits(48), rng.getrandbits(80)) for _ in range(2_000)]
    for ms, bits in cases:
        # the plain definition: 26 digits of the 130-bit number, most significant first
        assert ids._time_part(ms) + ids._random_part(bits) == ids._encode((ms << 80) | bits, 26)


def test_ulids_of_a_batch_share_their_millisecond_and_nothing_else():
    from fleet_hive.kernel import ids

    now = time.time_ns() // 1_000_000
    batch = ids.new_ulids(5_000, now)
    assert len(set(batch)) == 5_000
    assert {u[:10] for u in batch} == {ids.new_ulid(now)[:10]}
    assert all(len(u) == 26 and set(u) <= set(ids._CROCKFORD) for u in batch)
    assert ids._decode(batch[0][:10], ids._CROCKFORD) == now
    assert max(ids.new_ulids(3, now)) < min(ids.new_ulids(3, now + 1))
    assert ids.new_ulids(0) == []
