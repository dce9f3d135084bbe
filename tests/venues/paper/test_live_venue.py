"""LiveVenue (GateExchange over loopback HTTP to the sandbox): exact mapping of orders, fills, balances."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from execution.sandbox_rig import KEY, SYMBOL, WireLog, live_gate, sandbox_config

from arb.domain.market import Side
from arb.domain.orders import OrderStatus
from arb.errors import OrderNotFound
from arb.sandbox import Sandbox
from arb.venues.protocol import OrderRequest, Venue

D = Decimal
ORDERS = "/api/v4/spot/orders"


async def test_live_venue_maps_partial_ioc_lookup_after_close_fills_and_balances() -> None:
    async with Sandbox(sandbox_config()) as sb:
        sb.push_book("LINK_USDT", [("19.90", "5")], [("20.00", "1"), ("20.05", "1")])
        async with live_gate("gate", sb) as venue:
            assert isinstance(venue, Venue)
            rules = venue.market_rules(SYMBOL)
            assert (rules.price_step, rules.amount_step, rules.min_notional) == (D("0.01"), D("0.01"), D("1"))
            before = datetime.now(UTC) - timedelta(seconds=5)
            r = await venue.place(OrderRequest("t-live1", SYMBOL, Side.BUY, D("3"), D("20.05")))
            assert (r.filled, r.amount, r.status) == (D("2"), D("3"), OrderStatus.CANCELED)
            # Closed orders are not found by text on Gate: the venue searches finished orders.
            found = await venue.fetch_order("t-live1", SYMBOL)
            assert (found.client_order_id, found.filled, found.venue_order_id) == ("t-live1", D("2"), r.venue_order_id)
            fills = await venue.fetch_fills(SYMBOL, before)
            assert sorted((f.price, f.amount, f.client_order_id) for f in fills) == [
                (D("20.00"), D("1"), "t-live1"), (D("20.05"), D("1"), "t-live1")]
            assert {f.fee_currency for f in fills} == {"LINK"}
            with pytest.raises(OrderNotFound):
                await venue.fetch_order("t-nothere", SYMBOL)
            bal = await venue.balances()
            assert bal["LINK"].total == D("1000") + D("2") - sum(f.fee for f in fills)


async def test_prepare_writes_nothing_and_send_writes_exactly_the_prepared_order() -> None:
    wire = WireLog()
    async with Sandbox(sandbox_config()) as sb:
        sb.push_book("LINK_USDT", [("19.90", "5")], [("20.00", "5")])
        async with live_gate("gate", sb, wire) as venue:
            resting = await venue.place(OrderRequest("t-rest1", SYMBOL, Side.BUY, D("1"), D("19.00"), "gtc"))
            assert resting.status is OrderStatus.OPEN
            wire.events.clear()
            request = OrderRequest("t-prep1", SYMBOL, Side.BUY, D("1.5"), D("20.00"))
            # A cancel (a write) running concurrently on the same exchange is not captured by prepare.
            prepared, canceled = await asyncio.gather(venue.prepare(request),
                                                      venue.cancel("t-rest1", SYMBOL))
            assert canceled.status is OrderStatus.CANCELED
            assert [(e.method, e.path) for e in wire.events] == [("DELETE", f"{ORDERS}/t-rest1")]
            assert [o.text for o in sb.engine.orders.values()] == ["t-rest1"]
            assert prepared.request == request and KEY not in repr(prepared) and "SIGN" not in repr(prepared)

            wire.events.clear()
            report = await venue.send(prepared)
            assert [(e.method, e.path, e.status) for e in wire.events] == [("POST", ORDERS, 201)]
            assert (report.client_order_id, report.filled, report.status) == ("t-prep1", D("1.5"), OrderStatus.FILLED)
            assert [o.text for o in sb.engine.orders.values()] == ["t-rest1", "t-prep1"]
            assert report.venue_order_id == str(next(o.id for o in sb.engine.orders.values() if o.text == "t-prep1"))
