"""Venue facts as data, client order ids and /spot/currency_pairs -> exact MarketRules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from gate_stub import PAIRS

from arb.domain.market import Side
from arb.errors import InvalidOrder
from arb.venues.gate import GATE, client_order_id, parse_currency_pairs
from arb.venues.gate.facts import market_rules, validate_client_order_id


def test_gate_facts() -> None:
    assert GATE.client_id_prefix == "t-" and GATE.client_id_max_bytes == 28
    assert GATE.order_placements_per_second_per_market == 10
    assert GATE.market_buy_sized_in_quote is True and GATE.ioc_time_in_force == "ioc"
    assert GATE.max_clock_skew_s == 60


@pytest.mark.parametrize("suffix", ["a", "arb.1700000000_BTC-USDT", "x" * 28, "A.b_C-9"])
def test_valid_client_order_ids(suffix: str) -> None:
    assert client_order_id(suffix) == "t-" + suffix


@pytest.mark.parametrize(
    ("text", "why"),
    [("t-" + "x" * 29, "max 28"), ("t-", "may only use"), ("t-a b", "may only use"), ("t-a/b", "may only use"),
     ("t-é", "may only use"), ("arb-1", "must start with"), ("T-1", "must start with")],
)  # fmt: skip
def test_invalid_client_order_ids(text: str, why: str) -> None:
    with pytest.raises(InvalidOrder, match=why):
        validate_client_order_id(text)


def test_currency_pairs_to_exact_rules() -> None:
    rules = parse_currency_pairs(PAIRS)
    assert set(rules) == {"BTC/USDT", "BTC/USDC"}  # OLD_USDT is not tradable
    btc = rules["BTC/USDT"]
    assert btc.venue == "gate"
    assert btc.price_step == Decimal("0.1") and btc.amount_step == Decimal("0.000001")
    assert btc.min_amount == Decimal("0.00001") and btc.min_notional == Decimal("3")
    assert btc.round_price(Decimal("65000.19"), Side.BUY) == Decimal("65000.1")
    assert btc.round_price(Decimal("65000.11"), Side.SELL) == Decimal("65000.2")
    assert "OLD/USDT" in parse_currency_pairs(PAIRS, tradable_only=False)
    assert market_rules(PAIRS[2]).price_step == Decimal("0.0001")


def test_malformed_pair_names_itself() -> None:
    with pytest.raises(ValueError, match="BAD_PAIR"):
        market_rules({"id": "BAD_PAIR", "base": "BAD", "quote": "PAIR", "precision": "x", "amount_precision": 2})
