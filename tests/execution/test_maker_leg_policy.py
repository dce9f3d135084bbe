"""A maker fill whose hedge cannot be had: the route retries with backoff, then applies its leg policy.

The taker's bids vanish right after a maker bid fills, while arb's view of that book still shows them (a
book that has not caught up), so every hedge IOC is sent at a limit the venue no longer has and fills nothing. Three attempts (the
ledger's ``max_attempts``), 100 and then 200 ms of market time apart; then ``flatten`` sells the owed base
back into the maker's own bids with one IOC (journalled before it is sent) and the side stops quoting, or
``halt`` cancels every quote, quotes nothing more and leaves the base open, reported to ``on_failed``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from arb.domain.market import MarketRules, Side
from arb.domain.venue import FillReport, OrderReport, OrderRequest
from arb.eventloop.simloop import run_simulation
from arb.execution.maker import MakerRoute, RouteSpec
from arb.quoting.ledger import HedgeRules
from arb.quoting.pricing import Quote, QuoteTerms
from arb.quoting.refresh import RefreshRule
from arb.quoting.sizing import Funds
from arb.venues.paper import PaperConfig, PaperVenue

SYMBOL = "LINK/USDT"
D = Decimal
RULES = MarketRules("x", SYMBOL, D("0.01"), D("0.001"), D("0.001"), D("0"))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Journal:
    def __init__(self, venues: dict[str, PaperVenue], now_ms) -> None:
        self.venues, self.now_ms = venues, now_ms
        self.sent: list[tuple[int, str, str, OrderRequest]] = []  # (market ms, venue, purpose, request)

    async def before_send(self, venue: str, request: OrderRequest, purpose: str, quote: Quote | None,
                          answers: str, reference: Decimal | None = None) -> None:
        assert request.client_order_id not in self.venues[venue]._by_client, "recorded after it was sent"
        self.sent.append((self.now_ms(), venue, purpose, request))

    async def refused(self, venue: str, client_order_id: str, error: Exception) -> None:
        pass

    async def not_sent(self, venue: str, client_order_id: str, error: Exception) -> None:
        pass

    async def answered(self, venue: str, report: OrderReport, reason: str | None = None) -> None:
        pass

    async def amended(self, venue: str, report: OrderReport) -> None:
        pass

    async def maker_fill(self, fill: FillReport) -> None:
        pass


class MatcherBooks:
    def __init__(self, venues: dict[str, PaperVenue]) -> None:
        self.venues = venues
        self.seen: dict[tuple[str, str], list[tuple[Decimal, Decimal]]] = {}  # arb's view where it lags

    def levels(self, venue: str, symbol: str, side: str) -> Sequence[tuple[Decimal, Decimal]]:
        if (venue, side) in self.seen:
            return self.seen[venue, side]
        book = self.venues[venue].matcher.book(symbol)
        return book.sorted_bids() if side == "bids" else book.sorted_asks()

    def age_ms(self, venue: str, symbol: str) -> int:
        return 0


def paper_venues(maker_bids: list[tuple[Decimal, Decimal]], *, amends: bool = True
                 ) -> tuple[dict[str, PaperVenue], Callable[[], int]]:
    """A maker and a taker paper venue on the simulated loop's market time (each 1000 USDT and 10 LINK, no
    fees): the maker's book ``maker_bids`` / 101, the taker's 100.5 / 100.7 (5 each); and the clock in ms."""
    loop = asyncio.get_running_loop()

    def now_ms() -> int:
        return round(loop.time() * 1000)

    def clock() -> datetime:
        return EPOCH + timedelta(milliseconds=now_ms())

    venues = {name: PaperVenue(name, None, {SYMBOL: RULES}, {"USDT": D("1000"), "LINK": D("10")},
                               config=PaperConfig(fee_rate=D("0"), maker_fee_rate=D("0")), clock=clock,
                               amends=amends)
              for name in ("maker", "taker")}
    venues["maker"].on_book(SYMBOL, "snapshot", maker_bids, [(D("101"), D("5"))], 0)
    venues["taker"].on_book(SYMBOL, "snapshot", [(D("100.5"), D("5"))], [(D("100.7"), D("5"))], 0)
    return venues, now_ms


def bid_route(max_unhedged: Decimal, leg_policy: str = "halt") -> RouteSpec:
    """A bid of 1 LINK at no profit, fees or buffer: priced at the taker's best bid, 100.50."""
    return RouteSpec(SYMBOL, "maker", "taker", (Side.BUY,), D("1"),
                     QuoteTerms(min_profit_bps=D("0"), slippage_buffer_bps=D("0"), maker_fee=D("0"), taker_fee=D("0"),
                                maker_tick=RULES.price_step),
                     RefreshRule(refresh_bps=D("10"), max_quote_age_ms=60_000),
                     HedgeRules(RULES.amount_step, RULES.min_amount, RULES.min_notional, max_unhedged, max_attempts=3,
                                retry_ms=100, widen_bps=D("10")),
                     max_notional=D("1000"), leg_policy=leg_policy)  # type: ignore[arg-type]


async def _fill_then_no_hedge(policy: str):
    venues, now_ms = paper_venues([(D("99"), D("5"))])
    maker, taker = venues["maker"], venues["taker"]
    journal = Journal(venues, now_ms)
    failures: list[tuple[Side, Decimal]] = []
    ids = itertools.count(1)
    spec = bid_route(D("0.5"), policy)
    books = MatcherBooks(venues)
    route = MakerRoute(spec, maker, taker, books, journal,
                       funds=lambda: Funds(D("10"), D("1000"), D("10"), D("1000")), now_ms=now_ms,
                       new_client_id=lambda purpose: f"{purpose}-{next(ids)}", max_book_age_ms=5_000,
                       on_failed=lambda side, owed: failures.append((side, owed)))
    await route.on_books()
    [(_, _, purpose, quote)] = journal.sent
    assert (purpose, quote.side, quote.price, quote.amount) == ("quote", Side.BUY, D("100.50"), D("1"))
    books.seen["taker", "bids"] = [(D("100.5"), D("5"))]  # arb still sees them ...
    taker.on_book(SYMBOL, "snapshot", [], [(D("100.7"), D("5"))], 0)  # ... the venue's are gone
    maker.on_trade(SYMBOL, D("100.5"), D("1"), "sell", 0)  # a sell prints through the quote: filled in full
    await route.close()  # waits for the hedges, their retries and the policy
    await route.on_books()  # nothing more is quoted on the failed side, whatever the books say
    assert not route.errors
    return route, journal, maker, taker, failures


def test_flatten_sells_the_owed_base_back_on_the_maker_venue_after_three_hedges() -> None:
    route, journal, maker, taker, failures = run_simulation(_fill_then_no_hedge("flatten"), speed=0)
    hedges = [(t, r.side, r.amount, r.price) for t, v, purpose, r in journal.sent if purpose == "hedge"]
    # At once, then 100 and 200 ms later, each limit 10 bps wider than the last.
    assert hedges == [(0, Side.SELL, D("1"), D("100.50")), (100, Side.SELL, D("1"), D("100.39")),
                      (300, Side.SELL, D("1"), D("100.29"))]
    assert taker.matcher.trades == []  # there was nothing to hedge into
    [(_, venue, purpose, flatten)] = [s for s in journal.sent if s[2] == "flatten"]
    assert (venue, flatten.side, flatten.amount, flatten.time_in_force) == ("maker", Side.SELL, D("1"), "ioc")
    assert flatten.price == D("98.50")  # the maker's best bid, 99, less 50 bps, on the tick
    sold = [t for t in maker.matcher.trades if t.side == "sell"]
    assert [(t.price, t.amount, t.role) for t in sold] == [(D("99"), D("1"), "taker")]
    assert route.ledger.unhedged(Side.BUY) == 0 and route.ledger.failed(Side.BUY)
    assert failures == [(Side.BUY, D("0"))]
    assert [s[2] for s in journal.sent].count("quote") == 1 and not route.halted


def test_halt_cancels_every_quote_and_leaves_the_base_open_and_reported() -> None:
    route, journal, maker, taker, failures = run_simulation(_fill_then_no_hedge("halt"), speed=0)
    assert [s[2] for s in journal.sent] == ["quote", "hedge", "hedge", "hedge"]  # no flatten, no new quote
    assert route.halted and route.resting == {}
    assert list(maker.matcher.open_orders("paper", SYMBOL)) == []
    assert route.ledger.unhedged(Side.BUY) == D("1")
    assert failures == [(Side.BUY, D("1"))]
