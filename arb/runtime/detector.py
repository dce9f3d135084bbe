"""The hot path's inputs: each symbol's books on every venue, with fees, market rules and free balances,
into detection at ``now_ms()``.

Two ways in, one per way the decision loop calls detection:

- :meth:`Detector.detect`, one symbol: a ``VenueBook`` per venue with a book, read from the books when
  asked (the loop detecting one symbol at a time, and any wake-up with few dirty symbols);
- :meth:`Detector.detect_all` on ``BATCH_FROM`` or more symbols, once :meth:`Detector.track` has started:
  one :func:`~arb.detection.batch.detect_rows` call over :class:`TrackedRows`, every configured (symbol,
  venue) book as one row of preallocated arrays, copied from the book as the store applies each update.
  A wake-up then reads rows that are already current instead of rebuilding every venue's inputs, its
  work grows with the pairs that cross, and ``VenueBook`` objects are built only for the pairs detection
  sizes exactly in ``Decimal`` (a rejection with nothing to size reads the row's ``BookFacts``).

Both give detection the same numbers: a row holds the book's own ``top_arrays`` floats; health is
``OrderBook.health``'s rule, its book part (gap, syncing, crossed) taken at the update, which is the only
time it can change, and its age part applied at detection time; balances are ``float()`` of the same
``Decimal``. ``tests/runtime/test_detector.py`` compares the two on books in every state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from arb.config import Config
from arb.detection import DetectionParams, FeeMode, Opportunity, Rejection, VenueBook, detect, detect_many
from arb.detection.batch import PendingRejection, detect_rows, top_screen_of
from arb.detection.core import BATCH_FROM
from arb.detection.finalize import BookFacts
from arb.detection.rows import FactsOf, ScreenLimits, TopInputs, venue_factors
from arb.detection.vectorized import ASK_PAD
from arb.domain.market import MarketRules, Symbol
from arb.marketdata.book import Health, OrderBook
from arb.marketdata.books import BookStore
from arb.runtime.venues import VenueSet

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]
Decided = Opportunity | Rejection | None
Pending = Decided | PendingRejection  # a decision, or a rejection whose record is built later

_NO_BALANCES: Mapping[str, Decimal] = MappingProxyType({})  # one object: a venue not read yet stays cached


def detection_params(config: Config, symbol: str) -> DetectionParams:
    d = config.detection
    return DetectionParams(max_size=config.symbols[symbol].size, min_edge_bps=d.min_edge_bps,
                           min_profit=d.min_profit, max_edge_bps=d.abnormal_edge_bps,
                           max_book_age_ms=d.max_book_age_ms, limit_allowance_bps=config.execution.slippage_bps)


class Detector:
    """For each symbol, each venue's top levels, fees, market rules and free balances into detection, at
    ``now_ms()``."""

    def __init__(self, config: Config, books: BookStore, venues: VenueSet,
                 balances: Mapping[str, Mapping[str, Decimal]], now_ms: Callable[[], int]) -> None:
        self._depth = config.engine.book_depth
        self._books = books
        self._names = list(venues.venues)
        # Only venues that both trade a symbol are paired for it ([venues.<name>] symbols).
        self._trading = {s: [n for n in config.venues_trading(s) if n in venues.venues] for s in config.taker_symbols}
        self._balances = balances  # venue -> asset -> free, kept current by the run's balance reads
        self._now_ms = now_ms
        # What does not change during a run is built once, not on every book update.
        self._symbols = list(config.taker_symbols)  # a maker symbol is quoted, not detected
        self._per_symbol = {s: (Symbol.parse(s), detection_params(config, s)) for s in self._symbols}
        self._all_params = [params for _, params in self._per_symbol.values()]
        self._per_venue: dict[tuple[str, str], tuple[Decimal, FeeMode, MarketRules]] = {}
        # Each venue's fee mode scans its markets: asked once per venue, not once per (symbol, venue) row.
        self._fees: dict[str, tuple[Decimal, FeeMode]] = {}
        self._config = config
        self._venues = venues
        self._rows: TrackedRows | None = None
        # What the pairs in flight may still spend, per venue and asset: detection sizes on the rest.
        self._reserved: dict[str, dict[str, Decimal]] = {}
        self._available: dict[str, tuple[Mapping[str, Decimal], Mapping[str, Decimal]]] = {}  # (held, rest)

    def track(self) -> Callable[[], None]:
        """Keep :class:`TrackedRows` current from every book update on, for :meth:`detect_all` (only with at
        least ``BATCH_FROM`` symbols: fewer never take the batched path). Returns what stops it."""
        if len(self._symbols) < BATCH_FROM:
            return lambda: None
        rows = self._rows = TrackedRows(self)
        remove = self._books.add_watcher(rows.on_book)

        def untrack() -> None:
            remove()
            self._rows = None

        return untrack

    def detect(self, symbol: str) -> Decided:
        """None while fewer than two venues have a book for ``symbol``."""
        now = self._now_ms()
        inputs = self._inputs(symbol, now)
        if len(inputs) < 2:
            return None
        return detect(symbol, inputs, self._per_symbol[symbol][1])

    def detect_all(self, symbols: list[str]) -> list[Pending]:
        """``detect`` for each of ``symbols``, in order, in one detection call (each symbol with its own
        parameters), on the books, balances and time of this instant. On the tracked rows a rejection with
        nothing to size comes as a ``PendingRejection`` (``batch.records`` builds its record)."""
        if len(symbols) == 1:
            return [self.detect(symbols[0])]
        now = self._now_ms()
        # Every symbol at once (a wide instant): the list built once, not 100 lookups on each wake-up.
        params = self._all_params if symbols == self._symbols else [self.params(s) for s in symbols]
        rows = self._rows
        if rows is not None and len(symbols) >= BATCH_FROM:
            return rows.detect(symbols, params, now)
        decisions: list[Pending] = [None] * len(symbols)
        at: list[int] = []
        items: list[tuple[str, list[VenueBook]]] = []
        for k, symbol in enumerate(symbols):
            inputs = self._inputs(symbol, now)
            if len(inputs) >= 2:
                at.append(k)
                items.append((symbol, inputs))
        for k, decision in zip(at, detect_many(items, [params[k] for k in at]), strict=True):
            decisions[k] = decision
        return decisions

    def _inputs(self, symbol: str, now: int) -> list[VenueBook]:
        """What detection takes for ``symbol``: one ``VenueBook`` per venue that trades it and has a book."""
        inputs = []
        for name in self._trading[symbol]:
            book = self._books.book(name, symbol)
            if book.received_ts is not None:
                inputs.append(self.venue_book(name, symbol, book, now))
        return inputs

    def venue_book(self, name: str, symbol: str, book: OrderBook, now: int) -> VenueBook:
        """``book`` (venue ``name``, with a receive time) as detection takes it at ``now``."""
        sym = self._per_symbol[symbol][0]
        taker_fee, fee_mode, rules = self._per_venue.get((name, symbol)) or self.venue_statics(name, symbol)
        bid_px, bid_sz, ask_px, ask_sz = book.top_arrays(self._depth)
        balances = self.balances_of(name)
        assert book.received_ts is not None
        return VenueBook(
            venue=name, bid_px=bid_px, bid_sz=bid_sz, ask_px=ask_px, ask_sz=ask_sz,
            taker_fee=taker_fee, fee_mode=fee_mode,
            quote_balance=balances.get(sym.quote, Decimal(0)), base_balance=self._venues.free_base(name, sym, balances),
            rules=rules, health=book.health(now),  # a StrEnum: equal to its value, without the lookup
            age_ms=max(0, now - book.received_ts), seq=book.seq,
        )

    def venue_statics(self, name: str, symbol: str) -> tuple[Decimal, FeeMode, MarketRules]:
        key = (name, symbol)
        statics = self._per_venue.get(key)
        if statics is None:
            statics = self._per_venue[key] = (self._config.venues[name].taker_fee,
                                              self._venues.fee_mode(self._config, name),
                                              self._venues.venues[name].market_rules(symbol))
        return statics

    def fees(self, name: str) -> tuple[Decimal, FeeMode]:
        """Venue ``name``'s taker fee and fee mode (the same for every symbol; no market rules needed: a row
        of a symbol the venue does not trade has them too, and never a book)."""
        fees = self._fees.get(name)
        if fees is None:
            fees = self._fees[name] = self._config.venues[name].taker_fee, self._venues.fee_mode(self._config, name)
        return fees

    def free_base(self, name: str, symbol: str) -> Decimal:
        """What a sell of ``symbol`` on venue ``name`` may sell now (``VenueSet.free_base``): its base held, or
        what a perpetual's margin holds at the ask now."""
        return self._venues.free_base(name, self._per_symbol[symbol][0], self.balances_of(name))

    def on_margin(self, name: str, symbol: str) -> bool:
        """Whether ``symbol`` on venue ``name`` is a perpetual, sold on margin (``VenueSet.margin``)."""
        account = self._venues.margin.get(name)
        return account is not None and symbol in account.markets

    def balances_of(self, name: str) -> Mapping[str, Decimal]:
        """Venue ``name``'s free balances less what the pairs in flight there may still spend (never below
        zero). The same object until either changes: the tracked rows re-read a venue only then."""
        held = self._balances.get(name, _NO_BALANCES)
        reserved = self._reserved.get(name)
        if not reserved:
            return held
        cached = self._available.get(name)
        if cached is None or cached[0] is not held:
            rest = {asset: max(Decimal(0), held.get(asset, Decimal(0)) - reserved.get(asset, Decimal(0)))
                    for asset in held.keys() | reserved.keys()}
            cached = self._available[name] = (held, MappingProxyType(rest))
        return cached[1]

    def reserve(self, amounts: Mapping[tuple[str, str], Decimal], *, release: bool = False) -> None:
        """Hold back (``release``: give back) ``amounts`` per (venue, asset) for a pair in flight."""
        for (venue, asset), amount in amounts.items():
            held = self._reserved.setdefault(venue, {})
            held[asset] = held.get(asset, Decimal(0)) + (-amount if release else amount)
            if not held[asset]:
                del held[asset]
            self._available.pop(venue, None)  # rebuilt on the next read, as a new object

    @property
    def symbols(self) -> list[str]:
        return self._symbols

    @property
    def names(self) -> list[str]:
        return self._names

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def store(self) -> BookStore:
        return self._books

    def params(self, symbol: str) -> DetectionParams:
        return self._per_symbol[symbol][1]

    def base_quote(self, symbol: str) -> Symbol:
        return self._per_symbol[symbol][0]


class TrackedRows:
    """Every configured (symbol, venue) book as one row, symbol-major (row ``i * venues + k``), for
    :func:`~arb.detection.batch.detect_rows`; :meth:`on_book` copies a book into its row as it changes.

    Kept per row: the top levels as detection's padded ``[ask_px, ask_sz, bid_px, bid_sz]``, whether each
    side has levels, the receive time, and whether the book itself was live when it last changed; per row
    too, the fee factors (fixed) and the venue's free base and quote as floats, re-read when the run's
    balance reads replace a venue's balances (``runtime/balances.py`` replaces them, never edits them).
    """

    def __init__(self, detector: Detector) -> None:
        self._detector = detector
        symbols, names = detector.symbols, detector.names
        self._venues = len(names)
        n = len(symbols) * len(names)
        self.books: FloatArray = np.zeros((n, 4, detector.depth))
        self.books[:, 0] = ASK_PAD
        self.best: FloatArray = np.zeros((n, 2))  # each row's best ask and bid (``rows.BookRows.best``)
        self.best[:, 0] = ASK_PAD
        self.has_ask: BoolArray = np.zeros(n, dtype=np.bool_)
        self.has_bid: BoolArray = np.zeros(n, dtype=np.bool_)
        self._live_at_update = np.zeros(n, dtype=np.bool_)  # the book's health, but for its age
        self._received = np.zeros(n, dtype=np.intp)
        self._seq: list[int | None] = [None] * n  # each row's book sequence number at its last update
        self._max_age_ms = detector.store.max_age_ms  # every book's: the store gives it to each
        # Per row, ``rows.BookRows.factors``: the fee's three factors (fixed), then free base and quote (re-read).
        self._factors = np.zeros((n, 5))
        self._factors[:, :3] = [venue_factors(*detector.fees(name), Decimal(0), Decimal(0))[:3]
                                for symbol in symbols for name in names]
        self._held_from: list[Mapping[str, Decimal] | None] = [None] * len(names)
        self._row = {(name, symbol): i * len(names) + k
                     for i, symbol in enumerate(symbols) for k, name in enumerate(names)}
        self._index = {symbol: i for i, symbol in enumerate(symbols)}
        self._limits = ScreenLimits.of([detector.params(s) for s in symbols])
        self._keys = [(name, symbol) for symbol in symbols for name in names]
        # The rows of perpetuals: what they may sell moves with their ask (``Detector.free_base``), so it is read
        # again whenever their book changes, not only with the balances.
        self._on_margin = {row for row, (name, symbol) in enumerate(self._keys) if detector.on_margin(name, symbol)}
        self._venue_of = [name for name, _ in self._keys]
        self._fee_of = [detector.fees(name)[0] for symbol in symbols for name in names]
        self._book_at: list[OrderBook | None] = [None] * n  # each row's book, once it has had an event
        self._sides = [(0, 0)] * n  # how many ask and bid levels each row holds (the rest is padding)
        self._now = 0
        # The compiled pass over every row's tops, built once: the arrays above are updated in place.
        self._screen = top_screen_of(self.tops(), self._venues, self._limits)
        for key, book in detector.store.books.items():  # books that exist before tracking starts
            row = self._row.get(key)
            if row is not None:
                self._load(row, book)

    def on_book(self, book: OrderBook) -> None:
        """The book store's watcher: every event (update, reset, gap) of a configured book reloads its row."""
        row = self._row.get((book.venue, book.symbol))
        if row is not None:
            self._load(row, book)

    def _load(self, row: int, book: OrderBook) -> None:
        self._book_at[row] = book
        received = book.received_ts
        if received is None:  # no book yet, as far as detection goes (``Detector._inputs`` skips it)
            self.has_ask[row] = self.has_bid[row] = False
            self.best[row] = ASK_PAD, 0.0
            return
        bid_px, bid_sz, ask_px, ask_sz = book.top_arrays(self._detector.depth)
        top = self.books[row]
        asks, bids = len(ask_px), len(bid_px)
        top[0, :asks], top[1, :asks], top[2, :bids], top[3, :bids] = ask_px, ask_sz, bid_px, bid_sz
        # Past a side's levels the row holds padding, written only where the side was deeper before.
        had_asks, had_bids = self._sides[row]
        if asks < had_asks:
            top[0, asks:had_asks], top[1, asks:had_asks] = ASK_PAD, 0.0
        if bids < had_bids:
            top[2, bids:had_bids], top[3, bids:had_bids] = 0.0, 0.0
        self._sides[row] = (asks, bids)
        self.best[row] = top[0, 0], top[2, 0]
        self.has_ask[row] = asks > 0
        self.has_bid[row] = bids > 0
        self._received[row] = received
        self._seq[row] = book.seq
        self._live_at_update[row] = book.health(received) is Health.LIVE
        if row in self._on_margin:
            name, symbol = self._keys[row]
            self._factors[row, 3] = float(self._detector.free_base(name, symbol))

    def detect(self, symbols: Sequence[str], params: Sequence[DetectionParams], now: int) -> list[Pending]:
        """``Detector.detect`` for each of ``symbols`` at ``now``, in one ``detect_rows`` call."""
        self._now = now
        self._read_balances()
        venues = self._venues
        kept = None
        if symbols == self._detector.symbols:  # every symbol, in row order (a wide instant): no copy
            view: TrackedRows | _Subset = self
            limits = self._limits
            kept = None if self._screen is None else (self._screen, now)
        else:
            at = np.array([self._index[s] for s in symbols], dtype=np.intp)
            view = _Subset(self, (at[:, None] * venues + np.arange(venues)).ravel())
            limits = self._limits.subset(at)
        return detect_rows(symbols, range(0, len(symbols) * venues + 1, venues), view, params, defer=True,
                           limits=limits, kept=kept)

    def _read_balances(self) -> None:
        detector = self._detector
        for k, name in enumerate(detector.names):
            held = detector.balances_of(name)
            if held is self._held_from[k]:
                continue
            self._held_from[k] = held
            for i, symbol in enumerate(detector.symbols):
                sym = detector.base_quote(symbol)
                row = i * self._venues + k
                # A perpetual's sell is sized on its margin at the ask now, as one symbol at a time sizes it: the
                # base of its sizing funds is that notional at the mid when read (0 before its book had one).
                base = detector.free_base(name, symbol) if row in self._on_margin else held.get(sym.base, Decimal(0))
                self._factors[row, 3] = float(base)
                self._factors[row, 4] = float(held.get(sym.quote, Decimal(0)))

    def screen(self, rows: IntArray) -> tuple[BoolArray, IntArray]:
        age = self._now - self._received[rows]
        live = self._live_at_update[rows] & (age <= self._max_age_ms)  # ``OrderBook.health``'s STALE rule
        return live, np.maximum(age, 0)

    def factors(self, rows: IntArray) -> FloatArray:
        return self._factors[rows]

    def tops(self) -> TopInputs:
        return TopInputs(self.best, self.has_ask.view(np.uint8), self.has_bid.view(np.uint8), self._received,
                         self._live_at_update.view(np.uint8), self._now, self._max_age_ms, self._factors)

    def venue_book(self, row: int) -> VenueBook:
        name, symbol = self._keys[row]
        book = self._book_at[row]
        assert book is not None  # a row detection involves has sides, so it was loaded
        return self._detector.venue_book(name, symbol, book, self._now)

    def facts(self) -> FactsOf:
        """Every row's ``BookFacts`` as of this detection, for the rejections' records (built after the hot
        path): the rows' receive times and sequence numbers copied now, so a later update cannot change them.
        Each age is worked out when a record reads its row, from the copy: the hot path copies 500 integers
        (~0.6 us) instead of turning every row's age into a Python int (~8 us on 100 symbols x 5 venues)."""
        received, seqs, now = self._received.copy(), self._seq.copy(), self._now
        venue_of, fee_of = self._venue_of, self._fee_of
        return lambda row: BookFacts(venue_of[row], fee_of[row], seqs[row], max(0, now - received.item(row)))


class _Subset:
    """Some symbols' rows of :class:`TrackedRows` (``rows``: theirs, in order), as ``detect_rows`` reads them."""

    __slots__ = ("_all", "_rows", "best", "books", "has_ask", "has_bid")

    def __init__(self, rows: TrackedRows, at: IntArray) -> None:
        self._all = rows
        self._rows = at
        self.books = rows.books[at]
        self.best = rows.best[at]
        self.has_ask = rows.has_ask[at]
        self.has_bid = rows.has_bid[at]

    def screen(self, rows: IntArray) -> tuple[BoolArray, IntArray]:
        return self._all.screen(self._rows[rows])

    def factors(self, rows: IntArray) -> FloatArray:
        return self._all.factors(self._rows[rows])

    def tops(self) -> TopInputs:
        every, at = self._all.tops(), self._rows
        return every._replace(best=self.best, has_ask=every.has_ask[at], has_bid=every.has_bid[at],
                              received=every.received[at], live_at_update=every.live_at_update[at],
                              factors=every.factors[at])

    def venue_book(self, row: int) -> VenueBook:
        return self._all.venue_book(int(self._rows[row]))

    def facts(self) -> FactsOf:
        every, rows = self._all.facts(), self._rows.tolist()
        return lambda row: every(rows[row])
