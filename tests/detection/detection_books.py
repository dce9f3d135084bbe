"""Builders for detection inputs: hand-written books as ``[(price, size), ...]`` lists, best first."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from arb.detection import FeeMode, VenueBook
from arb.domain.market import MarketRules

SYMBOL = "LINK/USDT"


def rules(
    venue: str,
    price_step: str = "0.01",
    amount_step: str = "0.001",
    min_amount: str = "0",
    min_notional: str = "0",
) -> MarketRules:
    return MarketRules(
        venue, SYMBOL, Decimal(price_step), Decimal(amount_step), Decimal(min_amount), Decimal(min_notional)
    )


def book(
    venue: str,
    bids: list[tuple[float, float]],
    asks: list[tuple[float, float]],
    *,
    fee: str = "0.001",
    mode: FeeMode = FeeMode.QUOTE,
    quote: str = "1000000",
    base: str = "1000",
    market: MarketRules | None = None,
    health: str = "live",
    age_ms: int = 10,
    seq: int | None = 7,
) -> VenueBook:
    def col(levels: list[tuple[float, float]], k: int) -> np.ndarray:
        return np.array([lvl[k] for lvl in levels], dtype=np.float64)

    return VenueBook(
        venue=venue,
        bid_px=col(bids, 0),
        bid_sz=col(bids, 1),
        ask_px=col(asks, 0),
        ask_sz=col(asks, 1),
        taker_fee=Decimal(fee),
        fee_mode=mode,
        quote_balance=Decimal(quote),
        base_balance=Decimal(base),
        rules=market or rules(venue),
        health=health,
        age_ms=age_ms,
        seq=seq,
    )
