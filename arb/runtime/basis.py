"""The basis symbols' decisions on the run's books: each ``strategy = "basis"`` symbol's two venues read as
``arb.detection.basis`` takes them (books now, market rules, fees, the funds sizing reads, the position the
perpetual's margin account last reported, the perpetual's next funding as its latest funding line announced
it, and the market time now), and its pair handed to the decision loop like a taker opportunity: the same
risk gate, executor, rows and settlement.

A basis symbol is decided at its books' updates, as a taker symbol is: a funding line, or a funding time
drawing near, does not wake the decision by itself; the next book update sees it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from arb.config import Config
from arb.detection.basis import BasisBook, BasisRule, Funding, decide
from arb.detection.types import Opportunity
from arb.domain.market import Symbol
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureFunding
from arb.runtime.state import RunState
from arb.runtime.venues import VenueSet

ZERO = Decimal(0)
MS = 1000


class BasisDesk:
    def __init__(self, config: Config, venues: VenueSet, books: BookStore, state: RunState,
                 now_ms: Callable[[], int],
                 funding: Callable[[str, str], CaptureFunding | None] = lambda venue, symbol: None) -> None:
        self._config, self._venues, self._books, self._state, self._now_ms = config, venues, books, state, now_ms
        self._funding = funding  # (venue, symbol) -> the latest funding line arb received (runtime/feeds.py)
        self.rules: dict[str, BasisRule] = {}
        for symbol in config.basis_symbols:
            b = config.symbols[symbol].basis
            assert b is not None
            self.rules[symbol] = BasisRule(symbol, b.spot_venue, b.perp_venue, b.size, b.max_position, b.open_bps,
                                           b.close_bps, b.direction == "carry", b.funding_horizon_s * MS,
                                           b.close_before_funding_s * MS)

    def decide(self, symbol: str) -> Opportunity | None:
        """``symbol``'s basis pair now, or None (a book not there yet, or nothing that pays)."""
        rule = self.rules[symbol]
        spot, perp = self._side(rule.spot_venue, symbol), self._side(rule.perp_venue, symbol)
        if spot is None or perp is None:
            return None
        return decide(rule, spot, perp, self.held(symbol), self.funding(symbol), self._now_ms())

    def funding(self, symbol: str) -> Funding | None:
        """The perpetual's next funding as its latest funding line announced it; None before any."""
        line = self._funding(self.rules[symbol].perp_venue, symbol)
        return None if line is None else Funding(Decimal(line.rate), line.funding_ts, Decimal(line.mark))

    def held(self, symbol: str) -> Decimal:
        """The position in the rule's direction, as the perpetual's margin account last reported it (after
        each pair: ``runtime/balances.py``); 0 before any."""
        rule = self.rules[symbol]
        reading = self._state.margin.get(rule.perp_venue)
        amount = next((p.amount for p in reading.positions if p.symbol == symbol), ZERO) if reading else ZERO
        return max(ZERO, -amount if rule.carry else amount)

    def _side(self, venue: str, symbol: str) -> BasisBook | None:
        book = self._books.book(venue, symbol)
        if book.received_ts is None or not book.best_bid() or not book.best_ask():
            return None
        sym = Symbol.parse(symbol)
        funds = self._state.balances.get(venue, {})
        return BasisBook(venue, book.levels("bids"), book.levels("asks"), self._venues.venues[venue].market_rules(symbol),
                         self._config.venues[venue].taker_fee, self._venues.fee_mode(self._config, venue),
                         self._venues.free_base(venue, sym, funds), funds.get(sym.quote, ZERO), book.seq,
                         max(0, self._now_ms() - book.received_ts))
