"""LiveVenue (GateExchange over loopback HTTP to the sandbox): exact mapping of orders, fills, balances."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from arb.domain.market import Side
from arb.domain.orders import OrderStatus
from arb.errors import OrderNotFound
from arb.sandbox import Sandbox
from arb.venues.protocol import OrderRequest, Venue

from execution.sandbox_rig import SYMBOL, live_gate, sandbox_config

D = Decimal


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
