"""Sandbox orders, trades, pairs and their Gate v4 JSON shapes.

Every amount is a ``Decimal``; the JSON shapes render them as plain decimal strings the way Gate does
(no exponent, no trailing zeros), so ccxt and our parser see what they would see from Gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


def fmt(value: Decimal) -> str:
    """Plain decimal string: ``Decimal('1.500')`` -> ``'1.5'``, never ``'1E+1'``."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


@dataclass(frozen=True, slots=True)
class PairSpec:
    """One listed currency pair, as ``/spot/currency_pairs`` reports it."""

    id: str  # "LINK_USDT"
    precision: int = 4  # price decimals
    amount_precision: int = 3
    min_base_amount: Decimal = Decimal("0.001")
    min_quote_amount: Decimal = Decimal(1)
    taker_fee: Decimal = Decimal("0.002")  # rates, 0.002 == 0.2 %
    maker_fee: Decimal = Decimal("0.002")

    @property
    def base(self) -> str:
        return self.id.split("_")[0]

    @property
    def quote(self) -> str:
        return self.id.split("_")[1]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "base": self.base,
            "base_name": self.base,
            "quote": self.quote,
            "quote_name": self.quote,
            "fee": fmt(self.taker_fee * 100),
            "maker_fee_rate": fmt(self.maker_fee * 100),
            "min_base_amount": fmt(self.min_base_amount),
            "min_quote_amount": fmt(self.min_quote_amount),
            "amount_precision": self.amount_precision,
            "precision": self.precision,
            "trade_status": "tradable",
            "sell_start": 0,
            "buy_start": 0,
            "type": "normal",
        }


@dataclass(slots=True)
class Order:
    id: int
    key: str
    pair: PairSpec
    side: str  # "buy" | "sell"
    price: Decimal
    amount: Decimal
    time_in_force: str  # gtc | ioc | fok | poc
    text: str
    create_ms: int
    update_ms: int = 0
    filled_amount: Decimal = ZERO
    filled_total: Decimal = ZERO
    fee: Decimal = ZERO
    status: str = "open"  # open | closed | cancelled
    finish_as: str = "open"
    locked: Decimal = ZERO  # what this order still holds locked, in the currency it pays with
    events: list[str] = field(default_factory=list)

    @property
    def left(self) -> Decimal:
        return self.amount - self.filled_amount

    @property
    def fee_currency(self) -> str:
        """Gate charges the fee in the currency received: base for a buy, quote for a sell."""
        return self.pair.base if self.side == "buy" else self.pair.quote

    @property
    def avg_deal_price(self) -> Decimal:
        if self.filled_amount == 0:
            return ZERO
        avg = self.filled_total / self.filled_amount
        return avg.quantize(Decimal(1).scaleb(-(self.pair.precision + 8))).normalize()

    def to_json(self, event: str | None = None) -> dict[str, Any]:
        other = self.pair.quote if self.side == "buy" else self.pair.base
        body: dict[str, Any] = {
            "id": str(self.id),
            "text": self.text,
            "amend_text": "-",
            "create_time": str(self.create_ms // 1000),
            "update_time": str(self.update_ms // 1000),
            "create_time_ms": self.create_ms,
            "update_time_ms": self.update_ms,
            "status": self.status,
            "currency_pair": self.pair.id,
            "type": "limit",
            "account": "spot",
            "side": self.side,
            "amount": fmt(self.amount),
            "price": fmt(self.price),
            "time_in_force": self.time_in_force,
            "iceberg": "0",
            "left": fmt(self.left),
            "filled_amount": fmt(self.filled_amount),
            "fill_price": fmt(self.filled_total),
            "filled_total": fmt(self.filled_total),
            "avg_deal_price": fmt(self.avg_deal_price),
            "fee": fmt(self.fee),
            "fee_currency": self.fee_currency,
            "point_fee": "0",
            "gt_fee": "0",
            "gt_maker_fee": "0",
            "gt_taker_fee": "0",
            "gt_discount": False,
            "rebated_fee": "0",
            "rebated_fee_currency": other,
            "stp_id": 0,
            "stp_act": "-",
            "finish_as": self.finish_as,
        }
        if event is not None:  # WebSocket spot.orders pushes say what happened
            body["event"] = event
            body["create_time_ms"] = str(self.create_ms)
            body["update_time_ms"] = str(self.update_ms)
        return body


@dataclass(frozen=True, slots=True)
class Trade:
    id: int
    order_id: int
    key: str
    pair: str
    side: str
    role: str  # taker | maker
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    text: str
    create_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "create_time": str(self.create_ms // 1000),
            "create_time_ms": f"{self.create_ms}.000",
            "currency_pair": self.pair,
            "side": self.side,
            "role": self.role,
            "amount": fmt(self.amount),
            "price": fmt(self.price),
            "order_id": str(self.order_id),
            "fee": fmt(self.fee),
            "fee_currency": self.fee_currency,
            "point_fee": "0",
            "gt_fee": "0",
            "amend_text": "-",
            "sequence_id": str(self.id),
            "text": self.text,
        }

    def to_ws_json(self) -> dict[str, Any]:
        body = self.to_json()
        body["create_time"] = self.create_ms // 1000
        body["create_time_ms"] = f"{self.create_ms}.000"
        body["id"] = self.id
        return body
