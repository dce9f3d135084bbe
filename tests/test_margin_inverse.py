"""An inverse perpetual's position (arb/margin.py): contracts of a fixed quote size, everything settled in the
base coin. Tables of hand-computed figures, and properties checked against fractions."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction as F

from hypothesis import given
from hypothesis import strategies as st

from arb.margin import (
    PositionState,
    account_margin,
    apply_fill,
    fill_fee,
    funding_payment,
    order_margin,
    settle_value,
)

C = D(100)  # Binance COIN-M BTC: 100 USD a contract
FLAT = PositionState(contract_size=C)
prices = st.decimals("1000", "200000", places=1)
contracts = st.integers(1, 10_000).map(D)


def test_the_figures_of_one_inverse_position() -> None:
    long, realized = apply_fill(FLAT, "buy", D(50_000), D(10))  # 10 x 100 USD at 50,000: 0.02 BTC
    assert (long, realized) == (PositionState(D(10), D(50_000), C), 0)
    assert long.value(D(50_000)) == D("0.02")
    assert long.margin(D(4)) == D("0.005")  # 0.02 / 4
    assert long.unrealized(D(40_000)) == D("-0.005")  # 1000 x (1/50,000 - 1/40,000)
    assert fill_fee(D(10), D(50_000), D("0.0005"), C) == D("0.00001")
    assert funding_payment(D(10), D(40_000), D("0.0001"), C) == D("-0.0000025")  # a long pays a positive rate
    assert funding_payment(D(-10), D(40_000), D("0.0001"), C) == D("0.0000025")
    assert order_margin(D(10), D(50_000), D(4), D("0.0005"), C) == D("0.00501")
    # Closing 4 of them at 40,000 realizes 400 x (1/50,000 - 1/40,000) = -0.002 BTC; the entry stays.
    after, realized = apply_fill(long, "sell", D(40_000), D(4))
    assert (after, realized) == (PositionState(D(6), D(50_000), C), D("-0.002"))


def test_the_entry_averages_harmonically() -> None:
    held, _ = apply_fill(FLAT, "buy", D(40_000), D(10))
    held, _ = apply_fill(held, "buy", D(60_000), D(10))
    assert held.entry == D(48_000)  # 20 / (10/40,000 + 10/60,000), not 50,000
    # Which is what makes the position's value at entry the sum of what each fill was worth.
    assert abs(F(held.value(held.entry)) - F(1000, 40_000) - F(1000, 60_000)) < F(1, 10**55)
    assert settle_value(D(10), D(40_000), C) == D("0.025")


@given(entry=prices, amount=contracts, short=st.booleans())
def test_open_then_close_at_the_same_price_realizes_nothing(entry: D, amount: D, short: bool) -> None:
    opened, _ = apply_fill(FLAT, "sell" if short else "buy", entry, amount)
    closed, realized = apply_fill(opened, "buy" if short else "sell", entry, amount)
    assert realized == 0 and closed == FLAT


@given(fills=st.lists(st.tuples(st.sampled_from(["buy", "sell"]), prices, contracts), min_size=1, max_size=8),
       mark=prices)
def test_realized_plus_unrealized_is_the_position_s_whole_pnl(fills: list[tuple[str, D, D]], mark: D) -> None:
    # What every fill was worth in coin, closed at the mark: sum of signed q * C * (1/p - 1/mark), exactly.
    state, realized, whole = FLAT, D(0), F(0)
    for side, price, amount in fills:
        state, r = apply_fill(state, side, price, amount)
        realized += r
        signed = F(amount) if side == "buy" else -F(amount)
        whole += signed * F(C) * (1 / F(price) - 1 / F(mark))
    assert state.contract_size == C
    assert state.amount == sum((a if s == "buy" else -a for s, _, a in fills), D(0))
    # Each realization is rounded to 1e-12 (half-even); the entry carries 60 digits.
    assert abs(F(realized + state.unrealized(mark)) - whole) <= F(len(fills), 2 * 10**12) + F(1, 10**40)


@given(amount=contracts, entry=prices, wallet=st.decimals("0.001", "100", places=4), short=st.booleans())
def test_the_inverse_liquidation_price_is_where_the_ratio_reaches_one(amount: D, entry: D, wallet: D, short: bool) -> None:
    position = PositionState(-amount if short else amount, entry, C)
    [line] = account_margin(wallet, [("BTC/USD", position, entry)], D("0.004")).positions
    if line.liquidation is None:  # a short whose wallet covers its value at entry: never
        assert short and wallet >= amount * C / entry
        return
    at = account_margin(wallet, [("BTC/USD", position, line.liquidation)], D("0.004"))
    assert at.margin_balance is not None and at.maintenance is not None
    # The price is kept to 1e-12: the two figures meet within what that moves them.
    assert abs(at.margin_balance - at.maintenance) <= amount * C * D("1e-12") / (line.liquidation ** 2) * 10 + D("1e-12")
    if at.margin_balance > 0 and wallet > amount * C / entry * D("0.004"):
        assert line.liquidation < entry if not short else line.liquidation > entry
