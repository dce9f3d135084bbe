"""How numbers are shown (arb/display.py): rounding to meaning, never an exponent, places from market rules."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from arb.config import DEFAULT_CONFIG, load_config
from arb.display import DEFAULT_PLACES, Figure, Precision, money, ratio, step_places


@pytest.mark.parametrize(("value", "places", "shown"), [
    (D("-6.168658471655593257103410714"), 6, "-6.168658"),
    (D("0.7216997054130354731803117712"), 6, "0.7217"),
    (D("0E-12"), 6, "0"),
    (D("-0.0000001"), 6, "0"),  # rounds to zero: no "-0"
    (D("5548.0698509885"), 5, "5548.06985"),
    (D("200.0"), 8, "200"),
    (D("0.0000005"), 6, "0"),  # half to even
    (D("0.0000015"), 6, "0.000002"),
    (D("1E+3"), 2, "1000"),
    (D("123456789012345.123456789"), 14, "123456789012345.123456789"),  # more digits than the default context
    (None, 6, "-"),
])  # fmt: skip
def test_money(value: D | None, places: int, shown: str) -> None:
    assert money(value, places) == shown


@pytest.mark.parametrize(("value", "shown"), [
    (D("0.9375"), "0.9375"),
    (D("0.93755"), "0.9376"),
    (D("1"), "1"),
    (D("0.6"), "0.6"),
    (D("0.000123456"), "0.0001235"),
    (D("9.99995"), "10"),
    (D("123456"), "123500"),
    (D("0E-9"), "0"),
    (D("-0.33333333333333333333"), "-0.3333"),
    (None, "-"),
])  # fmt: skip
def test_ratio_has_four_significant_digits(value: D | None, shown: str) -> None:
    assert ratio(value) == shown


@pytest.mark.parametrize(("step", "places"), [
    (D("0.001"), 3), (D("0.0010"), 3), (D("0.00032"), 5), (D("1"), 0), (D("10"), 0), (D("1E-8"), 8),
])  # fmt: skip
def test_step_places(step: D, places: int) -> None:
    assert step_places(step) == places


def test_shipped_config_precision() -> None:
    """Gate LINK/USDT: price 0.001, amount 0.01, fee 0.000175; HTX: 0.0001, 0.01, 0.00032."""
    p = Precision.from_snapshot(load_config(DEFAULT_CONFIG).snapshot())
    assert p.asset("USDT", "gate") == 5 and p.asset("USDT", "htx") == 6 and p.asset("USDT") == 6
    assert p.asset("LINK", "gate") == 8 and p.asset("LINK", "htx") == 7 and p.asset("LINK") == 8
    assert p.quote("LINK/USDT") == 6 and p.pnl() == 6 and p.price("LINK/USDT") == 4
    assert p.base("LINK/USDT", "htx") == 7 and p.base("LINK/USDT", "htx", "gate") == 8
    # A base fee on HTX (0.00032 * 20.00 LINK) is shown exactly, not rounded into the 0.01 amount step.
    assert money(D("200") + D("20.00") - D("0.00032") * D("20.00"), p.asset("LINK", "htx")) == "219.9936"
    assert p.asset("GT") == p.asset("LINK", "okx") == 8  # an asset no rule describes: the default (gate's)


@pytest.mark.parametrize("snapshot", [
    None, {}, {"venues": None}, {"venues": {"x": "y"}}, {"venues": {"x": {"markets": {"BAD": {}}}}},
    {"venues": {"x": {"taker_fee": "nan", "markets": {"A/B": {"price_step": "0", "amount_step": "x"}}}}},
])  # fmt: skip
def test_a_snapshot_without_usable_rules_gives_the_defaults(snapshot: object) -> None:
    p = Precision.from_snapshot(snapshot)  # type: ignore[arg-type]
    assert (p.asset("USDT"), p.quote("A/B"), p.price("A/B"), p.pnl()) == (DEFAULT_PLACES,) * 4


def test_figure_shows_rounded_and_keeps_exact() -> None:
    assert (str(Figure(D("0.380166085760"), 6)), Figure(D("0.380166085760"), 6).exact) == (
        "0.380166", "0.380166085760")
    assert str(Figure(D("0.93755"), None)) == "0.9376"


def test_a_held_row_says_what_it_is_and_a_position_held_before_the_run_what_it_held_at_both_ends() -> None:
    from arb.display import held_what

    assert held_what({"linear": False, "amount": "-2"}, 4) == "spot change"
    assert held_what({"linear": True, "position": True, "amount": "2"}, 4) == "position"
    assert held_what({"linear": False, "position": True, "amount": "3", "contract_size": "100"}, 0) == "position"
    assert held_what({"linear": True, "position": True, "amount": "2", "opening": "-2"}, 4) == (
        "position change (-2 held at the start, 0 at the end)")
    assert held_what({"linear": True, "position": True, "amount": "0.5", "opening": "-2.00001"}, 4) == (
        "position change (-2 held at the start, -1.5 at the end)")
