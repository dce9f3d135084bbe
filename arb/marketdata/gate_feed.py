"""Gate v4 spot books kept in sync by us: ``spot.order_book_update`` + REST ``order_book?with_id=true``.

ccxt's gate spot feed (``spot.obu``) does not check update ids (gate-v4.md), so for Gate we follow the
update-id rule ourselves (:class:`DiffSync`): diffs are buffered from the moment we subscribe, the first
diff for a pair triggers the REST snapshot, and any gap marks the book ``gap`` and triggers a new snapshot.
A dropped connection resets every book to ``syncing`` and reconnects after a capped, jittered backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import orjson

from arb.backoff import full_jitter
from arb.errors import TransientVenueError, VenueError
from arb.marketdata.books import BookStore
from arb.marketdata.diffsync import DiffSync

log = logging.getLogger(__name__)

GATE_WS_URL = "wss://api.gateio.ws/ws/v4/"
GATE_REST_URL = "https://api.gateio.ws/api/v4"
_NETWORK_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError, TransientVenueError)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def gate_pair(symbol: str) -> str:
    """``BTC/USDT`` -> ``BTC_USDT``."""
    return symbol.replace("/", "_")


class GateBookFeed:
    """Keeps ``store`` books of ``symbols`` on venue ``gate`` in sync until cancelled."""

    venue = "gate"

    def __init__(
        self,
        store: BookStore,
        symbols: Sequence[str],
        *,
        ws_url: str = GATE_WS_URL,
        rest_url: str = GATE_REST_URL,
        limit: int = 100,
        interval: str = "100ms",
        clock_ms: Callable[[], int] = wall_ms,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self.store = store
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
        self.connected = asyncio.Event()
        self.state_changed = asyncio.Event()  # set on every connect/disconnect (for waiters; clear to reuse)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._fetching: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        """Connect, sync, and reconnect forever (cancel to stop)."""
        attempt = 0
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    await self._connection(session)
                    attempt = 0  # the connection worked and then closed: retry promptly
                except _NETWORK_ERRORS as exc:
                    log.warning("gate book feed: %s: %s", type(exc).__name__, exc)
                finally:
                    self.connected.clear()
                    self.state_changed.set()
                    self._ws = None
                    await self._cancel_fetches()
                    for sync in self.syncs.values():
                        sync.reset()
                await self.sleep(full_jitter(attempt, self.backoff_base, self.backoff_cap, self.rng.random))
                attempt += 1

    async def disconnect(self) -> None:
        """Drop the current connection (the run loop reconnects): for resubscribing a stale feed."""
        if self._ws is not None:
            await self._ws.close()

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
                    self._on_frame(orjson.loads(msg.data), session)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    raise TransientVenueError(self.venue, f"websocket error: {ws.exception()}")

    def _on_frame(self, frame: dict[str, Any], session: aiohttp.ClientSession) -> None:
        if frame.get("channel") != "spot.order_book_update":
            return
        if frame.get("error"):
            raise VenueError(self.venue, f"subscription refused: {frame['error']}")
        if frame.get("event") != "update":
            return
        result = frame["result"]
        pair = result["s"]
        sync = self.syncs.get(pair)
        if sync is None:
            return
        if sync.on_diff(result["b"], result["a"], int(result["U"]), int(result["u"]), self.clock_ms(),
                        result.get("t")):
            self._request_snapshot(pair, session)

    def _request_snapshot(self, pair: str, session: aiohttp.ClientSession) -> None:
        if pair not in self._fetching:
            task = asyncio.get_running_loop().create_task(self._snapshot_loop(pair, session))
            self._fetching[pair] = task
            task.add_done_callback(functools.partial(self._forget_fetch, pair))

    def _forget_fetch(self, pair: str, _task: asyncio.Task[None]) -> None:
        self._fetching.pop(pair, None)

    async def _snapshot_loop(self, pair: str, session: aiohttp.ClientSession) -> None:
        """Fetch snapshots until one lines up with the buffered diffs."""
        for attempt in range(8):
            try:
                body = await self._fetch_snapshot(pair, session)
            except _NETWORK_ERRORS as exc:
                log.warning("gate snapshot %s: %s", pair, exc)
            else:
                self.snapshots_fetched += 1
                if not self.syncs[pair].on_snapshot(body["bids"], body["asks"], int(body["id"]),
                                                     self.clock_ms(), body.get("update")):
                    return
            await self.sleep(full_jitter(attempt, 0.1, 2.0, self.rng.random))
        log.error("gate snapshot %s: never lined up with the stream; reconnecting", pair)
        await self.disconnect()

    async def _fetch_snapshot(self, pair: str, session: aiohttp.ClientSession) -> dict[str, Any]:
        params = {"currency_pair": pair, "limit": str(self.limit), "with_id": "true"}
        async with session.get(self.rest_url + "/spot/order_book", params=params) as resp:
            data = await resp.read()
            if resp.status != 200:
                raise TransientVenueError(self.venue, f"order_book HTTP {resp.status}")
        body: dict[str, Any] = orjson.loads(data)
        return body

    async def _cancel_fetches(self) -> None:
        tasks = list(self._fetching.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fetching.clear()
