"""Binance's public trades (the ``<symbol>@trade`` stream of spot, USD-M and COIN-M) as capture trades, and a
perpetual's mark price and funding rate (``<symbol>@markPrice@1s``) as capture funding lines.

One ``trade`` event is one trade: ``t`` its id, ``p`` and ``q`` its price and amount (on COIN-M in
contracts, as the book's sizes), ``T`` its time. Binance does not say which side took; it says whether the
buyer was the maker (``m``). A buyer that made means a seller that took: the aggressor sold. So ``m: true``
is a ``"sell"`` trade and ``m: false`` a ``"buy"``. The converter and the live feed both read trades here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arb.marketdata.capture import CaptureFunding, CaptureTrade, checked_funding, checked_trade


def trade_of(data: Mapping[str, Any], ts: int, venue: str, symbol: str) -> CaptureTrade:
    """The capture trade of one ``trade`` event received at ``ts`` (ms), under ``venue`` and the unified
    ``symbol``. ``KeyError`` for a missing field, ``ValueError`` for one the capture format would refuse."""
    buyer_made = data["m"]
    if not isinstance(buyer_made, bool):
        raise ValueError(f"'m' (the buyer is the maker) must be true or false, got {buyer_made!r:.40}")
    trade_id = data["t"]
    if not isinstance(trade_id, int) or isinstance(trade_id, bool):
        raise ValueError(f"trade id 't' must be an integer, got {trade_id!r:.40}")
    return checked_trade(ts, venue, symbol, data["p"], data["q"], "sell" if buyer_made else "buy", str(trade_id),
                         data.get("T"))


def funding_of(data: Mapping[str, Any], ts: int, venue: str, symbol: str) -> CaptureFunding:
    """The capture funding line of one ``markPriceUpdate`` event received at ``ts`` (ms): ``p`` the mark,
    ``r`` the funding rate for ``T``, the next funding time, ``i`` the index, ``E`` the event time.
    ``KeyError`` for a missing field, ``ValueError`` for one the capture format would refuse."""
    return checked_funding(ts, venue, symbol, data["p"], data["r"], data["T"], data.get("i"), data.get("E"))
