"""Gate v4 JSON shapes of the matcher's markets, orders and trades (``arb/venues/sim/orders.py``).

Every amount is a ``Decimal``; the JSON shapes render them as plain decimal strings the way Gate does
(no exponent, no trailing zeros), so ccxt and our parser see what they would see from Gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from arb.venues.sim.orders import SimMarket, SimOrder, SimTrade
from arb.venues.sim.queue import QueueModel

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
    queue: QueueModel = QueueModel()  # the simulation's assumption (arb/venues/sim/queue.py): Gate lists none

    @property
    def market(self) -> SimMarket:
        """The market the matcher trades: Gate's precisions as steps, a buy's fee taken in base."""
        return SimMarket(self.id, self.base, self.quote, Decimal(1).scaleb(-self.precision),
                         Decimal(1).scaleb(-self.amount_precision), self.min_base_amount, self.min_quote_amount,
                         self.taker_fee, self.maker_fee, "base", queue=self.queue)

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


def avg_deal_price(order: SimOrder) -> Decimal:
    if order.filled_amount == 0:
        return ZERO
    avg = order.filled_total / order.filled_amount
    return avg.quantize(order.market.price_step.scaleb(-8), rounding=ROUND_HALF_EVEN).normalize()


def order_json(order: SimOrder, event: str | None = None, amend_text: str = "-") -> dict[str, Any]:
    """``/spot/orders`` as Gate answers it; with ``event``, a ``spot.orders`` push (put/update/finish).
    ``amend_text``: the order's last amend's, ``-`` when it has none."""
    market = order.market
    other = market.quote if order.side == "buy" else market.base
    body: dict[str, Any] = {
        "id": str(order.id),
        "text": order.client_id,
        "amend_text": amend_text,
        "create_time": str(order.create_ms // 1000),
        "update_time": str(order.update_ms // 1000),
        "create_time_ms": order.create_ms,
        "update_time_ms": order.update_ms,
        "status": order.status,
        "currency_pair": market.id,
        "type": "limit",
        "account": "spot",
        "side": order.side,
        "amount": fmt(order.amount),
        "price": fmt(order.price),
        "time_in_force": order.time_in_force,
        "iceberg": "0",
        "left": fmt(order.left),
        "filled_amount": fmt(order.filled_amount),
        "fill_price": fmt(order.filled_total),
        "filled_total": fmt(order.filled_total),
        "avg_deal_price": fmt(avg_deal_price(order)),
        "fee": fmt(order.fee),
        "fee_currency": order.fee_currency,
        "point_fee": "0",
        "gt_fee": "0",
        "gt_maker_fee": "0",
        "gt_taker_fee": "0",
        "gt_discount": False,
        "rebated_fee": "0",
        "rebated_fee_currency": other,
        "stp_id": 0,
        "stp_act": "-",
        "finish_as": order.finish_as,
    }
    if event is not None:  # WebSocket spot.orders pushes say what happened
        body["event"] = event
        body["create_time_ms"] = str(order.create_ms)
        body["update_time_ms"] = str(order.update_ms)
    return body


def trade_json(trade: SimTrade, amend_text: str = "-", gt_fee: Decimal = ZERO) -> dict[str, Any]:
    """``/spot/my_trades`` as Gate answers it (``amend_text``: its order's last; ``gt_fee``: what it paid in
    GT with deduction on, its ``fee`` then 0)."""
    return {
        "id": str(trade.id),
        "create_time": str(trade.create_ms // 1000),
        "create_time_ms": f"{trade.create_ms}.000",
        "currency_pair": trade.market,
        "side": trade.side,
        "role": trade.role,
        "amount": fmt(trade.amount),
        "price": fmt(trade.price),
        "order_id": str(trade.order_id),
        "fee": "0" if gt_fee else fmt(trade.fee),
        "fee_currency": trade.fee_currency,
        "point_fee": "0",
        "gt_fee": fmt(gt_fee),
        "amend_text": amend_text,
        "sequence_id": str(trade.id),
        "text": trade.client_id,
    }


def trade_ws_json(trade: SimTrade, amend_text: str = "-", gt_fee: Decimal = ZERO) -> dict[str, Any]:
    """A ``spot.usertrades`` push."""
    body = trade_json(trade, amend_text, gt_fee)
    body["create_time"] = trade.create_ms // 1000
    body["id"] = trade.id
    return body
