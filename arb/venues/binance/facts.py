"""Binance's client-order-id rule, as data: the same on spot, USD-M and COIN-M; and spot's order budget.

Spot ``POST /api/v3/order``, USD-M ``POST /fapi/v1/order`` and COIN-M ``POST /dapi/v1/order`` take
``newClientOrderId``, and Binance states its rule in error -1100: ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$``. The
order lookups and cancels take ``origClientOrderId``. ccxt 4.5.90's ``binance`` (which ``binanceusdm`` and
``binancecoinm`` subclass) maps the unified ``clientOrderId`` to ``newClientOrderId`` in ``create_order``
and to ``origClientOrderId`` in ``fetch_order`` and ``cancel_order`` for all three markets (read in its
source), so an order whose answer was lost can be found again: live trading is allowed.
"""

from __future__ import annotations

from arb.domain.ids import ClientIdFormat
from arb.venues.generic.client_ids import ClientIdFacts
from arb.venues.throttle import OrderWindow

CLIENT_IDS = ClientIdFacts(
    ClientIdFormat(max_length=36, body=r"[.A-Z:/a-z0-9_-]+",
                   source="Binance API docs, POST /api/v3/order newClientOrderId (error -1100 pattern)"),
    ("newClientOrderId", "origClientOrderId"))

SPOT_ORDER_BUDGET = (OrderWindow(100, 10.0), OrderWindow(200_000, 86_400.0))
