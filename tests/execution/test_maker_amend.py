"""A resting quote that may no longer be as large (``smaller``: the taker's funds its hedge needs fell) is cut in
place by the venue's amend, keeping its place in the queue, where a cancel and a new quote would put it last;
a fill made while the amend is on its way is hedged once, like any other, and an amend the venue can no longer
apply (the quote filled past the new amount) leaves nothing resting. Paper venues on the one matcher (Gate's
amending rule: an amount alone keeps the order's priority), on market time."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from decimal import Decimal

from arb.domain.market import Side
from arb.domain.venue import FillReport, OrderReport, OrderRequest
from arb.eventloop.simloop import run_simulation
from arb.execution.maker import MakerRoute
from arb.quoting.pricing import Quote
from arb.quoting.sizing import Funds
from arb.venues.latent import Latency, LatentVenue

from .conftest import new_run

# arb's view of the books (the matchers' own) and the two paper venues on market time
from .test_maker_leg_policy import SYMBOL, MatcherBooks, bid_route, paper_venues

D = Decimal
LATENCY_S = 0.020


class Journal:
    def __init__(self) -> None:
        self.log: list[tuple[str, str, str, Decimal]] = []  # (what, purpose or venue, client id, amount)

    async def before_send(self, venue: str, request: OrderRequest, purpose: str, quote: Quote | None,
                          answers: str, reference: Decimal | None = None) -> None:
        self.log.append(("sent", purpose, request.client_order_id, request.amount))

    async def refused(self, venue: str, client_order_id: str, error: Exception) -> None:
        self.log.append(("refused", venue, client_order_id, D(0)))

    async def not_sent(self, venue: str, client_order_id: str, error: Exception) -> None:
        self.log.append(("refused", venue, client_order_id, D(0)))

    async def answered(self, venue: str, report: OrderReport, reason: str | None = None) -> None:
        self.log.append(("answered", venue, report.client_order_id, report.filled))

    async def amended(self, venue: str, report: OrderReport) -> None:
        self.log.append(("amended", venue, report.client_order_id, report.amount))

    async def maker_fill(self, fill: FillReport) -> None:
        self.log.append(("maker_fill", fill.venue, fill.client_order_id or "", fill.amount))


async def _quote_then_less_funds(trade_in_flight: Decimal | None, *, amends: bool = True):
    """A bid of 1 resting behind 2 others at 100.50 on the maker venue; the taker's base (what its hedge would
    sell) then falls to 0.4. With ``trade_in_flight``, a sell of that size prints at 100.50 5 ms after the amend
    leaves (it reaches the venue 20 ms after)."""
    loop = asyncio.get_running_loop()
    venues, now_ms = paper_venues([(D("100.50"), D("2")), (D("99"), D("5"))], amends=amends)
    maker, taker = venues["maker"], venues["taker"]
    journal = Journal()
    taker_base = {"free": D("10")}
    ids = itertools.count(1)
    spec = bid_route(D("5"))
    route = MakerRoute(spec, LatentVenue(maker, Latency(LATENCY_S, LATENCY_S)), taker, MatcherBooks(venues),
                       journal, funds=lambda: Funds(D("10"), D("1000"), taker_base["free"], D("1000")),
                       now_ms=now_ms, new_client_id=lambda purpose: f"{purpose}-{next(ids)}", max_book_age_ms=5_000)
    await route.on_books()
    [(_, purpose, quote_id, amount)] = [e for e in journal.log if e[0] == "sent"]
    assert (purpose, amount) == ("quote", D("1"))
    order = maker._by_client[quote_id]
    assert (order.amount, order.queue_ahead) == (D("1"), D("2"))  # behind the 2 that were there first
    taker_base["free"] = D("0.4")
    if trade_in_flight is not None:
        loop.call_later(0.005, maker.on_trade, SYMBOL, D("100.50"), trade_in_flight, "sell", now_ms() + 5)
    await route.on_books()
    await route.close()
    assert not route.errors
    return journal, maker, taker, order, quote_id


def test_a_smaller_quote_is_cut_in_place_and_keeps_its_place_in_the_queue() -> None:
    journal, maker, taker, order, quote_id = run_simulation(_quote_then_less_funds(None), speed=0)
    assert [e for e in journal.log if e[0] == "amended"] == [("amended", "maker", quote_id, D("0.4"))]
    assert [e[1] for e in journal.log if e[0] == "sent"] == ["quote"]  # no second quote: the same one, cut
    # Cut to 0.4 while it rested, still behind the same 2 (then the run's end cancelled it).
    assert order.amount == D("0.4") and order.queue_ahead == D("2") and order.status == "cancelled"
    assert maker.matcher.trades == [] and taker.matcher.trades == []


def test_where_the_venue_does_not_amend_in_place_the_smaller_quote_is_cancelled_and_quoted_again() -> None:
    """Binance (and its paper venues: ``amends_in_place``) has no in-place amend: the refresh cancels the
    quote and places the smaller one, last in the queue at its price."""
    from arb.venues.binance.adapter import ADAPTER as BINANCE
    from arb.venues.gate.adapter import GateAdapter

    assert not BINANCE.amends_in_place("binance") and GateAdapter().amends_in_place("gate")
    journal, maker, taker, order, quote_id = run_simulation(_quote_then_less_funds(None, amends=False), speed=0)
    assert [e for e in journal.log if e[0] == "amended"] == []
    assert [(e[1], e[3]) for e in journal.log if e[0] == "sent"] == [("quote", D("1")), ("quote", D("0.4"))]
    assert order.amount == D("1") and order.status == "cancelled"


def test_a_fill_during_the_amends_flight_is_hedged_once_and_nothing_is_left_resting() -> None:
    # 2.5 prints: the 2 ahead, then 0.5 of ours, while the amend to 0.4 travels; it arrives below what filled
    # and the venue finishes the order (Gate's rule). The 0.5 filled is hedged once, in full.
    journal, maker, taker, order, quote_id = run_simulation(_quote_then_less_funds(D("2.5")), speed=0)
    ours = [t for t in maker.matcher.trades if t.order_id == order.id]
    assert sum(t.amount for t in ours) == D("0.5")
    assert order.status == "cancelled" and order.filled_amount == D("0.5")
    hedged = [t for t in taker.matcher.trades if t.side == "sell"]
    assert sum(t.amount for t in hedged) == D("0.5")
    assert [e[1] for e in journal.log if e[0] == "sent"] == ["quote", "hedge"]  # one hedge, no new quote
    assert [e[3] for e in journal.log if e[0] == "maker_fill"] == [D("0.5")]
    assert list(maker.matcher.open_orders("paper", SYMBOL)) == []


async def test_gate_amends_a_resting_quote_by_its_text_over_loopback_and_the_store_keeps_the_new_amount(
        sqlite_sessions) -> None:
    """The Gate adapter's amend (ccxt's ``edit_order``: ``PATCH /spot/orders/{text}``, signed as every Gate
    request) against the sandbox: the quote is cut in place, its queue place kept; the journal's row says the
    new amount, with an event saying from what."""
    from sqlalchemy import select

    from arb.runtime.maker_journal import StoreJournal, VenueFees
    from arb.store.models import Order, OrderEvent
    from arb.venues.gate.sandbox import Sandbox

    from .sandbox_rig import KEY, PAIR, live_gate, sandbox_config
    from .sandbox_rig import SYMBOL as GATE_SYMBOL

    sessions = sqlite_sessions
    run_id = new_run(sessions, "live")
    async with Sandbox(sandbox_config()) as sb:
        sb.push_book(PAIR.id, [(D("26.50"), D("10"))], [(D("27.50"), D("10"))])
        async with live_gate("maker", sb) as venue:
            assert venue.amends
            journal = StoreJournal(sessions, run_id, {"maker": venue}, MatcherBooks({}), {
                "maker": VenueFees(D("0"), D("0.001"))}, lambda: datetime.now(UTC), lambda *_: None)
            cid = "t-amend-quote-1"
            request = OrderRequest(cid, GATE_SYMBOL, Side.BUY, D("3"), D("26.50"), "poc")
            await journal.before_send("maker", request, "quote", None, cid)
            await journal.answered("maker", await venue.place(request))
            report = await venue.amend(cid, GATE_SYMBOL, D("1"))
            await journal.amended("maker", report)
            journal.close()
            (order,) = sb.engine.matcher.open_orders(KEY, PAIR.id)
    assert (report.client_order_id, report.amount, report.state.value) == (cid, D("1"), "open")
    assert order.amount == D("1") and order.queue_ahead == D("10")  # behind the 10 there first, as before
    with sessions() as s:
        row = s.scalars(select(Order)).one()
        events = [e.detail for e in s.scalars(select(OrderEvent).where(OrderEvent.order_id == row.id))]
    assert (row.amount, row.status) == (D("1"), "open")
    assert "amended: amount 3 -> 1" in events
