"""A maker-taker route on real recordings: post-only quotes on Binance USD-M BTC/USDT, hedged on Binance spot
BTC/USDT (the same two minutes of depth and 14,000 prints, ``arb convert binance``'s captures), both paper
venues on the one matcher behind 20 ms of latency each way, on market time (``SimulatedLoop``).

What must hold, whatever the market did:

- every maker fill the venue made reached the route once, and is hedged exactly once: the taker's hedge
  fills sum to the maker fills, but for less than the taker's minimum left waiting;
- every order either venue saw was given to the journal before it was sent;
- a side whose unhedged amount passed the bound placed no quote until it was back under, and each maker fill
  was covered by hedge fills within the hedge's round trip of arb learning of it;
- every quote was post-only and priced to pay ``min_profit_bps`` on the taker book of its time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from arb.cli import main
from arb.domain.market import MarketRules, Side
from arb.domain.venue import FillReport, OrderReport, OrderRequest
from arb.eventloop.simloop import run_simulation
from arb.execution.maker import MakerRoute, RouteSpec
from arb.marketdata.capture import CaptureTrade
from arb.marketdata.timeline import read_timeline
from arb.quoting.ledger import HedgeRules
from arb.quoting.pricing import Quote, QuoteTerms
from arb.quoting.refresh import RefreshRule
from arb.quoting.sizing import Funds
from arb.venues.latent import Latency, LatentVenue
from arb.venues.paper import PaperConfig, PaperVenue

DATA = Path(__file__).parents[1] / "data"
SYMBOL = "BTC/USDT"
D = Decimal
USDM = MarketRules("maker", SYMBOL, D("0.1"), D("0.001"), D("0.001"), D("5"))
SPOT = MarketRules("taker", SYMBOL, D("0.01"), D("0.00001"), D("0.00001"), D("5"))
DEPTH = 20  # levels the route sees of each book
BOUND = D("0.02")


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("maker")
    spot, usdm = out / "spot.jsonl.gz", out / "usdm.jsonl.gz"
    assert main(["convert", "binance", str(DATA / "binance-spot-btcusdt-20240808.gz"), "--symbol", SYMBOL,
                 "--out", str(spot)]) == 0
    assert main(["convert", "binance", str(DATA / "binance-usdm-btcusdt-20240808.gz"), "--symbol", SYMBOL,
                 "--out", str(usdm)]) == 0
    return spot, usdm


class Journal:
    def __init__(self, venues: dict[str, PaperVenue], now_ms) -> None:
        self.venues, self.now_ms = venues, now_ms
        self.exposure: list[tuple[int, Side, Decimal]] = []  # (arb's time, maker side, change of the unhedged)
        self.log: list[tuple[str, str, str]] = []  # (what, venue, client id)
        self.quotes: dict[str, Quote] = {}
        self.maker_fills: list[FillReport] = []
        self.hedges: dict[str, OrderReport] = {}
        self.route: MakerRoute | None = None
        self.quoted_over_bound: list[str] = []

    async def before_send(self, venue: str, request: OrderRequest, purpose: str, quote: Quote | None,
                          answers: str, reference: Decimal | None = None) -> None:
        assert request.client_order_id not in self.venues[venue]._by_client, "recorded after it was sent"
        self.log.append(("sent", venue, request.client_order_id))
        if quote is not None:
            self.quotes[request.client_order_id] = quote
            assert self.route is not None
            if not self.route.ledger.may_quote(quote.side):
                self.quoted_over_bound.append(request.client_order_id)

    async def refused(self, venue: str, client_order_id: str, error: Exception) -> None:
        self.log.append(("refused", venue, client_order_id))

    async def not_sent(self, venue: str, client_order_id: str, error: Exception) -> None:
        self.log.append(("refused", venue, client_order_id))

    async def answered(self, venue: str, report: OrderReport, reason: str | None = None) -> None:
        self.log.append(("answered", venue, report.client_order_id))
        if venue == "taker":
            self.hedges[report.client_order_id] = report
            self.exposure.append((self.now_ms(), report.side.opposite, -report.filled))

    async def amended(self, venue: str, report: OrderReport) -> None:
        self.log.append(("amended", venue, report.client_order_id))

    async def maker_fill(self, fill: FillReport) -> None:
        self.maker_fills.append(fill)
        self.exposure.append((self.now_ms(), fill.side, fill.amount))


class MatcherBooks:
    """The route's view of the books: each venue's market as its matcher holds it, and its age."""

    def __init__(self, venues: dict[str, PaperVenue], now_ms) -> None:
        self.venues, self.now_ms = venues, now_ms
        self.last: dict[str, int] = {}

    def levels(self, venue: str, symbol: str, side: str) -> Sequence[tuple[Decimal, Decimal]]:
        book = self.venues[venue].matcher.book(symbol)
        if side == "bids":
            return heapq.nlargest(DEPTH, book.bids.items())
        return heapq.nsmallest(DEPTH, book.asks.items())

    def age_ms(self, venue: str, symbol: str) -> int:
        return self.now_ms() - self.last.get(venue, -10**12)


async def _run(spot: Path, usdm: Path):
    start = next(e.ts for e in read_timeline(usdm))  # the window both recordings cover
    end = max(e.ts for e in read_timeline(usdm))
    loop = asyncio.get_running_loop()
    origin = start - 1

    def now_ms() -> int:
        return origin + round(loop.time() * 1000)

    maker = PaperVenue("maker", None, {SYMBOL: USDM}, {"USDT": D("100000"), "BTC": D("2")},
                       config=PaperConfig(fee_rate=D("0.0004"), maker_fee_rate=D("-0.0001")), clock=_clock(now_ms))
    taker = PaperVenue("taker", None, {SYMBOL: SPOT}, {"USDT": D("100000"), "BTC": D("2")},
                       config=PaperConfig(fee_rate=D("0.0002")), clock=_clock(now_ms))
    venues = {"maker": maker, "taker": taker}
    journal, books = Journal(venues, now_ms), MatcherBooks(venues, now_ms)
    latency = Latency(out_s=0.02, back_s=0.02)
    ids = itertools.count(1)
    spec = RouteSpec(SYMBOL, "maker", "taker", (Side.BUY, Side.SELL), D("0.05"),
                     QuoteTerms(min_profit_bps=D("1"), slippage_buffer_bps=D("2"), maker_fee=D("-0.0001"),
                                taker_fee=D("0.0002"), maker_tick=USDM.price_step),
                     RefreshRule(refresh_bps=D("3"), max_quote_age_ms=20_000),
                     HedgeRules(SPOT.amount_step, SPOT.min_amount, SPOT.min_notional, BOUND, max_attempts=4,
                                retry_ms=50, widen_bps=D("5")),
                     max_notional=D("10000"))

    route = MakerRoute(spec, LatentVenue(maker, latency), LatentVenue(taker, latency), books, journal,
                       funds=lambda: Funds(D("2"), D("100000"), D("2"), D("100000")), now_ms=now_ms,
                       new_client_id=lambda purpose: f"{purpose}-{next(ids)}", max_book_age_ms=5_000)
    journal.route = route
    sources = [((e.ts, i, n), n, e) for n, path in enumerate((spot, usdm))
               for i, e in enumerate(read_timeline(path, trades=True)) if start <= e.ts <= end]
    # (n: 0 the spot capture, 1 the USD-M one)
    heapq.heapify(sources)
    while sources:
        (ts, _, _), n, event = heapq.heappop(sources)
        if ts > now_ms():
            await asyncio.sleep((ts - now_ms()) / 1000)
        venue = (taker, maker)[n]
        name = venue.name
        if isinstance(event, CaptureTrade):
            venue.on_trade(SYMBOL, D(event.price), D(event.amount), event.side, ts)
        else:
            venue.on_book(SYMBOL, event.type, event.bids, event.asks, ts)
            books.last[name] = ts
        if isinstance(event, CaptureTrade):
            continue
        await route.on_books()
    await route.close()
    assert not route.errors
    return maker, taker, journal, route


def _clock(now_ms):
    from datetime import UTC, datetime, timedelta

    return lambda: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=now_ms())


def test_every_maker_fill_on_a_real_recording_is_hedged_once(captures: tuple[Path, Path]) -> None:
    maker, taker, journal, route = run_simulation(_run(*captures), speed=0)
    made = [t for t in maker.matcher.trades if t.account == "paper"]
    assert len(journal.quotes) > 10 and len(made) > 3, (len(journal.quotes), len(made))  # it quoted and filled
    # Every fill the maker venue made reached the route once (the stream), keyed by trade id.
    assert sorted(f.trade_id for f in journal.maker_fills) == sorted(f"maker-{t.id}" for t in made)
    assert all(t.role == "maker" for t in made)
    # ... and was hedged once: per side, the hedge fills equal the maker fills but for dust below the minimum.
    for side in Side:
        filled = sum((t.amount for t in made if t.side == side.value), D(0))
        hedged = sum((t.amount for t in taker.matcher.trades if t.side == side.opposite.value), D(0))
        assert route.ledger.filled(side) == filled and route.ledger.hedged(side) == hedged
        assert 0 <= filled - hedged < SPOT.min_amount, (side, filled, hedged)
    # Every order was in the journal before either venue saw it (the journal's own assertion), and each
    # venue's orders are exactly the journal's.
    for name, venue in (("maker", maker), ("taker", taker)):
        assert set(venue._by_client) == {cid for what, v, cid in journal.log if what == "sent" and v == name}
    # Post-only quotes, each paying min_profit_bps on the book it was priced on; nothing took liquidity.
    assert {o.time_in_force for o in maker._by_client.values()} == {"poc"}
    assert {o.time_in_force for o in taker._by_client.values()} == {"ioc"}
    assert all(q.expected_profit >= q.price * q.amount * D("0.0001") for q in journal.quotes.values())
    # No quote went out on a side over the unhedged bound.
    assert journal.quoted_over_bound == []
    # Each maker fill is covered by hedge fills (first in, first covered) within the hedge's round trip from
    # the moment arb learnt of it; no hedge came back short here, so there was no retry to wait for.
    assert all(report.filled == report.amount for report in journal.hedges.values())
    round_trip_ms = 40
    for side in Side:
        arrivals = sorted((t, change) for t, s, change in journal.exposure if s is side and change > 0)
        covers = sorted((t, -change) for t, s, change in journal.exposure if s is side and change <= 0)
        owed, hedged, answers = D(0), D(0), iter(covers)
        for arrived, amount in arrivals:
            owed += amount
            covered_at = arrived
            while hedged < owed - SPOT.min_amount:
                covered_at, got = next(answers)
                hedged += got
            assert covered_at - arrived <= round_trip_ms, (side, arrived, covered_at)
