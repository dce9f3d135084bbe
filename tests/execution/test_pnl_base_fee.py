"""Realized PnL with the buy fee taken in base: the fee is counted once (in the base received)."""

from datetime import UTC, datetime
from decimal import Decimal as D

from arb.domain.market import Side
from arb.execution.imbalance import net_base, quote_flow, realized_pnl
from arb.venues.protocol import FillReport

T = datetime(2021, 8, 20, tzinfo=UTC)


def fill(venue: str, side: Side, price: str, amount: str, fee: str, ccy: str) -> FillReport:
    return FillReport(venue, f"{venue}-{side}", None, None, "LINK/USDT", side, D(price), D(amount), D(fee), ccy, T)


def test_the_replayed_pair_from_2021_08_20_00_42_40() -> None:
    # Bought 20 LINK at 27.4 on htx paying 0.0064 LINK fee; sold 19.99 at 27.422 on gate paying 0.095929 USDT.
    fills = [fill("htx", Side.BUY, "27.4", "20.00", "0.0064", "LINK"),
             fill("gate", Side.SELL, "27.422", "19.99", "0.09592901150", "USDT")]
    assert quote_flow(fills, "LINK", "USDT") == D("548.16578") - D("548.000") - D("0.09592901150")
    assert net_base(fills, "LINK") == D("0.0036")  # 20 - 0.0064 fee - 19.99
    # The leftover 0.0036 LINK is worth its cost (27.4); the fee is not charged a second time.
    assert realized_pnl(fills, "LINK", "USDT") == D("0.06985098850") + D("0.0036") * D("27.4")


def test_fully_hedged_pair_is_its_cash_flow() -> None:
    fills = [fill("a", Side.BUY, "10", "1", "0.001", "LINK"), fill("b", Side.SELL, "10.1", "0.999", "0.01", "USDT")]
    assert net_base(fills, "LINK") == 0
    assert realized_pnl(fills, "LINK", "USDT") == D("10.0899") - D("10") - D("0.01")
