"""The integer bounds every query input is held to (SQLite's signed 64 bits)."""

from __future__ import annotations

import pytest

from fleet_hive.kernel.errors import InvalidInputError
from fleet_hive.kernel.limits import MAX_INT64, check_int, check_page


def test_in_range_values_pass_through():
    assert check_int("offset", 0) == 0
    assert check_int("offset", MAX_INT64) == MAX_INT64
    assert check_int("n", -3, minimum=-5) == -3
    check_page(after=None, limit=None, offset=None)
    check_page(after=MAX_INT64, limit=0, offset=5)


@pytest.mark.parametrize(("value", "message"), [
    (MAX_INT64 + 1, f"offset must be an integer from 0 to {MAX_INT64}, got {MAX_INT64 + 1}"),
    (99999999999999999999, "got 99999999999999999999"),
    (-1, "got -1"),
    (True, "offset must be an integer, got True"),
    (1.5, "offset must be an integer, got 1.5"),
    ("3", "offset must be an integer, got '3'"),
])
def test_out_of_range_or_not_an_integer_is_invalid_input(value, message):
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(")) as info:
        check_int("offset", value)
    assert info.value.exit_code == 1 and info.value.code == "invalid_input"


def test_check_page_names_the_bad_one():
    with pytest.raises(InvalidInputError, match=r"^limit must be"):
        check_page(after=1, limit=2**64)
