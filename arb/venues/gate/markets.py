"""ccxt market structures built offline from ``/spot/currency_pairs`` entries.

``GateExchange.set_spot_markets(pairs)`` uses this so a client can be made ready without any network
call (tests, a sandbox, a cached pair list). The shape follows ccxt 4.5's gate ``fetch_spot_markets``
(TICK_SIZE precision: ``precision.price`` is the tick, not a decimal count); a test checks it field by
field against ccxt parsing the same payload over HTTP. These floats are ccxt-internal; arb's own exact
rules come from :func:`arb.venues.gate.facts.market_rules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(Decimal(str(value)))


def _tick(decimals: Any) -> float | None:
    if decimals is None:
        return None
    return float(Decimal(1).scaleb(-int(decimals)))


def ccxt_spot_market(pair: Mapping[str, Any]) -> dict[str, Any]:
    market_id = str(pair["id"])
    base_id, quote_id = market_id.split("_")
    base, quote = str(pair.get("base", base_id)).upper(), str(pair.get("quote", quote_id)).upper()
    taker = Decimal(str(pair.get("fee", "0.2"))) / 100
    maker = Decimal(str(pair.get("maker_fee_rate", pair.get("fee", "0.2")))) / 100
    amount_tick = _tick(pair.get("amount_precision"))
    return {
        "id": market_id,
        "symbol": f"{base}/{quote}",
        "base": base,
        "quote": quote,
        "settle": None,
        "baseId": base_id,
        "quoteId": quote_id,
        "settleId": None,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "active": pair.get("trade_status") == "tradable",
        "contract": False,
        "linear": None,
        "inverse": None,
        "taker": float(taker),
        "maker": float(maker),
        "contractSize": None,
        "expiry": None,
        "expiryDatetime": None,
        "strike": None,
        "optionType": None,
        "precision": {"amount": amount_tick, "price": _tick(pair.get("precision"))},
        "limits": {
            "leverage": {"min": 1.0, "max": 1.0},
            "amount": {"min": _num(pair.get("min_base_amount")) or amount_tick, "max": None},
            "price": {"min": None, "max": None},
            "cost": {"min": _num(pair.get("min_quote_amount")), "max": None},
        },
        "created": int(pair["buy_start"]) * 1000 if pair.get("buy_start") else None,
        "info": dict(pair),
    }


def ccxt_spot_markets(pairs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [ccxt_spot_market(pair) for pair in pairs]
