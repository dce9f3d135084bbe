"""Gate v4 spot books kept in sync by us: ``spot.order_book_update`` + REST ``order_book?with_id=true``.

ccxt's gate spot feed (``spot.obu``) does not check update ids (gate-v4.md), so for Gate we follow the
update-id rule ourselves (:class:`DiffSync`): diffs are buffered from the moment we subscribe, the first
diff for a pair triggers the REST snapshot, and any gap marks the book ``gap`` and triggers a new snapshot.
A dropped connection resets every book to ``syncing`` and reconnects after a capped, jittered backoff.

Every frame is checked before a book sees it (``marketdata/drops.py``): a malformed frame is dropped and
counted per reason, never raised. Its pair's book is resynced at once (``gap``, then a fresh snapshot), or
every pair's when the frame cannot say which pair it was for: a lost update never leaves a silently wrong
book. Snapshots are checked the same way (a bad one is counted and fetched again). What does end
:meth:`GateBookFeed.run` is a refused subscription or a bug; the engine's supervisor logs, counts and
restarts it (``runtime/supervisor.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import orjson

from arb.backoff import full_jitter
from arb.errors import TransientVenueError, VenueError
from arb.marketdata.books import BookStore
from arb.marketdata.diffsync import DiffSync
from arb.marketdata.drops import Dropped, FrameDrops, Level, checked_id, checked_levels, optional_int
from arb.marketdata.wallclock import wall_ms

log = logging.getLogger(__name__)

GATE_WS_URL = "wss://api.gateio.ws/ws/v4/"
GATE_REST_URL = "https://api.gateio.ws/api/v4"
_NETWORK_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError, TransientVenueError)
_BOOK_ERRORS = (ValueError, TypeError, ArithmeticError)  # what a book could raise on input it refuses
CHANNEL = "spot.order_book_update"


def gate_pair(symbol: str) -> str:
    """``BTC/USDT`` -> ``BTC_USDT``."""
    return symbol.replace("/", "_")


def _loads(data: str | bytes) -> dict[str, Any]:
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Dropped("bad_json", str(exc)) from None
    if not isinstance(frame, dict):
        raise Dropped("not_object", f"a JSON {type(frame).__name__}")
    return frame


def parse_snapshot(data: bytes) -> tuple[list[Level], list[Level], int, int | None, int]:
    """A ``with_id`` order book body: ``(bids, asks, id, update ms, over-precise levels left out)``."""
    body = _loads(data)
    snapshot_id = checked_id(body.get("id"), "id")
    bids, over_bids = checked_levels(body.get("bids"), "bids")
    asks, over_asks = checked_levels(body.get("asks"), "asks")
    return bids, asks, snapshot_id, optional_int(body.get("update")), over_bids + over_asks


class GateBookFeed:
    """Keeps ``store`` books of ``symbols`` in sync until cancelled, under the venue name ``venue`` (the
    configured one: ``gate``, ``gateio``, ``gate_main``...)."""

    def __init__(
        self,
        store: BookStore,
        symbols: Sequence[str],
        *,
        venue: str = "gate",
        ws_url: str = GATE_WS_URL,
        rest_url: str = GATE_REST_URL,
        limit: int = 100,
        interval: str = "100ms",
        clock_ms: Callable[[], int] = wall_ms,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        drops: FrameDrops | None = None,
    ) -> None:
        self.store = store
        self.venue = venue
        self.symbols = list(symbols)
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self.limit = limit
        self.interval = interval
        self.clock_ms = clock_ms
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.syncs = {gate_pair(s): DiffSync(store, self.venue, s) for s in self.symbols}
        self.connections = 0
        self.snapshots_fetched = 0
        self.drops = drops or FrameDrops()
        # Every frame received is exactly one of: applied (a book update of ours), ignored (another channel
        # or event: acks, pongs), dropped (counted in ``drops`` with its reason).
        self.frames = 0
        self.applied = 0
        self.ignored = 0
        self.dropped = 0
        self.connected = asyncio.Event()
        self.state_changed = asyncio.Event()  # set on every connect/disconnect (for waiters; clear to reuse)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._session: aiohttp.ClientSession | None = None
        self._fetching: dict[str, asyncio.Task[None]] = {}
        self._failure: BaseException | None = None  # a snapshot task's unexpected error: ends ``run``
        self._closing: asyncio.Task[None] | None = None

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
                    except _NETWORK_ERRORS as exc:
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
                    await self.sleep(full_jitter(attempt, self.backoff_base, self.backoff_cap, self.rng.random))
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
        async with session.ws_connect(self.ws_url, heartbeat=20.0) as ws:
            self._ws = ws
            self.connections += 1
            now_s = self.clock_ms() // 1000
            for pair in self.syncs:
                frame = {"time": now_s, "channel": "spot.order_book_update", "event": "subscribe",
                         "payload": [pair, self.interval]}
                await ws.send_str(orjson.dumps(frame).decode())  # Gate expects text frames
            self.connected.set()
            self.state_changed.set()
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT or msg.type == aiohttp.WSMsgType.BINARY:
                    self.on_message(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    raise TransientVenueError(self.venue, f"websocket error: {ws.exception()}")

    def on_message(self, data: str | bytes) -> None:
        """One WebSocket frame: applied, ignored (not a book update), or dropped and counted.

        Never raises on malformed input. Raises :class:`VenueError` when Gate refuses a subscription (the
        feed cannot work as configured: the supervisor restarts it, and gives up if it keeps happening).
        """
        self.frames += 1
        pair: str | None = None  # known once the frame names a pair of ours: the book to resync
        try:
            frame = _loads(data)
            if frame.get("channel") != CHANNEL:
                self.ignored += 1
                return
            event = frame.get("event")
            if frame.get("error"):
                if event == "subscribe":
                    self.ignored += 1
                    raise VenueError(self.venue, f"subscription refused: {str(frame['error'])[:200]}")
                raise Dropped("venue_error", str(frame["error"]), resync=False)
            if event != "update":
                self.ignored += 1
                return
            result = frame.get("result")
            if not isinstance(result, dict):
                raise Dropped("missing_field", "no 'result' object")
            named = result.get("s")
            if not isinstance(named, str):
                raise Dropped("missing_field", "no pair 's'")
            sync = self.syncs.get(named)
            if sync is None:
                raise Dropped("unknown_pair", f"an update for {named[:40]!r}", resync=False)
            pair = named
            first, last = checked_id(result.get("U"), "U"), checked_id(result.get("u"), "u")
            if first > last:
                raise Dropped("bad_id", f"U {first} > u {last}")
            bids, over_bids = checked_levels(result.get("b"), "b")
            asks, over_asks = checked_levels(result.get("a"), "a")
        except Dropped as drop:
            self._drop(drop, pair)
            return
        if over_bids or over_asks:
            self.drops.count(self.venue, "over_precise", f"{pair}: a price with more than 15 significant digits",
                             over_bids + over_asks)
        try:
            fetch = sync.on_diff(bids, asks, first, last, self.clock_ms(), optional_int(result.get("t")))
        except _BOOK_ERRORS as exc:
            self._drop(Dropped("book_refused", f"{pair}: {exc}"), pair)
            return
        self.applied += 1
        if fetch:
            self._request_snapshot(pair)

    def _drop(self, drop: Dropped, pair: str | None) -> None:
        self.dropped += 1
        self.drops.count(self.venue, drop.reason, drop.detail)
        if drop.resync:
            # The frame may have been an update: its book (every book, if we cannot tell whose) is resynced.
            for name in [pair] if pair is not None else list(self.syncs):
                self._resync(name)

    def _resync(self, pair: str) -> None:
        """Mark ``pair``'s book ``gap`` and sync it again from a fresh snapshot (as an update-id gap does)."""
        self.syncs[pair].resync(self.clock_ms())
        self._request_snapshot(pair)

    def _request_snapshot(self, pair: str) -> None:
        session = self._session
        if session is None or pair in self._fetching:
            return  # not connected (the next connection resyncs anyway), or a fetch is already on its way
        task = asyncio.get_running_loop().create_task(self._snapshot_loop(pair, session))
        self._fetching[pair] = task
        task.add_done_callback(functools.partial(self._forget_fetch, pair))

    def _forget_fetch(self, pair: str, task: asyncio.Task[None]) -> None:
        if self._fetching.get(pair) is task:
            del self._fetching[pair]
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            # A bug, not bad input: end this connection and let ``run`` raise it to the supervisor.
            self._failure = task.exception()
            self._closing = asyncio.get_running_loop().create_task(self.disconnect())

    async def _snapshot_loop(self, pair: str, session: aiohttp.ClientSession) -> None:
        """Fetch snapshots until one lines up with the buffered diffs."""
        for attempt in range(8):
            try:
                data = await self._fetch_snapshot(pair, session)
            except _NETWORK_ERRORS as exc:
                log.warning("%s snapshot %s: %s", self.venue, pair, exc)
            else:
                self.snapshots_fetched += 1
                if not self.on_snapshot(pair, data):
                    return
            await self.sleep(full_jitter(attempt, 0.1, 2.0, self.rng.random))
        log.error("%s snapshot %s: never lined up with the stream; reconnecting", self.venue, pair)
        await self.disconnect()

    def on_snapshot(self, pair: str, data: bytes) -> bool:
        """Install a ``with_id`` snapshot body for ``pair``; returns whether another snapshot is needed (a
        malformed body is counted and needs another)."""
        sync = self.syncs[pair]
        try:
            bids, asks, snapshot_id, update_ms, over = parse_snapshot(data)
        except Dropped as drop:
            self.drops.count(self.venue, drop.reason, f"{pair} snapshot: {drop.detail}")
            return True
        if over:
            self.drops.count(self.venue, "over_precise", f"{pair} snapshot: a price with more than 15 "
                             "significant digits", over)
        try:
            return sync.on_snapshot(bids, asks, snapshot_id, self.clock_ms(), update_ms)
        except _BOOK_ERRORS as exc:
            self.drops.count(self.venue, "book_refused", f"{pair} snapshot: {exc}")
            sync.resync(self.clock_ms())
            return True

    async def _fetch_snapshot(self, pair: str, session: aiohttp.ClientSession) -> bytes:
        params = {"currency_pair": pair, "limit": str(self.limit), "with_id": "true"}
        async with session.get(self.rest_url + "/spot/order_book", params=params) as resp:
            data = await resp.read()
            if resp.status != 200:
                raise TransientVenueError(self.venue, f"order_book HTTP {resp.status}")
        return data

    async def _cancel_fetches(self) -> None:
        tasks = list(self._fetching.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fetching.clear()
