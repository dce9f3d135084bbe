"""Gate v4's USDT-perpetual tickers (``futures.tickers`` updates) as capture funding lines: for the live feed.

An update's ``result`` is a list of tickers, one per contract: ``contract``, ``mark_price``, ``index_price``,
``funding_rate`` (the rate of the current funding period, settled at its end), ``last`` and 24-hour figures.
The ticker does not say when the period ends: that is the contract's ``funding_next_apply`` (seconds), from
``/futures/usdt/contracts/{contract}``, which the feed reads when it starts and again once a ticker's time has
passed it (``feed.GateFuturesBookFeed``). The frame's ``time_ms`` is the line's exchange time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from arb.marketdata.capture import CaptureFunding, checked_funding

CHANNEL = "futures.tickers"


def funding_of(ticker: Mapping[str, Any], ts: int, venue: str, symbol: str, funding_ts: int,
               exchange_ts: int | None) -> CaptureFunding:
    """The capture funding line of one ticker received at ``ts`` (ms), the rate settling at ``funding_ts``.
    ``KeyError`` for a missing field, ``ValueError`` for one the capture format would refuse. An empty
    ``index_price`` (Gate's where it has none) is left out."""
    return checked_funding(ts, venue, symbol, ticker["mark_price"], ticker["funding_rate"], funding_ts,
                           ticker.get("index_price") or None, exchange_ts)


def next_apply_ms(contract: Mapping[str, Any]) -> int | None:
    """A contract's next funding time in ms (``funding_next_apply``, seconds), or None when it states none."""
    value = contract.get("funding_next_apply")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 2**42:
        return None
    return round(value * 1000)
