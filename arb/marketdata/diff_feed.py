"""Books kept in sync by us from a venue's WebSocket diff stream plus REST snapshots (:class:`DiffStreamFeed`).

What every such feed does, whatever the venue: connect, send the venue's subscribe frames (if any), check
and apply every frame, fetch a snapshot when a book's :class:`DiffSync` asks for one (the first diff, an
update-id gap, a snapshot too old for the buffered diffs), and reconnect after a capped, jittered backoff
when the connection drops; every book is reset to ``syncing`` meanwhile. A venue's feed (in
``arb/venues/<venue>/feed.py``) says only what is its own: where to connect, what to send, how to read one
frame and one snapshot body, and where to fetch a snapshot.

Every frame is checked before a book sees it (``marketdata/drops.py``): a malformed frame is dropped and
counted per reason, never raised. Its book is resynced at once (``gap``, then a fresh snapshot), or every
book when the frame cannot say which it was for: a lost update never leaves a silently wrong book.
Snapshots are checked the same way (a bad one is counted and fetched again). What does end
:meth:`DiffStreamFeed.run` is a :class:`VenueError` from the venue's frame reader (a refused subscription)
or a bug; the engine's supervisor logs, counts and restarts it (``runtime/supervisor.py``).

Given a :class:`~arb.marketdata.trades.TradeTape` (``arb record`` gives one), a venue's feed also subscribes
to its public trades, and to a perpetual's mark and funding rate, where it can; it routes each trade frame to
:data:`TRADE` (read in :meth:`_trade`) and each mark/funding frame to :data:`FUNDING` (read in
:meth:`_funding`), and the lines go on the tape. A book frame never takes those branches (they are taken only
for a key no book has). A feed with no books at all (``syncs`` empty) is a connection for such streams alone:
the same connect, backoff and drop counting, nothing to snapshot (Binance USD-M's ``/market`` streams).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import aiohttp
import orjson

from arb.backoff import full_jitter
from arb.errors import TransientVenueError, VenueError
from arb.marketdata.book_side import Levels
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureFunding, CaptureTrade
from arb.marketdata.diffsync import DiffSync
from arb.marketdata.drops import Dropped, Level
from arb.marketdata.feed_setup import FeedSetup
from arb.marketdata.trades import TradeTape

log = logging.getLogger(__name__)

NETWORK_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError, TransientVenueError)
TRADE = "\x00trade"
"""The key :meth:`DiffStreamFeed._route` gives a trade frame: never a venue's id of a book."""
FUNDING = "\x00funding"
"""The key :meth:`DiffStreamFeed._route` gives a perpetual's mark and funding frame: never a book's id."""
BOOK_ERRORS = (ValueError, TypeError, ArithmeticError)  # what a book could raise on input it refuses


Diff = tuple[Levels, Levels, int, int, "int | None", "int | None", int]
"""One checked book update, as :meth:`DiffSync.on_diff` takes it: ``(bids, asks, first, last, exchange_ts,
prev, over_precise)``, each side's levels as pairs or, read in one pass (``depth_scan``), flat
(``book_side.Levels``); ``prev`` the previous diff's ``last`` where the venue chains diffs by it (else None),
``over_precise`` the levels left out (``drops.py``: counted, the rest applies). A plain tuple: one is built
per frame and unpacked at once (a named tuple took 170 ns a frame to build, a plain one 26)."""


class Snapshot(NamedTuple):
    """One checked snapshot body, as :meth:`DiffSync.on_snapshot` takes it."""

    bids: list[Level]
    asks: list[Level]
    snapshot_id: int
    exchange_ts: int | None = None
    over_precise: int = 0


def loads_object(data: str | bytes) -> dict[str, Any]:
    """A frame or body that must be a JSON object; :class:`Dropped` (``bad_json``, ``not_object``) if not."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Dropped("bad_json", str(exc)) from None
    if not isinstance(frame, dict):
        raise Dropped("not_object", f"a JSON {type(frame).__name__}")
    return frame


class DiffStreamFeed(abc.ABC):
    """Keeps the books of ``syncs`` (keyed by the venue's own id of each book) in sync until cancelled,
    under the venue name of ``setup``; a ``setup`` with a trade tape also routes trades and funding lines to it
    (a venue whose tape streams come on another connection passes a setup without one)."""

    def __init__(self, store: BookStore, syncs: Mapping[str, DiffSync], setup: FeedSetup) -> None:
        self.store = store
        self.tape = setup.trades  # where trades go; None: the feed subscribes to none
        self.venue = setup.venue
        self.syncs = dict(syncs)
        self.setup = setup
        self.clock_ms = setup.clock_ms  # read at every frame
        self.drops = setup.drops
        # A venue's one-pass reader of its depth frames in their exact shape (``depth_scan.FrameShape.scan``):
        # ``(key, diff)``, or None for any frame it does not prove, which goes through :meth:`_route` and
        # :meth:`_diff`. Set only where it is compiled (interpreted it is slower than orjson).
        self.scan: Callable[[str | bytes], tuple[str, Diff] | None] | None = None
        # What :meth:`counts` gives the metrics: connections made (1 + reconnects), snapshots fetched (a
        # book's first sync and every resync), and every frame received, as exactly one of: applied (a book
        # update of ours), a trade or a funding frame (its lines on the tape), ignored (another channel or
        # event: acks, pongs; a funding frame that gives no line), dropped (counted in ``drops`` with its reason).
        self.connections = 0
        self.snapshots_fetched = 0
        self.applied = 0
        self.trades = 0
        self.funding = 0
        self.ignored = 0
        self.dropped = 0
        self.connected = asyncio.Event()
        self.state_changed = asyncio.Event()  # set on every connect/disconnect (for waiters; clear to reuse)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session: aiohttp.ClientSession | None = None
        self._fetching: dict[str, asyncio.Task[None]] = {}
        self._failure: BaseException | None = None  # a snapshot task's unexpected error: ends ``run``
        self._closing: asyncio.Task[None] | None = None

    def counts(self) -> dict[str, Any]:
        """The feed's health so far, as the metrics export it (``arb_feed_*``): connections, snapshots fetched,
        frames by what became of them."""
        return {"connections": self.connections, "snapshots": self.snapshots_fetched,
                "frames": {"applied": self.applied, "trade": self.trades, "funding": self.funding,
                           "ignored": self.ignored, "dropped": self.dropped}}

    # ------------------------------------------------------------------------- what a venue says
    @abc.abstractmethod
    def _ws_endpoint(self) -> str:
        """The WebSocket URL to connect to."""

    def _subscriptions(self) -> Sequence[str]:
        """Text frames to send once connected (none: the URL names the streams)."""
        return ()

    @abc.abstractmethod
    def _route(self, data: str | bytes) -> tuple[str, Any] | None:
        """Which book one frame updates and the payload to read the update from; ``None`` when the frame is
        not a book update (ignored). Raises :class:`Dropped` for a malformed frame (every book is resynced
        unless ``resync=False``: whose it was is not known yet), :class:`VenueError` when the venue refuses
        what the feed asked for."""

    @abc.abstractmethod
    def _diff(self, key: str, payload: Any) -> Diff:
        """The update in ``payload`` for ``key``'s book; :class:`Dropped` (that book is resynced) if malformed."""

    @abc.abstractmethod
    def _snapshot_request(self, key: str) -> tuple[str, dict[str, str]]:
        """The URL and query parameters of ``key``'s REST snapshot."""

    @abc.abstractmethod
    def _snapshot(self, data: bytes) -> Snapshot:
        """A snapshot body, checked; :class:`Dropped` if malformed."""

    def _trade(self, payload: Any) -> CaptureTrade:
        """The trade in a frame :meth:`_route` gave as :data:`TRADE`, checked; :class:`Dropped` (with
        ``resync=False``) if malformed. Only a venue that routes trades says how."""
        raise NotImplementedError(f"{type(self).__name__} routes no trades")

    def _funding(self, payload: Any) -> Sequence[CaptureFunding]:
        """The funding lines in a frame :meth:`_route` gave as :data:`FUNDING`, checked (none: the frame is
        counted as ignored); :class:`Dropped` (with ``resync=False``) if malformed. Only a venue that routes
        funding frames says how."""
        raise NotImplementedError(f"{type(self).__name__} routes no funding frames")

    # ------------------------------------------------------------------------------- the loop
    async def run(self) -> None:
        """Connect, sync, and reconnect forever (cancel to stop)."""
        attempt = 0
        self._failure = None
        async with aiohttp.ClientSession() as session:
            self._session = session
            try:
                while True:
                    try:
                        await self._connection(session)
                        attempt = 0  # the connection worked and then closed: retry promptly
                    except NETWORK_ERRORS as exc:
                        log.warning("%s book feed: %s: %s", self.venue, type(exc).__name__, exc)
                    finally:
                        self.connected.clear()
                        self.state_changed.set()
                        self._ws = None
                        await self._cancel_fetches()
                        for sync in self.syncs.values():
                            sync.reset(self.clock_ms())  # through the store: listeners see it
                    if self._failure is not None:  # a snapshot task failed unexpectedly: not ours to hide
                        failure, self._failure = self._failure, None
                        raise failure
                    await self.setup.wait_to_retry(attempt)
                    attempt += 1
            finally:
                self._session = None

    async def disconnect(self) -> None:
        """Drop the current connection (the run loop reconnects): for resubscribing a stale feed."""
        if self._ws is not None:
            await self._ws.close()

    async def resubscribe(self) -> None:
        """The watchdog's remedy for a silent feed: reconnect, subscribe again, resync from fresh snapshots."""
        await self.disconnect()

    async def _connection(self, session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(self._ws_endpoint(), heartbeat=20.0) as ws:
            self._ws = ws
            self.connections += 1
            for frame in self._subscriptions():
                await ws.send_str(frame)
            self.connected.set()
            self.state_changed.set()
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT or msg.type == aiohttp.WSMsgType.BINARY:
                    self.on_message(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    raise TransientVenueError(self.venue, f"websocket error: {ws.exception()}")

    def on_message(self, data: str | bytes) -> None:
        """One WebSocket frame: applied, ignored (not a book update), or dropped and counted.

        Never raises on malformed input. Raises :class:`VenueError` when the venue refuses what the feed
        asked for (the feed cannot work as configured: the supervisor restarts it, and gives up if it keeps
        happening).
        """
        scanned = self.scan(data) if self.scan is not None else None
        if scanned is not None and (sync := self.syncs.get(scanned[0])) is not None:
            key, (bids, asks, first, last, exchange_ts, prev, over_precise) = scanned
        else:  # read by _route and _diff (inline: a call here cost ~0.07 us of every trade and ticker frame)
            ours: str | None = None  # known once the frame names a book of ours: the book to resync
            try:
                try:
                    routed = self._route(data)
                except VenueError:
                    self.ignored += 1
                    raise
                if routed is None:
                    self.ignored += 1
                    return
                named, payload = routed
                found = self.syncs.get(named)
                if found is None:
                    if named is TRADE and self.tape is not None:
                        trade = self._trade(payload)
                        self.trades += 1
                        self.tape.trade(trade)
                        return
                    if named is FUNDING and self.tape is not None:
                        self._on_funding(self._funding(payload), self.tape)
                        return
                    raise Dropped("unknown_pair", f"an update for {named[:40]!r}", resync=False)
                key = ours = named
                sync = found
                bids, asks, first, last, exchange_ts, prev, over_precise = self._diff(key, payload)
            except Dropped as drop:
                self._drop(drop, ours)
                return
        if over_precise:
            self.drops.count(self.venue, "over_precise", f"{key}: a price with more than 15 significant digits",
                             over_precise)
        try:
            fetch = sync.on_diff(bids, asks, first, last, self.clock_ms(), exchange_ts, prev)
        except BOOK_ERRORS as exc:
            self._drop(Dropped("book_refused", f"{key}: {exc}"), key)
            return
        self.applied += 1
        if fetch:
            self._request_snapshot(key)

    def _on_funding(self, lines: Sequence[CaptureFunding], tape: TradeTape) -> None:
        if not lines:
            self.ignored += 1
            return
        self.funding += 1
        for line in lines:
            tape.funding(line)

    def _drop(self, drop: Dropped, key: str | None) -> None:
        self.dropped += 1
        self.drops.count(self.venue, drop.reason, drop.detail)
        if drop.resync:
            # The frame may have been an update: its book (every book, if we cannot tell whose) is resynced.
            for name in [key] if key is not None else list(self.syncs):
                self._resync(name)

    def _resync(self, key: str) -> None:
        """Mark ``key``'s book ``gap`` and sync it again from a fresh snapshot (as an update-id gap does)."""
        self.syncs[key].resync(self.clock_ms())
        self._request_snapshot(key)

    # -------------------------------------------------------------------------------- snapshots
    def _request_snapshot(self, key: str) -> None:
        session = self._session
        if session is None or key in self._fetching:
            return  # not connected (the next connection resyncs anyway), or a fetch is already on its way
        task = asyncio.get_running_loop().create_task(self._snapshot_loop(key, session))
        self._fetching[key] = task
        task.add_done_callback(functools.partial(self._forget_fetch, key))

    def _forget_fetch(self, key: str, task: asyncio.Task[None]) -> None:
        if self._fetching.get(key) is task:
            del self._fetching[key]
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            # A bug, not bad input: end this connection and let ``run`` raise it to the supervisor.
            self._failure = task.exception()
            self._closing = asyncio.get_running_loop().create_task(self.disconnect())

    async def _snapshot_loop(self, key: str, session: aiohttp.ClientSession) -> None:
        """Fetch snapshots until one lines up with the buffered diffs."""
        for attempt in range(8):
            try:
                data = await self._fetch_snapshot(key, session)
            except NETWORK_ERRORS as exc:
                log.warning("%s snapshot %s: %s", self.venue, key, exc)
            else:
                self.snapshots_fetched += 1
                if not self.on_snapshot(key, data):
                    return
            await self.setup.sleep(full_jitter(attempt, 0.1, 2.0, self.setup.rng.random))
        log.error("%s snapshot %s: never lined up with the stream; reconnecting", self.venue, key)
        await self.disconnect()

    def on_snapshot(self, key: str, data: bytes) -> bool:
        """Install a snapshot body for ``key``'s book; returns whether another snapshot is needed (a
        malformed body is counted and needs another)."""
        sync = self.syncs[key]
        try:
            snapshot = self._snapshot(data)
        except Dropped as drop:
            self.drops.count(self.venue, drop.reason, f"{key} snapshot: {drop.detail}")
            return True
        if snapshot.over_precise:
            self.drops.count(self.venue, "over_precise", f"{key} snapshot: a price with more than 15 "
                             "significant digits", snapshot.over_precise)
        try:
            return sync.on_snapshot(snapshot.bids, snapshot.asks, snapshot.snapshot_id, self.clock_ms(),
                                    snapshot.exchange_ts)
        except BOOK_ERRORS as exc:
            self.drops.count(self.venue, "book_refused", f"{key} snapshot: {exc}")
            sync.resync(self.clock_ms())
            return True

    async def _fetch_snapshot(self, key: str, session: aiohttp.ClientSession) -> bytes:
        url, params = self._snapshot_request(key)
        async with session.get(url, params=params) as resp:
            data = await resp.read()
            if resp.status != 200:
                raise TransientVenueError(self.venue, f"{url.rsplit('/', 1)[-1]} HTTP {resp.status}")
        return data

    async def _cancel_fetches(self) -> None:
        tasks = list(self._fetching.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fetching.clear()
