"""The account's own trades and order updates as Gate v4 tells them: ``spot.usertrades`` pushes and
``GET /spot/my_trades`` rows (one shape, :class:`GateTrade`), ``spot.orders`` pushes and ``/spot/orders/{id}``
answers (:class:`OrderState`). Pure: a dict in, exact ``Decimal``s out; ``KeyError``/``ValueError`` for what
cannot be read.

A trade's fees: ``fee`` in ``fee_currency`` as usual, and Gate's deductions, ``gt_fee`` (paid in GT when GT
fee deduction is on) and ``point_fee`` (paid in points). :class:`GateTrade` keeps all three. Its
:class:`~arb.domain.venue.FillReport` has one fee, the one the trade was charged: ``fee`` when it is not zero,
else the GT fee in ``GT``, else the point fee in ``GATEPOINT`` (ccxt's names for both), so a GT-paid trade is
recorded with what it cost, in the currency it cost, rather than as free (``inventory.py`` counts a fee in a
third currency as that currency's flow). A trade charged in two of them at once keeps the others in
:attr:`GateTrade.fees` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from arb.domain.market import Side
from arb.domain.venue import FillReport

ZERO = Decimal(0)
GT, POINTS = "GT", "GATEPOINT"


@dataclass(frozen=True, slots=True)
class GateTrade:
    """One trade of one of our orders, with every fee Gate charged for it."""

    trade_id: str
    order_id: str
    pair: str  # Gate's name of the market: ``LINK_USDT``
    text: str  # the order's ``text``: our client order id (``t-...``), or Gate's word (``apiv4``, ``web``)
    side: Side
    role: str  # maker | taker
    price: Decimal
    amount: Decimal  # base units
    fee: Decimal
    fee_currency: str
    gt_fee: Decimal
    point_fee: Decimal
    create_ms: Decimal  # Gate's ``create_time_ms``, its fraction kept
    amend_text: str = "-"

    @property
    def client_order_id(self) -> str | None:
        return self.text if self.text.startswith("t-") else None

    @property
    def fees(self) -> tuple[tuple[str, Decimal], ...]:
        """Every fee charged, ``(currency, amount)``, none of them zero."""
        charged = ((self.fee_currency, self.fee), (GT, self.gt_fee), (POINTS, self.point_fee))
        return tuple((currency, amount) for currency, amount in charged if amount)

    def report(self, venue: str, symbol: str) -> FillReport:
        """The trade as the venue protocol reports it, under the engine's ``symbol`` (the module docstring
        says which fee it carries)."""
        fee, currency = next(((a, c) for c, a in self.fees), (ZERO, self.fee_currency))
        seconds, ms = divmod(self.create_ms, 1000)
        ts = datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=int(ms * 1000))
        return FillReport(venue=venue, trade_id=self.trade_id, client_order_id=self.client_order_id,
                          venue_order_id=self.order_id, symbol=symbol, side=self.side, price=self.price,
                          amount=self.amount, fee=fee, fee_currency=currency, ts=ts)


@dataclass(frozen=True, slots=True)
class OrderState:
    """What a ``spot.orders`` push or an order lookup says of one order: enough to know whether trades of it
    may still be unseen."""

    order_id: str
    pair: str
    is_open: bool
    amount: Decimal
    filled: Decimal
    event: str | None  # the push's ``put``/``update``/``finish``; None for a lookup


def _text(value: object, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{name!r} must be a string, got {value!r:.40}")
    return str(value)


def _dec(value: object, name: str, *, default: Decimal | None = None) -> Decimal:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{name!r} must be a decimal string, got {value!r:.40}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{name!r} must be a decimal string, got {value!r:.40}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{name!r} must be a finite, non-negative decimal, got {value!r:.40}")
    return number


def trade_of(raw: Mapping[str, Any]) -> GateTrade:
    """A ``spot.usertrades`` result item or a ``/spot/my_trades`` row (ids as numbers or strings; a missing
    ``gt_fee``/``point_fee`` is zero; ``create_time_ms`` falls back to ``create_time`` seconds)."""
    side = _text(raw["side"], "side")
    if side not in ("buy", "sell"):
        raise ValueError(f"'side' must be buy or sell, got {side!r:.40}")
    if raw.get("create_time_ms") is not None:
        create_ms = _dec(raw["create_time_ms"], "create_time_ms")
    else:
        create_ms = _dec(raw["create_time"], "create_time") * 1000
    amount, price = _dec(raw["amount"], "amount"), _dec(raw["price"], "price")
    if amount == 0 or price == 0:
        raise ValueError("a trade's amount and price must be positive")
    return GateTrade(
        trade_id=_text(raw["id"], "id"),
        order_id=_text(raw["order_id"], "order_id"),
        pair=_text(raw["currency_pair"], "currency_pair"),
        text=_text(raw.get("text") or "", "text"),
        side=Side(side),
        role=_text(raw.get("role") or "", "role"),
        price=price,
        amount=amount,
        fee=_dec(raw.get("fee"), "fee", default=ZERO),
        fee_currency=_text(raw.get("fee_currency") or "", "fee_currency"),
        gt_fee=_dec(raw.get("gt_fee"), "gt_fee", default=ZERO),
        point_fee=_dec(raw.get("point_fee"), "point_fee", default=ZERO),
        create_ms=create_ms,
        amend_text=_text(raw.get("amend_text") or "-", "amend_text"),
    )


def order_of(raw: Mapping[str, Any]) -> OrderState:
    """A ``spot.orders`` result item or a ``/spot/orders/{id}`` answer. Filled is ``filled_amount`` where
    Gate sends it, else ``amount - left``."""
    amount = _dec(raw["amount"], "amount")
    if raw.get("filled_amount") is not None:
        filled = _dec(raw["filled_amount"], "filled_amount")
    else:
        filled = amount - _dec(raw["left"], "left")
    event = raw.get("event")
    status = raw.get("status")
    is_open = status == "open" if status is not None else event != "finish"
    if event == "finish":
        is_open = False
    return OrderState(order_id=_text(raw["id"], "id"), pair=_text(raw["currency_pair"], "currency_pair"),
                      is_open=is_open, amount=amount, filled=filled,
                      event=event if isinstance(event, str) else None)
