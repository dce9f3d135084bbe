"""Dust carried from one quote to the next quote's hedge is answered once, in the store too.

A quote's fill below the taker's minimum waits for the next fill (``quoting/lots.Lots``); when that fill
is another quote's, one hedge answers both and is linked to the newer quote's pair. The store must then say
that the older quote's base was answered (by the newer pair's hedge): a restart must not take the older quote
over as unhedged and hedge its dust again, and neither pair may show base owed that no longer is (or a
negative amount owed) on the surfaces (``store/maker_views``).

Paper venues on market time, arb's own StoreJournal on SQLite: the taker trades in steps of 0.1, a print fills
0.05 of a bid (dust), the taker's bids then fall so the bid is replaced by one 50 cents lower, which a print
fills 0.95 of; one hedge of 1 answers both."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from arb.domain.market import Side
from arb.eventloop.simloop import run_simulation
from arb.execution.maker import MakerRoute
from arb.quoting.ledger import HedgeRules
from arb.quoting.lots import Lots
from arb.quoting.sizing import Funds
from arb.runtime.maker_journal import StoreJournal, VenueFees
from arb.store.db import make_engine, make_session_factory
from arb.store.maker_pairs import unfinished_quotes
from arb.store.maker_views import maker_pairs, maker_routes
from arb.store.migrate import upgrade_to_head
from arb.store.models import Opportunity, Order
from arb.store.views import trades

from .conftest import new_run
from .test_maker_leg_policy import SYMBOL, MatcherBooks, bid_route, paper_venues

D = Decimal
TAKER_STEP = D("0.1")  # the taker's amount step and minimum: 0.05 alone cannot be hedged


async def _dust_then_next_quote(url: str, *, hedge_fails: bool = False) -> tuple[int, dict[str, list]]:
    """``hedge_fails``: once the bid is at 100, the taker's bids vanish while arb still sees them (every hedge
    IOC fills nothing), and the route's leg policy flattens what is owed on the maker venue."""
    venues, now_ms = paper_venues([(D("99"), D("5"))])
    maker, taker = venues["maker"], venues["taker"]
    sessions = make_session_factory(make_engine(url))
    run_id = new_run(sessions, "live")
    books = MatcherBooks(venues)
    journal = StoreJournal(sessions, run_id, venues, books, {n: VenueFees(D("0"), D("0")) for n in venues},
                           lambda: datetime.now(UTC))
    journal.taker_of["maker", SYMBOL] = "taker"
    spec = dataclasses.replace(bid_route(D("5"), "flatten" if hedge_fails else "halt"), hedge=HedgeRules(TAKER_STEP, TAKER_STEP, D("0"), D("5"),
                                                                    max_attempts=3, retry_ms=100, widen_bps=D("10")))
    ids = itertools.count(1)
    route = MakerRoute(spec, maker, taker, books, journal,
                       funds=lambda: Funds(D("10"), D("1000"), D("10"), D("1000")), now_ms=now_ms,
                       new_client_id=lambda purpose: f"{purpose}-{next(ids)}", max_book_age_ms=5_000)
    journal.owes = route.owes
    await route.on_books()
    assert route.resting[Side.BUY].price == D("100.50")
    maker.on_trade(SYMBOL, D("100.50"), D("0.05"), "sell", now_ms())  # 0.05 of the bid: dust
    await route.on_books()
    assert route.ledger.unhedged(Side.BUY) == D("0.05") and not taker.matcher.trades  # it waits
    taker.on_book(SYMBOL, "snapshot", [(D("100"), D("5"))], [(D("100.7"), D("5"))], now_ms())
    await route.on_books()  # 100.50 no longer pays: cancelled, a bid at 100 instead
    assert route.resting[Side.BUY].price == D("100")
    if hedge_fails:
        books.seen["taker", "bids"] = [(D("100"), D("5"))]  # arb still sees them ...
        taker.on_book(SYMBOL, "snapshot", [], [(D("100.7"), D("5"))], now_ms())  # ... the venue's are gone
    maker.on_trade(SYMBOL, D("100"), D("0.95"), "sell", now_ms())  # 0.95 of the new bid: 1 owed in all
    await route.close()
    journal.settle_all()
    journal.close()
    with sessions() as s:
        orders = {o.client_order_id: (o.purpose, o.filled) for o in s.query(Order)}
    return run_id, {"orders": sorted(orders.items()), "hedged": [t.amount for t in taker.matcher.trades],
                    "flattened": [(t.amount, t.price) for t in maker.matcher.trades if t.side == "sell"]}


def test_dust_answered_by_the_next_quotes_hedge_is_not_owed_in_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dust.db'}"
    upgrade_to_head(url)
    run_id, seen = run_simulation(_dust_then_next_quote(url), speed=0)
    assert seen["hedged"] == [D("1")]  # one hedge for the dust and the next fill
    sessions = make_session_factory(make_engine(url))
    with sessions() as s:
        # a restart finds nothing to take over: the dust was hedged once, it is not hedged again
        assert unfinished_quotes(s, "maker", SYMBOL) == []
        pairs = maker_pairs(s, run_id)
        assert [p.filled for p in pairs] == [D("0.05"), D("0.95")]
        assert [p.unhedged_base for p in pairs] == [D(0), D(0)]  # neither owes, neither is over-answered
        # The dust's wait is timed on its own pair: from its fill to the fill of the hedge that carried it
        # (the newer pair's), not "never completed", and no shorter than the newer pair's own. Fill -> hedge
        # times the hedges a pair's fills set off: the dust set none off (it waited, by design).
        assert all(p.unhedged_ms is not None for p in pairs)
        assert pairs[0].unhedged_ms >= pairs[1].unhedged_ms
        assert pairs[0].fill_to_hedge_ms == ()
        # The newer fill's hedge is timed from that fill, received as the route took it (before the hedge went
        # out), not from when its recording ran, queued behind the hedge.
        assert len(pairs[1].fill_to_hedge_ms) == 1
        (route,) = maker_routes(s, run_id)
        assert route.unhedged_base == 0
        # Settled each on its own part of the one hedge: balanced, nothing open, and the two add up to the fills.
        older, newer = (s.get_one(Opportunity, p.opportunity_id) for p in pairs)
        assert [(o.open_base, o.residual_base) for o in (older, newer)] == [(0, 0), (0, 0)]
        # each row's legs are its own part: the older one's sold 0.05 is a slice of the newer pair's hedge
        assert [(r.outcome, r.bought, r.sold) for r in trades(s, run_id)] == [
            ("filled", D("0.05"), D("0.05")), ("filled", D("0.95"), D("0.95"))]
        (hedge,) = [o for o in newer.orders if o.purpose == "hedge"]
        assert hedge.filled == 1 and older.orders[0].purpose == "quote" and len(older.orders) == 1
        quote_flow = {o.id: sum(((-1 if o.side == "buy" else 1) * f.price * f.amount for f in o.fills), D(0))
                      for o in [*older.orders, *newer.orders]}
        assert older.realized_pnl + newer.realized_pnl == sum(quote_flow.values())  # no fees, no mark: the cash
        # 0.05 bought at 100.50 and sold at 100 with the hedge; 0.95 bought at 100 and sold at 100
        assert (older.realized_pnl, newer.realized_pnl) == (D("-0.025"), D("0"))


def test_a_hedge_piece_credits_its_own_parts_and_reports_the_dust_it_carried() -> None:
    """The lots' rule by itself: dust of an older quote goes with the next quote's share, and the answer credits
    each quote its part (the carried dust first); a piece that failed credits nothing, whatever else filled."""
    rules = HedgeRules(TAKER_STEP, TAKER_STEP, D("0"), D("5"), max_attempts=3, retry_ms=100, widen_bps=D("10"))
    lots = Lots()
    lots.filled("a", D("0.05"))
    lots.filled("b", D("0.95"))
    lots.filled("c", D("0.5"))
    first, second = lots.take(D("1.5"), rules, D("100"))
    assert (first.quote_id, first.amount, first.carries) == ("b", D("1"), (("a", D("0.05")),))
    assert (second.quote_id, second.amount, second.carries) == ("c", D("0.5"), ())
    assert lots.answered(second, D("0")) == []  # c's hedge failed: c still owes, a and b are not touched
    assert lots.open == {"a": D("0.05"), "b": D("0.95"), "c": D("0.5")}
    assert lots.answered(first, D("0.6")) == [("a", D("0.05"))]  # the dust first, then 0.55 of b's own
    assert lots.open == {"b": D("0.40"), "c": D("0.5")}
    assert lots.flattened(D("0.9")) == [("b", D("0.40")), ("c", D("0.5"))]  # a flatten: oldest first
    assert lots.open == {}


def test_a_flatten_closing_two_quotes_base_answers_each_pair_once_in_the_store(tmp_path: Path) -> None:
    """The dust and the next quote's 0.95 owed, every hedge failing: the leg policy's one flatten (linked to the
    oldest quote's pair) sells the 1 into the maker's bids and answers both pairs, each settled on its part."""
    url = f"sqlite:///{tmp_path / 'flatten.db'}"
    upgrade_to_head(url)
    run_id, seen = run_simulation(_dust_then_next_quote(url, hedge_fails=True), speed=0)
    assert seen["hedged"] == [] and seen["flattened"] == [(D("1"), D("99"))]  # one flatten, at the maker's bid
    sessions = make_session_factory(make_engine(url))
    with sessions() as s:
        assert unfinished_quotes(s, "maker", SYMBOL) == []  # a restart flattens (or hedges) nothing again
        pairs = maker_pairs(s, run_id)
        assert [(p.filled, p.unhedged_base) for p in pairs] == [(D("0.05"), 0), (D("0.95"), 0)]
        assert [(p.hedges, p.flattens) for p in pairs] == [(0, 1), (3, 0)]  # counted where they are linked
        assert all(p.unhedged_ms is not None for p in pairs)  # both completed by the flatten's fill
        (route,) = maker_routes(s, run_id)
        assert (route.unhedged_base, route.flattens) == (0, 1)
        older, newer = (s.get_one(Opportunity, p.opportunity_id) for p in pairs)
        assert [(o.open_base, o.residual_base) for o in (older, newer)] == [(0, 0), (0, 0)]
        # 0.05 bought at 100.50 and 0.95 at 100, all sold at 99 by the flatten: the cash, split by pair
        assert (older.realized_pnl, newer.realized_pnl) == (D("-0.075"), D("-0.95"))
        # one fate for both, told the same way: bought, then unwound by the flatten (no hedge sold any)
        assert [(r.outcome, r.bought, r.sold) for r in trades(s, run_id)] == [
            ("unwound", D("0.05"), 0), ("unwound", D("0.95"), 0)]
