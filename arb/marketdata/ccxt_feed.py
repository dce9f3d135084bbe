"""Books for any ccxt exchange id: ccxt.pro ``watch_order_book``, or REST polling where there is no WS.

ccxt keeps the venue's book in sync itself (for venues where it checks sequence numbers); we take its top
``limit`` levels as a snapshot into the store after every update, so detection, recording and replay see
the same normalized form as our own Gate feed. ccxt holds floats: each is written back as the shortest
decimal string that round-trips (exact for venue prices, which have at most 15 significant digits).
A failure resets the book to ``syncing`` (through the store: a ``reset`` event its listeners see) and
retries after a capped, jittered backoff.

Malformed input never stops the feed (``marketdata/drops.py``):

- ccxt parses frames in a callback of its receive loop, where an exception silently ends that loop (the
  book then freezes until a keepalive timeout). Every frame ccxt's client receives passes through our guard
  (:meth:`CcxtBookFeed.guard`): a frame ccxt's parser raises on is dropped and counted (``bad_json``,
  ``not_object`` or ``unparsable``), and the connection is dropped so ccxt resubscribes from a fresh
  snapshot (its own book may hold half of that frame);
- a book ccxt hands us is checked level by level before the store sees it: a non-finite, negative or
  non-numeric level drops the update (counted; our book goes ``syncing`` and ccxt resubscribes), an
  over-precise price drops that level (counted).

Anything else that ends :meth:`CcxtBookFeed.run` (a bug) is the supervisor's: logged, counted, restarted.

Given a trade tape (``arb record``), the feed also runs ccxt.pro's ``watch_trades`` for each symbol, where
the exchange has it, and puts every unified trade on the tape: ``side`` is the taker's (ccxt's rule), price
and amount are ccxt's floats written back as decimal strings (ccxt keeps no venue strings; the shortest
decimal that round-trips). A trade without an id or a side, or with a number that is not one, is dropped
and counted; a failing trade watch backs off and retries on its own, never touching a book.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import ccxt

from arb.marketdata.books import BookStore
from arb.marketdata.capture import checked_trade
from arb.marketdata.drops import Dropped, Level, checked_levels, optional_int
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.trades import TradeTape

log = logging.getLogger(__name__)


def decimal_str(value: float | int | str) -> str:
    """A ccxt number as a plain decimal string (no exponent: ``1e-05`` -> ``0.00001``)."""
    text = format(Decimal(repr(value) if isinstance(value, float) else str(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".") or "0"
    return text


def _ccxt_number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Dropped("bad_number", f"{type(value).__name__} where a number belongs")
    if isinstance(value, float) and not math.isfinite(value):
        raise Dropped("bad_number", f"{value!r}")
    try:
        return decimal_str(value)
    except (ArithmeticError, ValueError):
        raise Dropped("bad_number", repr(value)[:40]) from None


def checked_ccxt_levels(side: object, name: str, limit: int) -> tuple[list[Level], int]:
    """The top ``limit`` levels of a ccxt book side, as checked decimal strings (``drops.checked_levels``)."""
    if not isinstance(side, Sequence) or isinstance(side, str | bytes):
        raise Dropped("missing_field", f"{name!r} is not a list of levels")
    raw = []
    for level in side[:limit]:
        if not isinstance(level, Sequence) or isinstance(level, str | bytes) or len(level) < 2:
            raise Dropped("bad_level", f"{name!r} level {str(level)[:60]} is not [price, amount, ...]")
        raw.append([_ccxt_number(level[0]), _ccxt_number(level[1])])
    return checked_levels(raw, name)


def _classify(data: object) -> str:
    """Why ccxt could not handle a frame, as a drop reason."""
    try:
        decoded = json.loads(data)  # type: ignore[arg-type]  # any frame: what json refuses is bad_json
    except (TypeError, ValueError):
        return "bad_json"
    return "unparsable" if isinstance(decoded, dict) else "not_object"


class CcxtBookFeed:
    """Keeps ``store`` books of ``symbols`` on a ccxt (pro) exchange until cancelled, under the setup's venue
    name."""

    def __init__(
        self,
        store: BookStore,
        exchange: Any,
        symbols: Sequence[str],
        setup: FeedSetup,
        *,
        limit: int = 20,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.store = store
        self.exchange = exchange
        self.tape = setup.trades
        self.venue = setup.venue
        self.symbols = list(symbols)  # the books' symbols; watched as the venue's market for each
        self.markets = {s: setup.market(s) for s in self.symbols}
        self.limit = limit
        self.poll_interval_s = poll_interval_s
        self.setup = setup
        self.clock_ms = setup.clock_ms
        self.drops = setup.drops
        self.errors = 0  # failed book watches or polls (the book reset, backed off and retried)
        self.guard(exchange)

    def counts(self) -> dict[str, Any]:
        """The feed's health so far, as the metrics export it (``arb_feed_errors_total``). ccxt keeps the
        connections; a frame it could not parse is in ``drops``, a resubscription of the watchdog's in
        ``FeedSet.resubscribes``."""
        return {"errors": self.errors}

    @property
    def streaming(self) -> bool:
        return bool(self.exchange.has.get("watchOrderBook"))

    def guard(self, exchange: Any) -> None:
        """Route every frame of ``exchange``'s WebSocket clients through :meth:`on_bad_frame` on failure.

        ccxt's ``Client.handle_text_or_binary_message`` decodes a frame and calls the exchange's parser,
        inside a done-callback of its receive loop: an exception there ends the loop. We wrap it on each
        client as ccxt creates it (``exchange.client(url)``), so ccxt's own parsing stays untouched.
        """
        make_client = getattr(exchange, "client", None)
        if make_client is None:  # a REST-only exchange: no frames of its own to guard
            return

        def client(url: str) -> Any:
            made = make_client(url)
            if not getattr(made, "arb_guarded", False):
                handle = made.handle_text_or_binary_message

                def guarded(data: Any) -> None:
                    try:
                        handle(data)
                    except Exception as exc:  # noqa: BLE001 - a frame ccxt cannot parse is dropped, not fatal
                        self.on_bad_frame(data, exc)

                made.handle_text_or_binary_message = guarded
                made.arb_guarded = True
            return made

        exchange.client = client

    def on_bad_frame(self, data: object, exc: BaseException) -> None:
        """ccxt raised on ``data``: count it, and resubscribe (ccxt's book may hold half of that frame)."""
        self.drops.count(self.venue, _classify(data), f"{type(exc).__name__}: {exc}")
        self.request_resubscribe()

    def request_resubscribe(self) -> None:
        """Drop ccxt's connections: pending watches fail with a NetworkError (our loop resets the books and
        backs off), and the next watch connects and subscribes again, starting from a full snapshot."""
        for client in list((getattr(self.exchange, "clients", None) or {}).values()):
            if client.error is None:
                client.on_error(ccxt.NetworkError(f"{self.venue}: resubscribing (arb)"))

    async def resubscribe(self) -> None:
        """The watchdog's remedy for a silent feed."""
        for symbol in self.symbols:
            self.store.reset(self.venue, symbol, ts=self.clock_ms())
        self.request_resubscribe()

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:  # one symbol failing cancels the others (then restarts)
                for symbol in self.symbols:
                    group.create_task(self._run_symbol(symbol))
                    if self.tape is not None and self.exchange.has.get("watchTrades"):
                        group.create_task(self._run_trades(symbol, self.tape))
        finally:
            for symbol in self.symbols:
                self.store.reset(self.venue, symbol, ts=self.clock_ms())

    async def _run_symbol(self, symbol: str) -> None:
        attempt = 0
        while True:
            try:
                if self.streaming:
                    orderbook = await self.exchange.watch_order_book(self.markets[symbol], self.limit)
                else:
                    orderbook = await self.exchange.fetch_order_book(self.markets[symbol], self.limit)
                if self.on_orderbook(symbol, orderbook):
                    attempt = 0
                    if not self.streaming:
                        await self.setup.sleep(self.poll_interval_s)
                    continue
                # dropped (counted; ccxt resubscribes): back off, a venue may keep sending the same garbage
            except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                self.errors += 1
                log.warning("%s %s book: %s: %s", self.venue, symbol, type(exc).__name__, exc)
                self.store.reset(self.venue, symbol, ts=self.clock_ms())
            await self.setup.wait_to_retry(attempt)
            attempt += 1

    async def _run_trades(self, symbol: str, tape: TradeTape) -> None:
        attempt = 0
        while True:
            try:
                trades = await self.exchange.watch_trades(self.markets[symbol])
            except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                log.warning("%s %s trades: %s: %s", self.venue, symbol, type(exc).__name__, exc)
                await self.setup.wait_to_retry(attempt)
                attempt += 1
                continue
            attempt = 0
            ts = self.clock_ms()
            for trade in trades if isinstance(trades, Sequence) else ():
                self.on_trade(symbol, trade, ts, tape)

    def on_trade(self, symbol: str, trade: object, ts: int, tape: TradeTape) -> None:
        """Put one ccxt unified trade received at ``ts`` on ``tape``; a malformed one is dropped and counted."""
        try:
            if not isinstance(trade, Mapping):
                raise Dropped("not_object", f"a trade of type {type(trade).__name__}")
            trade_id = trade.get("id")
            if trade_id is None or isinstance(trade_id, bool) or not isinstance(trade_id, str | int):
                raise Dropped("missing_field", f"a trade without an id: {str(trade_id)[:40]}")
            tape_trade = checked_trade(ts, self.venue, symbol, _ccxt_number(trade.get("price")),
                                       _ccxt_number(trade.get("amount")), trade.get("side"),  # type: ignore[arg-type]  # checked_trade checks them
                                       str(trade_id), optional_int(trade.get("timestamp")))
        except Dropped as drop:
            self.drops.count(self.venue, drop.reason, f"{symbol} trade: {drop.detail}")
            return
        except ValueError as exc:
            self.drops.count(self.venue, "missing_field", f"{symbol} trade: {exc}")
            return
        tape.trade(tape_trade)

    def on_orderbook(self, symbol: str, orderbook: object) -> bool:
        """Publish ccxt's book as a snapshot; returns False when it was dropped (counted, book ``syncing``)."""
        try:
            if not isinstance(orderbook, Mapping):
                raise Dropped("not_object", f"an order book of type {type(orderbook).__name__}")
            bids, over_bids = checked_ccxt_levels(orderbook.get("bids"), "bids", self.limit)
            asks, over_asks = checked_ccxt_levels(orderbook.get("asks"), "asks", self.limit)
        except Dropped as drop:
            self.drops.count(self.venue, drop.reason, f"{symbol}: {drop.detail}")
            self.store.reset(self.venue, symbol, ts=self.clock_ms())
            self.request_resubscribe()
            return False
        if over_bids or over_asks:
            self.drops.count(self.venue, "over_precise", f"{symbol}: a price with more than 15 significant digits",
                             over_bids + over_asks)
        try:
            self.store.snapshot(self.venue, symbol, bids, asks, ts=self.clock_ms(),
                                seq=optional_int(orderbook.get("nonce")),
                                exchange_ts=optional_int(orderbook.get("timestamp")))
        except (ValueError, TypeError, ArithmeticError) as exc:
            self.drops.count(self.venue, "book_refused", f"{symbol}: {exc}")
            self.store.reset(self.venue, symbol, ts=self.clock_ms())
            return False
        return True
