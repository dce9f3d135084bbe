"""The races of a maker-taker route (issue #34, item 4), each on two Gate sandboxes over loopback.

The maker venue is a sandbox with its private fill stream (``spot.usertrades``, ``spot.orders``, REST
reconciliation on reconnect); the taker venue a second sandbox. Each race is made to happen, not hoped for:
the sandbox's handling of a request is held at a point (:class:`~tests.execution.maker_rig.Hold`), its
WebSocket pushes are held, reordered, repeated or lost (:class:`~tests.execution.maker_rig.Valve`), the
stream's reconnect waits for the test (``maker_rig.py``). In every one, at the end:

- the maker sandbox's trades of the account are the fills the route journalled, each once;
- every maker fill has exactly its hedge: the taker sandbox's fills of the account sum to the maker fills,
  but for dust below the taker's minimum, and equal what the ledger says it hedged;
- both sandboxes hold exactly the orders the journal recorded before sending them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import pytest

from arb.domain.market import Side
from arb.domain.orders import VenueState
from arb.domain.venue import OrderRequest
from arb.venues.gate.adapter import live_venue
from arb.venues.gate.exchange import GateExchange
from arb.venues.gate.sandbox import Account
from arb.venues.gate.sandbox.matching import OrderEvent, TradeEvent

from .maker_rig import MAX_AGE_MS, Rig, maker_rig, private
from .sandbox_rig import KEY, PAIR, SYMBOL

D = Decimal


async def quoting(rig: Rig, side: Side = Side.BUY) -> str:
    """The route's first quote on ``side``, resting; its client id."""
    await rig.route.on_books()
    assert side in rig.route.resting
    [request] = [r for r in rig.journal.sent_to("maker", "quote") if r.side is side]
    return request.client_order_id


def order_of(rig: Rig, client_id: str):  # noqa: ANN201 - the sandbox's order
    [order] = [o for o in rig.sb_maker.engine.orders.values() if o.client_id == client_id]
    return order


async def test_a_quote_filled_by_the_market_is_hedged_once() -> None:
    """The plain case the races are variations of: a quote rests, a market trade fills part of it, the fill
    arrives by push and is hedged by an IOC on the taker sandbox."""
    async with maker_rig() as rig:
        cid = await quoting(rig)
        rig.print_at_quote(Side.BUY, D("0.4"))
        await rig.fills(1)
        await rig.settled()
        assert order_of(rig, cid).filled_amount == D("0.4")
        # While it quotes, the route keeps Gate's dead man's switch armed for its pair; its clean stop ends it.
        assert rig.sb_maker.engine.countdowns.next_trigger_ms() is not None
        await rig.route.close()
        assert rig.sb_maker.engine.countdowns.next_trigger_ms() is None
        rig.assert_hedged_once()
        assert len(rig.journal.sent_to("taker", "hedge")) == 1


async def test_another_traders_order_that_takes_the_quote_is_hedged_once() -> None:
    """A market participant, not a print: a second account on the maker sandbox sends an IOC sell through the
    route's resting bid (the sandbox matches its accounts against each other, as Gate does). The bid fills at
    its own price as the maker, the fill arrives by push and is hedged once."""
    other = Account("other-key", "other-secret-not-real", {"LINK": D("10")})
    async with maker_rig(others=(other,)) as rig:
        cid = await quoting(rig)
        bid = rig.route.resting[Side.BUY]
        ex = GateExchange.for_endpoint(rig.sb_maker.rest_url, rig.sb_maker.ws_url, other.key, other.secret,
                                       enableRateLimit=False, pairs=[PAIR.to_json()])
        try:
            await ex.sync_clock()
            taker = live_venue("other", ex, [SYMBOL])
            sold = await taker.place(OrderRequest("t-other-1", SYMBOL, Side.SELL, D("0.6"), bid.price, "ioc"))
        finally:
            await ex.close()
        assert sold.filled == D("0.6")
        await rig.fills(1)
        await rig.settled()
        assert order_of(rig, cid).filled_amount == D("0.6")
        [trade] = [t for t in rig.sb_maker.engine.trades if t.account == KEY]
        assert (trade.role, trade.price) == ("maker", bid.price)
        await rig.route.close()
        rig.assert_hedged_once()
        assert len(rig.journal.sent_to("taker", "hedge")) == 1


@pytest.mark.parametrize("amount", [D("0.4"), D("1")], ids=["partial", "whole"])
async def test_a_fill_during_the_cancels_flight_is_hedged_once(amount: Decimal) -> None:
    """1. The quote's cancel has left arb and the sandbox has not handled it yet when a market trade fills
    the quote (part of it, or all of it: then the cancel finds no open order). The fill comes by push while
    the cancel is still unanswered and is hedged; the cancel's answer adds nothing."""
    async with maker_rig() as rig:
        cid = await quoting(rig)
        hold = rig.rest.arm("cancel_order", before=True)
        rig.clock.advance(MAX_AGE_MS)  # the quote's age is up: the route cancels it
        refreshing = asyncio.ensure_future(rig.route.on_books())
        await hold.wait_reached()  # the cancel is on its way and unhandled
        rig.print_at_quote(Side.BUY, amount)
        await rig.fills(1)
        await rig.settled()
        assert rig.route.ledger.hedged(Side.BUY) == amount  # hedged before the cancel was answered
        hold.release()
        await refreshing
        assert order_of(rig, cid).filled_amount == amount
        assert order_of(rig, cid).status == ("cancelled" if amount < 1 else "closed")
        await rig.route.close()
        rig.assert_hedged_once()
        assert len(rig.journal.sent_to("taker", "hedge")) == 1


async def test_a_fill_during_the_amends_flight_is_hedged_once_and_the_amend_cuts_what_is_left() -> None:
    """1b. The taker's base a bid's hedges would sell falls to 0.4: the route cuts its resting quote of 1 in
    place (``smaller``: Gate's amend, ``PATCH /spot/orders/{text}``, keeps its queue place). The amend has left
    arb and the sandbox has not handled it when a market trade fills 0.3 of the quote: the fill comes by push
    while the amend is unanswered and is hedged; the amend then cuts the order to 0.4 in all, 0.1 left resting.
    Nothing is quoted anew, and the database equals the sandboxes."""
    async with maker_rig() as rig:
        cid = await quoting(rig)
        assert order_of(rig, cid).amount == 1
        hold = rig.rest.arm("amend_order", before=True)
        rig.funds["now"] = dataclasses.replace(rig.funds["now"], taker_base=D("0.4"))
        refreshing = asyncio.ensure_future(rig.route.on_books())
        await hold.wait_reached()  # the amend is on its way and unhandled
        rig.print_at_quote(Side.BUY, D("0.3"))
        await rig.fills(1)
        await rig.settled()
        assert rig.route.ledger.hedged(Side.BUY) == D("0.3")  # hedged before the amend was answered
        hold.release()
        await refreshing
        order = order_of(rig, cid)
        assert (order.amount, order.filled_amount, order.status) == (D("0.4"), D("0.3"), "open")
        assert rig.route.resting[Side.BUY].amount == D("0.4")
        assert len(rig.journal.sent_to("maker", "quote")) == 1  # the same quote, cut: none placed anew
        await rig.route.close()
        rig.assert_hedged_once()
        assert len(rig.journal.sent_to("taker", "hedge")) == 1


async def test_a_fill_reported_after_the_cancel_acknowledgement_is_hedged_once() -> None:
    """2. A market trade fills part of the quote, but the account's pushes are late: the cancel is sent and
    answered (cancelled, part filled) before the fill's push arrives. The route hedges nothing from the
    answer; it hedges the fill when the push comes, once."""
    async with maker_rig() as rig:
        cid = await quoting(rig)
        rig.valve.hold(private)  # the account's pushes wait in the sandbox
        rig.print_at_quote(Side.BUY, D("0.4"))
        rig.clock.advance(MAX_AGE_MS)
        await rig.route.on_books()  # the cancel, answered; and a fresh quote
        [cancelled] = [r for v, r in rig.journal.answers if r.client_order_id == cid and r.state is VenueState.CLOSED]
        assert cancelled.filled == D("0.4")
        assert rig.journal.maker_fills == [] and rig.route.ledger.filled(Side.BUY) == 0
        assert rig.journal.sent_to("taker") == []  # nothing hedged from the cancel's answer
        assert len(rig.journal.sent_to("maker", "quote")) == 2
        rig.valve.open()
        rig.valve.release()  # the fill's push, late
        await rig.fills(1)
        await rig.settled()
        await rig.route.close()
        rig.assert_hedged_once()
        assert len(rig.journal.sent_to("taker", "hedge")) == 1


@pytest.mark.parametrize("amount", [D("0.4"), D("1")], ids=["partial", "whole"])
async def test_a_fill_seen_before_the_orders_acknowledgement_is_hedged_once(amount: Decimal) -> None:
    """3. The sandbox places the quote and holds its answer; a market trade fills it, and the fill's push
    reaches the route before the placement's answer. It is hedged at once; the answer (open, as it was when
    written) adds nothing. A quote filled in full no longer rests: the side quotes again."""
    async with maker_rig() as rig:
        hold = rig.rest.arm("create_order", before=False)
        placing = asyncio.ensure_future(rig.route.on_books())
        await hold.wait_reached()  # the order rests; the route has no answer yet
        rig.print_at_quote(Side.BUY, amount)
        await rig.fills(1)
        await rig.settled()
        assert rig.route.ledger.hedged(Side.BUY) == amount and not placing.done()
        hold.release()
        await placing
        [(_, answer)] = [a for a in rig.journal.answers if a[0] == "maker"]
        assert answer.state is VenueState.OPEN and answer.filled == 0  # the answer as it was written
        await rig.route.on_books()
        quotes = rig.journal.sent_to("maker", "quote")
        assert len(quotes) == (1 if amount < 1 else 2)  # a whole fill: nothing rests, a fresh quote goes
        await rig.route.close()
        rig.assert_hedged_once()
        assert len(rig.journal.sent_to("taker", "hedge")) == 1
        # The stream tracked the order when the answer came, after it had delivered its fill: a reconnect
        # looks it up once, delivers nothing again, and forgets every finished order.
        await rig.drop_socket()
        await rig.reconnect()
        assert (rig.stream.pushed, rig.stream.recovered, rig.stream.duplicates) == (1, 0, 0)
        assert rig.stream.unsettled == []


async def test_duplicate_and_out_of_order_fill_messages_are_hedged_once() -> None:
    """4. Two market trades fill the quote in two parts. The account's pushes come out of order: the order's
    updates (filled 0.6, then 0.3 left) before either trade, the later trade before the earlier, and each
    trade pushed twice. A stream delivering at least once is also allowed to repeat itself: the route is
    handed the first fill again. Each fill is journalled and hedged once."""
    async with maker_rig() as rig:
        await quoting(rig)
        rig.valve.hold(private)
        rig.print_at_quote(Side.BUY, D("0.3"))
        rig.print_at_quote(Side.BUY, D("0.3"))
        held = list(rig.valve.held)
        updates = [e for e in held if isinstance(e, OrderEvent)]
        first, second = [e for e in held if isinstance(e, TradeEvent)]
        rig.valve.open()
        rig.valve.release(updates)
        rig.valve.release([second, first, second, first])
        rig.print_at_quote(Side.BUY, D("0.1"))  # a third, pushed in order: read after all the above
        await rig.fills(3)
        await rig.settled()
        assert [f.trade_id for f in rig.journal.maker_fills] == [str(e.trade.id) for e in (second, first)] + [
            rig.journal.maker_fills[2].trade_id]
        assert (rig.stream.pushed, rig.stream.duplicates) == (3, 2)
        for listener in rig.listeners:
            listener(rig.journal.maker_fills[0])  # a repeat the stream did not drop
        await rig.settled()
        assert len(rig.journal.maker_fills) == 3
        await rig.route.close()
        rig.assert_hedged_once()
        assert rig.route.ledger.filled(Side.BUY) == D("0.7")


async def test_a_websocket_drop_between_fill_and_hedge_hedges_each_fill_once() -> None:
    """5. A fill is pushed and its hedge is on its way (held by the taker sandbox) when the maker's private
    WebSocket drops; a second fill's push is lost with the connection, and a third trade fills the quote
    while the socket is down. After the reconnect the REST reconciliation delivers the two missed fills,
    once each, and never the first again; each is hedged once."""
    async with maker_rig() as rig:
        cid = await quoting(rig)
        hedge_hold = rig.taker_rest.arm("create_order", before=True)
        rig.print_at_quote(Side.BUY, D("0.3"))
        await rig.fills(1)
        await hedge_hold.wait_reached()  # the first fill's hedge: sent, not handled
        rig.valve.hold(private)
        rig.print_at_quote(Side.BUY, D("0.4"))  # its push is held ...
        await rig.drop_socket()
        assert rig.valve.drop()  # ... and lost with the connection
        rig.valve.open()
        rig.print_at_quote(Side.BUY, D("0.2"))  # while down: nobody hears it
        hedge_hold.release()
        await rig.settled()
        assert rig.route.ledger.hedged(Side.BUY) == D("0.3") and len(rig.journal.maker_fills) == 1
        await rig.reconnect()
        await rig.fills(3)
        await rig.settled()
        assert (rig.stream.pushed, rig.stream.recovered, rig.stream.duplicates) == (1, 2, 0)
        assert [f.amount for f in rig.journal.maker_fills] == [D("0.3"), D("0.4"), D("0.2")]
        assert order_of(rig, cid).filled_amount == D("0.9")
        await rig.route.close()
        rig.assert_hedged_once()


async def test_a_quote_placed_while_the_websocket_is_down_has_its_fills_reconciled() -> None:
    """5b. The socket is down when the quote is placed (the stream never hears of the order) and when a
    market trade fills it. The placement's answer made the stream track the order (``StreamedVenue``), so the
    reconciliation after the reconnect finds the fill by the order's id; it is hedged once."""
    async with maker_rig() as rig:
        await rig.drop_socket()
        await quoting(rig)
        rig.print_at_quote(Side.BUY, D("0.5"))
        assert rig.journal.maker_fills == []
        await rig.reconnect()
        await rig.fills(1)
        await rig.settled()
        assert (rig.stream.pushed, rig.stream.recovered) == (0, 1)
        await rig.route.close()
        rig.assert_hedged_once()


async def test_two_first_orders_of_a_shape_prepared_at_once() -> None:
    """Two hedges of one shape prepared concurrently before the builder check has its verdict (what a maker
    route does when two fills arrive back to back at the start of a run): both are built and compared at one
    pinned instant, and the exchange's own nonce is back once both are done (the pins nest)."""
    async with maker_rig() as rig:
        rig.taker.builder.agrees.clear()
        requests = [OrderRequest(f"t-h{n}", SYMBOL, Side.SELL, D("0.1"), D("26.90"), "ioc") for n in (1, 2)]
        await asyncio.gather(*(rig.taker.prepare(r) for r in requests))
        assert rig.taker.builder.agrees[SYMBOL, Side.SELL, "ioc"] is True  # judged, and the builds agreed
        assert "nonce" not in vars(rig.taker.exchange)  # the class's own nonce again, not a pinned instant
        assert rig.taker.exchange._arb_nonce_pins == 0


async def test_two_levels_rest_further_out_and_a_print_through_both_is_hedged_per_quote() -> None:
    """Levels: with ``levels = 2`` a side rests two quotes, the second asking ``level_step_bps`` (10) more
    profit on the taker depth behind the first's; a print through both fills both, and each quote's fills
    are hedged by hedges of its own (each pair its own), once."""
    async with maker_rig(levels=2) as rig:
        await rig.route.on_books()
        levels = rig.route.resting_levels
        assert set(levels) == {(Side.BUY, 0), (Side.BUY, 1)}
        front, behind = levels[Side.BUY, 0], levels[Side.BUY, 1]
        assert behind.price < front.price and behind.amount == front.amount == D("1")
        # 10 bps more profit asked of the same 27.00 depth: about 10 bps lower (to the tick, never higher).
        assert behind.price <= front.price * (1 - D("0.001")) + D("0.01")
        quotes = [r.client_order_id for r in rig.journal.sent_to("maker", "quote")]
        rig.sb_maker.push_trade(PAIR.id, behind.price, D("2"), "sell")  # at the far one: through the near one
        await rig.fills(2)
        await rig.settled()
        assert [order_of(rig, cid).filled_amount for cid in quotes] == [D("1"), D("1")]
        hedges = rig.journal.sent_to("taker", "hedge")
        assert sorted(h.amount for h in hedges) == [D("1"), D("1")]
        await rig.route.close()
        rig.assert_hedged_once()
