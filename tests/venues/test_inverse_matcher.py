"""The matcher on an inverse perpetual (Binance COIN-M): amounts are contracts of 100 USD, margin, fees, PnL and
funding are BTC, the settle currency (arb/margin.py); the wallet ends with start - fees + realized + funding."""

from decimal import Decimal as D

import pytest

from arb.margin import PositionState
from arb.venues.sim.matching import Matcher, Refused
from arb.venues.sim.orders import SimMarket

C = D(100)
COINM = SimMarket("BTC/USD", "BTC", "USD", D("0.1"), D("1"), min_notional=D("100"), taker_fee=D("0.0005"),
                  maker_fee=D("0"), leverage=D("10"), contract_size=C)


def matcher(btc: str = "1") -> Matcher:
    m = Matcher([COINM])
    m.set_balance("a", "BTC", D(btc))
    m.on_book("BTC/USD", "snapshot", [("49999.9", "500")], [("50000", "500")], 0)
    return m


def test_a_buy_opens_a_long_in_contracts_holding_margin_and_paying_its_fee_in_btc() -> None:
    m = matcher()
    order, _ = m.place("a", "BTC/USD", "buy", D("50000"), D("20"), "ioc", "c1", 1)  # 2,000 USD: 0.04 BTC
    assert order.filled_amount == 20
    assert m.position("a", "BTC/USD") == PositionState(D("20"), D("50000"), C)
    btc = m.balance("a", "BTC")
    assert btc.locked == D("0.004")  # 0.04 / 10
    assert btc.available == D("1") - D("0.004") - D("0.00002")  # the fee: 0.04 x 0.0005
    assert set(m.balances["a"]) == {"BTC"} and m.trades[-1].fee_currency == "BTC"


def test_a_close_realizes_in_btc_and_funding_pays_by_the_sign() -> None:
    m = matcher()
    m.set_balance("b", "BTC", D("1"))
    m.place("a", "BTC/USD", "buy", D("50000"), D("20"), "ioc", "l1", 1)  # a: long 20
    m.place("b", "BTC/USD", "sell", D("49999.9"), D("20"), "ioc", "s1", 1)  # b: short 20, needs no USD
    m.on_funding("BTC/USD", D("40000"), D("0.0001"), 1_000, 10)
    paid = m.on_funding("BTC/USD", D("40000"), D("0.0001"), 2_000, 1_000)
    # 2,000 USD at 40,000 is 0.05 BTC: the long pays 0.000005, the short receives it.
    assert [(p.account, p.amount, p.currency) for p in paid] == [("a", D("-0.000005"), "BTC"), ("b", D("0.000005"), "BTC")]
    m.on_book("BTC/USD", "snapshot", [("40000", "500")], [("40000.1", "500")], 2)
    m.place("a", "BTC/USD", "sell", D("40000"), D("20"), "ioc", "x1", 3)  # closes: 2000 x (1/50,000 - 1/40,000)
    assert m.position("a", "BTC/USD") == PositionState(contract_size=C)
    btc = m.balance("a", "BTC")
    fees = D("0.00002") + D("0.000025")  # 0.04 and 0.05 BTC of value at 0.05%
    assert (btc.available, btc.locked) == (D("1") - fees - D("0.01") - D("0.000005"), 0)


def test_a_contract_is_a_fixed_quote_amount_against_the_minimum_and_the_wallet() -> None:
    m = matcher("0.0005")
    with pytest.raises(Refused):  # 10 contracts at 10x hold 0.002 BTC
        m.place("a", "BTC/USD", "sell", D("49999.9"), D("10"), "ioc", "s1", 1)
    assert m.balance("a", "BTC").available == D("0.0005") and not m.positions
    with pytest.raises(Refused):  # half a contract is off the step; none is below the 100 USD minimum
        m.check(COINM, "buy", D("50000"), D("0.5"), "ioc")
