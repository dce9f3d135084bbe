"""An account's order and trade history read whole, page by page (``LiveVenue.order_history`` and
``trade_history``, what ``arb audit`` compares with the database), from the sandbox as from Gate:
``GET /spot/orders?status=finished`` and ``/spot/my_trades`` bounded by ``from``/``to`` and paged by
``page``. A venue that pages no history refuses a window holding a full page rather than cut it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from arb.errors import VenueError
from arb.venues.gate.adapter import QUIRKS
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.sandbox import Sandbox
from arb.venues.gate.venue import GateVenue

NOW = datetime.fromtimestamp(1_700_000_000, UTC)  # the sandbox's FakeClock (conftest)


async def _five_filled(exchange: GateExchange, sb: Sandbox) -> list[str]:
    ids = []
    for k in range(5):
        placed = await exchange.private_spot_post_orders({"currency_pair": "LINK_USDT", "side": "buy", "amount": "1",
                                                          "price": "27.094", "time_in_force": "gtc", "text": f"t-h{k}"})
        ids.append(placed["id"])
    sb.push_trade("LINK_USDT", D("27.094"), D("5"), "sell")  # fills all five, one trade each
    return ids


def _venue(exchange: GateExchange, **quirks: object) -> GateVenue:
    return GateVenue("gate", exchange, quirks=dataclasses.replace(QUIRKS, fills_page=2, **quirks))


async def test_every_page_of_the_window_is_read(sb: Sandbox, exchange: GateExchange) -> None:
    ids = await _five_filled(exchange, sb)
    venue = _venue(exchange)
    since, until = NOW - timedelta(seconds=10), NOW + timedelta(seconds=10)
    paced: list[str] = []

    async def pace() -> None:  # the venue's throttle, awaited before each page
        paced.append(exchange.last_request_url or "")

    orders = await venue.order_history("LINK/USDT", since, until, pace)
    assert len(paced) == 3
    assert sorted(o.venue_order_id for o in orders) == sorted(ids)  # 2 + 2 + 1: three pages
    assert "page=3" in exchange.last_request_url and "status=finished" in exchange.last_request_url
    assert {(o.client_order_id, o.amount, o.filled, o.status.value) for o in orders} == {
        (f"t-h{k}", D(1), D(1), "filled") for k in range(5)}
    fills = await venue.trade_history("LINK/USDT", since, until)
    assert sorted(f.venue_order_id for f in fills) == sorted(ids) and len({f.trade_id for f in fills}) == 5
    assert "/spot/my_trades?" in exchange.last_request_url and "page=3" in exchange.last_request_url


async def test_a_window_before_the_orders_holds_none_of_them(sb: Sandbox, exchange: GateExchange) -> None:
    await _five_filled(exchange, sb)
    venue = _venue(exchange)
    before = (NOW - timedelta(hours=2), NOW - timedelta(hours=1))
    assert await venue.order_history("LINK/USDT", *before) == []
    assert await venue.trade_history("LINK/USDT", *before) == []


async def test_a_venue_that_pages_no_history_refuses_a_full_page(sb: Sandbox, exchange: GateExchange) -> None:
    await _five_filled(exchange, sb)
    venue = _venue(exchange, history_page_param=None)
    with pytest.raises(VenueError, match="gate: LINK/USDT: a full page of 2 rows of history, and the venue pages "
                                         "no further: audit a shorter window"):
        await venue.trade_history("LINK/USDT", NOW - timedelta(seconds=10), NOW + timedelta(seconds=10))
