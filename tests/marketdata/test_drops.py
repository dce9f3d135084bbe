"""The level checks every frame passes (``drops.checked_levels``): one rule, whichever build runs it.

Compiled (``setup.py``), :func:`decimal_digits` reads a number's characters in C; interpreted it is the
regex and the strip. Both are held here to the definition: :func:`plain_decimal` and
:func:`significant_digits`.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arb.marketdata.drops import (
    MAX_NUMBER_CHARS,
    Dropped,
    checked_levels,
    decimal_digits,
    plain_decimal,
    significant_digits,
)


def reference(value: object) -> int:
    """The rule, spelled the slow way."""
    return significant_digits(value) if plain_decimal(value) else -1  # type: ignore[arg-type]


class _Text(str):
    """A str subclass: CPython stores it apart from its object (not compact), read the same way."""


@pytest.mark.parametrize(
    ("value", "digits"),
    [
        ("27.05", 4), ("0", 0), ("0.000", 0), ("00", 0), ("100", 1), ("100.5", 4), ("0.0010", 1),
        ("61737.63000000", 7), ("27.0500000000000000001", 21), ("1" * MAX_NUMBER_CHARS, MAX_NUMBER_CHARS),
        ("1" * (MAX_NUMBER_CHARS + 1), -1), ("", -1), (".5", -1), ("5.", -1), ("1.2.3", -1), ("..", -1),
        (".", -1), ("-1", -1), ("+1", -1), ("1e5", -1), ("1E5", -1), ("NaN", -1), ("inf", -1), (" 1", -1),
        ("1 ", -1), ("1\n", -1), ("1,5", -1), ("0x1b", -1), ("\u0663", -1), ("\uff11", -1), ("1_000", -1),
        ("1\u00e9", -1), ("2\u00b2", -1), (_Text("27.05"), 4), (_Text("27.0\u00e9"), -1),
        (None, -1), (5, -1), (5.0, -1), (True, -1), (b"5", -1), (["5"], -1),
    ],
)
def test_decimal_digits_table(value: object, digits: int) -> None:
    assert decimal_digits(value) == digits
    assert reference(value) == digits


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789.eE+-x \u0663", max_size=45) | st.text(max_size=20))
def test_decimal_digits_is_the_regex_rule(value: str) -> None:
    assert decimal_digits(value) == reference(value)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789.eE+-x \u0663", max_size=45) | st.text(max_size=20), st.booleans())
def test_a_level_passes_exactly_by_the_regex_rule(value: str, as_price: bool) -> None:
    # checked_levels reads JSON's pairs (exact lists of exact strs) by a faster pass than decimal_digits
    # (no digit count where none is needed): the same rule, as a price (zero refused, digits counted) and
    # as a size.
    level = [value, "1"] if as_price else ["27.05", value]
    digits = reference(value)
    if digits < 0 or (as_price and digits == 0):
        with pytest.raises(Dropped) as caught:
            checked_levels([level], "b")
        assert caught.value.reason == "bad_number"
    else:
        assert checked_levels([level], "b") == (([], 1) if as_price and digits > 15 else ([level], 0))


def test_clean_levels_come_back_as_given() -> None:
    raw = [["27.05", "1.5"], ["27.04", "0"]]
    levels, over = checked_levels(raw, "b")
    assert (levels, over) == (raw, 0)
    assert levels is raw  # no copy of a frame that leaves nothing out


def test_over_precise_levels_are_left_out_and_counted() -> None:
    raw = [["27.05", "1"], ["27.0500000000000000001", "2"], ("27.04", "3")]
    assert checked_levels(raw, "b") == ([["27.05", "1"], ("27.04", "3")], 1)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"27.05": "1"}, "missing_field"),
        (None, "missing_field"),
        ([["27.05"]], "bad_level"),
        ([["27.05", "1", "2"]], "bad_level"),
        (["27.05,1"], "bad_level"),
        ([["27.05", "1"], ["27.06", "-1"]], "bad_number"),
        ([["27.05", 1]], "bad_number"),
        ([["1e3", "1"]], "bad_number"),
        ([["NaN", "1"]], "bad_number"),
        ([["27.05", "1" * (MAX_NUMBER_CHARS + 1)]], "bad_number"),
        ([["0.000", "1"]], "bad_number"),  # a zero price
        ([["27.0500000000000000001", "x"]], "bad_number"),  # malformed beats over-precise
    ],
)
def test_malformed_levels_drop_the_frame_with_their_reason(raw: object, reason: str) -> None:
    with pytest.raises(Dropped) as caught:
        checked_levels(raw, "b")
    assert caught.value.reason == reason
