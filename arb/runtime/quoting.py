"""The run's maker-taker desk: one :class:`~arb.execution.maker.MakerRoute` per maker symbol and direction
(``[symbols.X] strategy = "maker"``), driven by the decision loop, journalled to the store.

- **Driven on the one event path.** The decision loop hands a maker symbol's book updates here instead of
  to detection (:meth:`QuotingDesk.on_books`, awaited as an execution is), so a replay, a paper run and a
  sweep point decide quotes at the same market instants. Fills come from the maker venue's fill stream.
- **Journalled before sent** (:class:`StoreJournal`): every quote, hedge and flatten is an ``orders`` row
  in ``submitted`` before its request leaves; answers and fills are recorded as they come. A quote's first
  fill opens its pair (``arb/store/maker_pairs.py``), which its hedges join; a pair is settled by the one
  accounting once its quote and hedges are final, again if a late fill comes.
- **Risk.** A quote's notional is capped by ``[risk] max_notional_per_trade``; the kill switch and the run's
  stop cancel every quote (:meth:`QuotingDesk.close`); a stale taker book pulls the quote (the route's
  ``stale_book``); a side whose hedges failed ``hedge_attempts`` times runs the leg policy: ``halt`` stops
  the run, halted, naming what is owed; ``flatten`` closes it on the maker venue and goes on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from arb.config import Config
from arb.domain.ids import ClientIdFactory
from arb.domain.market import Side, Symbol
from arb.domain.orders import OrderStatus
from arb.domain.venue import FillReport, OrderReport, OrderRequest
from arb.errors import ArbError, ConfigError
from arb.execution.maker import MakerRoute, RouteSpec
from arb.execution.risk import RiskGate
from arb.marketdata.books import BookStore
from arb.quoting.ledger import HedgeRules
from arb.quoting.pricing import Level, Quote, QuoteTerms
from arb.quoting.refresh import RefreshRule
from arb.quoting.sizing import Funds
from arb.runtime.funnel import Funnel
from arb.runtime.state import RunState
from arb.runtime.venues import VenueSet
from arb.store import maker_pairs
from arb.store import orders as order_store
from arb.store.maker_pairs import MakerPairTerms
from arb.store.settlement import settle_opportunity

log = logging.getLogger("arb.engine")
SIDES = {"both": (Side.BUY, Side.SELL), "bid": (Side.BUY,), "ask": (Side.SELL,)}
HUGE_AGE_MS = 1 << 62  # a book that never updated: older than any limit


class RunBooks:
    """The run's normalized books as a route reads them (``execution/maker.Books``)."""

    def __init__(self, books: BookStore, now_ms: Callable[[], int], depth: int) -> None:
        self._books, self._now_ms, self._depth = books, now_ms, depth

    def levels(self, venue: str, symbol: str, side: str) -> Sequence[Level]:
        return self._books.book(venue, symbol).levels(side, self._depth)

    def age_ms(self, venue: str, symbol: str) -> int:
        received = self._books.book(venue, symbol).received_ts
        return HUGE_AGE_MS if received is None else self._now_ms() - received


class StoreJournal:
    """The routes' journal (``execution/maker.Journal``), on the run's database."""

    def __init__(self, sessions: sessionmaker[Session], run_id: int, venues: VenueSet, books: RunBooks,
                 config: Config, now: Callable[[], datetime], funnel: Funnel, risk: RiskGate) -> None:
        self._sessions, self._run_id, self._venues, self._books = sessions, run_id, venues, books
        self._config, self._now, self._funnel, self._risk = config, now, funnel, risk
        self._orders: dict[str, int] = {}  # client order id -> order row
        self._purposes: dict[str, str] = {}
        self._answers: dict[str, str] = {}  # a hedge's or flatten's client order id -> the quote it answers
        self._terms: dict[str, MakerPairTerms] = {}  # a quote's client order id -> what it promised
        self._pairs: dict[str, int] = {}  # a quote's client order id -> its pair's row, once it filled
        self._settled: set[int] = set()
        self.taker_of: dict[tuple[str, str], str] = {}  # (maker venue, symbol) -> its hedges' venue
        # Whether a quote's filled base still waits for a hedge (the routes know): its pair is not done yet.
        self.owes: Callable[[str], bool] = lambda quote_id: False
        self.quotes_placed = 0

    async def before_send(self, venue: str, request: OrderRequest, purpose: str, quote: Quote | None,
                          answers: str) -> None:
        now = self._now()
        if quote is not None:
            self._terms[request.client_order_id] = self._pair_terms(venue, request.symbol, quote, now)
            self.quotes_placed += 1
        with self._sessions.begin() as s:
            pair = self._pair(s, answers) if purpose != "quote" else None
            order_id = order_store.create_order(s, order_store.NewOrder(
                self._run_id, pair, venue, request.symbol, request.side.value, request.price, request.amount,
                request.client_order_id, purpose=purpose, time_in_force=request.time_in_force), now)
            order_store.record_transition(s, order_id, OrderStatus.SUBMITTED, now, sent_at=now)
        self._orders[request.client_order_id] = order_id
        self._purposes[request.client_order_id] = purpose
        self._answers[request.client_order_id] = answers

    async def answered(self, venue: str, report: OrderReport) -> None:
        coid = report.client_order_id
        order_id = self._orders[coid]
        if self._purposes[coid] != "quote" and report.filled > sum((f.amount for f in report.fills), Decimal(0)):
            # An IOC's answer without all its trades (a live venue's): its trades by order id, then the answer.
            fills = await self._venues.venues[venue].fetch_fills(report.symbol, self._now(),
                                                                 order_id=report.venue_order_id)
            report = dataclasses.replace(report, fills=tuple(fills))
        now = self._now()
        with self._sessions.begin() as s:
            if self._purposes[coid] == "quote":
                order_store.record_quote_report(s, order_id, report, now)
            else:
                order_store.record_report(s, order_id, report, now)
        self._settle(self._answers[coid])

    async def refused(self, venue: str, client_order_id: str, error: ArbError) -> None:
        """A request that failed: refused outright (``rejected``), or with an outcome it cannot prove
        (``unknown``: a timeout; reconciliation looks it up)."""
        to = OrderStatus.UNKNOWN if error.retryable else OrderStatus.REJECTED
        with self._sessions.begin() as s:
            order_store.record_transition(s, self._orders[client_order_id], to, self._now(),
                                          detail=str(error)[:500])
        self._settle(self._answers[client_order_id])

    async def maker_fill(self, fill: FillReport) -> None:
        assert fill.client_order_id is not None
        order_id = self._orders[fill.client_order_id]
        with self._sessions.begin() as s:
            order_store.record_fills(s, order_id, [fill], self._now())
            maker_pairs.quote_filled(s, self._pair(s, fill.client_order_id), order_id)
        self._settle(fill.client_order_id)

    def _pair(self, s: Session, quote_coid: str) -> int:
        pair = self._pairs.get(quote_coid)
        if pair is None:
            pair = self._pairs[quote_coid] = maker_pairs.open_pair(s, self._run_id, self._orders[quote_coid],
                                                                   self._terms[quote_coid])
        return pair

    def settle_all(self) -> None:
        """At the end: every pair settled as it stands, base still owed a hedge shown as its open position."""
        for quote_coid in list(self._pairs):
            self._settle(quote_coid, final=True)

    def _settle(self, quote_coid: str, *, final: bool = False) -> None:
        """Settle the quote's pair once it is done: every one of its orders final and none of its base owed a
        hedge (the first time: counted); again when a late fill or hedge changes it."""
        pair = self._pairs.get(quote_coid)
        if pair is None or (self.owes(quote_coid) and not final):
            return
        with self._sessions.begin() as s:
            result = settle_opportunity(s, pair, self._now())
            if result is None or pair in self._settled:
                return
            self._settled.add(pair)
            expected = maker_pairs.expected_of(s, pair)
        self._funnel.executed_pair(expected, result.realized_pnl, "open" if result.open_base else "filled")
        self._risk.record_pnl(result.realized_pnl)  # the daily loss limit counts maker pairs too

    def _pair_terms(self, maker: str, symbol: str, quote: Quote, now: datetime) -> MakerPairTerms:
        taker = self.taker_of[maker, symbol]
        maker_fee, taker_fee = maker_fee_of(self._config, maker), self._config.venues[taker].taker_fee
        hedge_average = quote.hedge.average
        if quote.side is Side.BUY:
            buy, sell = (maker, quote.price, quote.price, maker_fee), (taker, hedge_average, quote.hedge.worst,
                                                                      taker_fee)
        else:
            buy, sell = (taker, hedge_average, quote.hedge.worst, taker_fee), (maker, quote.price, quote.price,
                                                                              maker_fee)
        bids = self._books.levels(buy[0], symbol, "bids")
        mark = bids[0][0] * (1 - self._config.venues[buy[0]].taker_fee) if bids else Decimal(0)
        return MakerPairTerms(symbol, buy[0], sell[0], buy[1], sell[1], buy[2], sell[2], buy[3], sell[3],
                              quote.expected_profit / quote.amount, mark, quote.amount, now)


def maker_fee_of(config: Config, venue: str) -> Decimal:
    section = config.venues[venue]
    return section.taker_fee if section.maker_fee is None else section.maker_fee


class QuotingDesk:
    """Every maker route of the run, built from the config once its venues are open and its row exists."""

    def __init__(self, config: Config, venues: VenueSet, books: BookStore, state: RunState,
                 sessions: sessionmaker[Session], run_id: int, *, now: Callable[[], datetime],
                 now_ms: Callable[[], int], funnel: Funnel, risk: RiskGate, ids: ClientIdFactory | None = None,
                 ) -> None:
        self.state = state
        self.books = RunBooks(books, now_ms, config.engine.book_depth)
        self.journal = StoreJournal(sessions, run_id, venues, self.books, config, now, funnel, risk)
        self.routes: dict[str, list[MakerRoute]] = {}
        self.journal.owes = lambda quote_id: any(r.owes(quote_id) for rs in self.routes.values() for r in rs)
        ids = ids or ClientIdFactory()
        for symbol in config.maker_symbols:
            maker = config.symbols[symbol].maker
            assert maker is not None
            directions = [(maker.maker_venue, maker.taker_venue)]
            if maker.both_ways:
                directions.append((maker.taker_venue, maker.maker_venue))
            self.routes[symbol] = [self._route(config, venues, symbol, m, t, ids, now_ms) for m, t in directions]

    def _route(self, config: Config, venues: VenueSet, symbol: str, maker_name: str, taker_name: str,
               ids: ClientIdFactory, now_ms: Callable[[], int]) -> MakerRoute:
        section = config.symbols[symbol].maker
        assert section is not None
        maker, taker = venues.venues[maker_name], venues.venues[taker_name]
        maker_rules, taker_rules = maker.market_rules(symbol), taker.market_rules(symbol)
        terms = QuoteTerms(section.min_profit_bps, section.slippage_buffer_bps, maker_fee_of(config, maker_name),
                           config.venues[taker_name].taker_fee, maker_rules.price_step, section.join_top)
        hedge = HedgeRules(taker_rules.amount_step, taker_rules.min_amount, taker_rules.min_notional,
                           section.quote_size if section.max_unhedged is None else section.max_unhedged,
                           section.hedge_attempts, section.hedge_retry_ms, section.hedge_widen_bps)
        spec = RouteSpec(symbol, maker_name, taker_name, SIDES[section.sides], section.quote_size, terms,
                         RefreshRule(section.refresh_bps, section.max_quote_age_ms), hedge,
                         config.risk.max_notional_per_trade, section.leg_policy, section.flatten_slippage_bps)
        venue_of = {"quote": maker, "flatten": maker, "hedge": taker}
        self.journal.taker_of[maker_name, symbol] = taker_name
        sym = Symbol.parse(symbol)
        balances = self.state.balances

        def funds() -> Funds:
            def free(venue: str, asset: str) -> Decimal:
                return balances.get(venue, {}).get(asset, Decimal(0))
            return Funds(free(maker_name, sym.base), free(maker_name, sym.quote), free(taker_name, sym.base),
                         free(taker_name, sym.quote))

        try:
            return MakerRoute(spec, maker, taker, self.books, self.journal, funds, now_ms,
                              lambda purpose: ids.next(venue_of[purpose].client_ids, purpose),
                              config.detection.max_book_age_ms, on_failed=self._failed(symbol))
        except TypeError:  # the venue (under its wrappers) has no fill stream
            raise ConfigError(str(config.path), f"symbols.{symbol}.maker.maker_venue",
                              f"{maker_name} ({venues.kinds[maker_name]}) has no fill stream to take a resting "
                              "quote's fills from: a paper venue can be a maker venue") from None

    def _failed(self, symbol: str) -> Callable[[Side, Decimal], None]:
        def failed(side: Side, waiting: Decimal) -> None:
            routes = self.routes[symbol]
            if any(route.halted for route in routes) and not self.state.halted:
                self.state.halted = True
                self.state.stop_reason = (f"halted: {symbol} maker {side.value} hedges failed, {waiting:f} base "
                                          "owed a hedge")
                self.state.stop.set()
        return failed

    async def on_books(self, symbol: str) -> None:
        """A book of ``symbol`` changed: each of its routes re-prices."""
        for route in self.routes[symbol]:
            await route.on_books()
        self._raise_failures()

    async def close(self) -> None:
        """Cancel every resting quote, wait for the hedges in flight (the run's end, a stop, the kill switch)."""
        for routes in self.routes.values():
            for route in routes:
                await route.close()
        self._raise_failures()

    def settle(self) -> None:
        """Every pair settled as it stands at the run's end (``close`` first)."""
        self.journal.settle_all()

    def _raise_failures(self) -> None:
        for routes in self.routes.values():
            for route in routes:
                if route.errors:
                    raise route.errors[0]  # a route's background task failed: the run fails, never silently
