"""Gate v4's public trades (``spot.trades`` updates) as capture trades: for the converter and the live feed.

An update's ``result`` is one trade: ``id``, ``create_time`` (s), ``create_time_ms`` (a string of ms, its
fraction the finer time: ``"1619093543708.2642"``), ``side``, ``currency_pair``, ``amount``, ``price``. Gate's
public trade channel tells only the taker's side, which is the capture's ``side`` (the aggressor's) as it
stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from arb.marketdata.capture import CaptureTrade, checked_trade

CHANNEL = "spot.trades"


def _ms(value: object) -> int | None:
    """``create_time_ms`` as whole milliseconds (the fraction cut off); ``None`` when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"'create_time_ms' must be a string of milliseconds, got {value!r:.40}")
    try:
        return int(Decimal(value))
    except (ArithmeticError, ValueError):  # InvalidOperation, an infinity's OverflowError
        raise ValueError(f"'create_time_ms' must be a string of milliseconds, got {value!r:.40}") from None


def trade_of(result: Mapping[str, Any], ts: int, venue: str, symbol: str) -> CaptureTrade:
    """The capture trade of one ``spot.trades`` update's ``result`` received at ``ts`` (ms), under ``venue``
    and the unified ``symbol`` of its ``currency_pair``. ``KeyError`` for a missing field, ``ValueError``
    for one the capture format would refuse."""
    trade_id = result["id"]
    if isinstance(trade_id, bool) or not isinstance(trade_id, int | str):
        raise ValueError(f"trade 'id' must be an integer, got {trade_id!r:.40}")
    return checked_trade(ts, venue, symbol, result["price"], result["amount"], result["side"], str(trade_id),
                         _ms(result.get("create_time_ms")))
