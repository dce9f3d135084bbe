"""Gate v4 spot books kept in sync by us: ``spot.order_book_update`` + REST ``order_book?with_id=true``.

ccxt's gate spot feed (``spot.obu``) does not check update ids (gate-v4.md), so for Gate we follow the
update-id rule ourselves (:class:`DiffSync`): diffs are buffered from the moment we subscribe, the first
diff for a pair triggers the REST snapshot, and any gap marks the book ``gap`` and triggers a new snapshot.
The connection, snapshot and resync machinery is :class:`~arb.marketdata.diff_feed.DiffStreamFeed`'s; what
is Gate's is here: one subscribe frame per pair, the frame and snapshot shapes, the snapshot URL.

A frame on our channel with an error ends :meth:`GateBookFeed.run` when Gate refused a subscription (the
feed cannot work as configured); any other error frame is dropped and counted.

Given a trade tape (``arb record``), the feed also subscribes to ``spot.trades`` for its pairs, one frame
for all, and puts every update on the tape (``trades.py`` reads it). A refused trade subscription ends
nothing: the books are what the feed is for. It is logged, counted as a ``venue_error`` drop, and the
recording goes on without trades (``arb sandbox`` serves no ``spot.trades``).

A USDT perpetual's book (:class:`GateFuturesBookFeed`) given a tape subscribes to ``futures.tickers``
instead and records the contract's mark and funding rate as funding lines, the funding time read from the
contract (``tickers.py``); a refused ticker subscription is logged and counted the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from arb.errors import VenueError
from arb.marketdata.books import BookStore
from arb.marketdata.capture import CaptureFunding, CaptureTrade
from arb.marketdata.diff_feed import (
    FUNDING,
    NETWORK_ERRORS,
    TRADE,
    Diff,
    DiffStreamFeed,
    Snapshot,
    loads_object,
)
from arb.marketdata.diffsync import DiffSync
from arb.marketdata.drops import (
    Dropped,
    Level,
    checked_diff,
    checked_id,
    checked_levels,
    optional_int,
    update_ids,
)
from arb.marketdata.feed_setup import FeedSetup
from arb.venues.gate import tickers as gate_tickers
from arb.venues.gate import trades as gate_trades

log = logging.getLogger(__name__)

GATE_WS_URL = "wss://api.gateio.ws/ws/v4/"
GATE_REST_URL = "https://api.gateio.ws/api/v4"
CHANNEL = "spot.order_book_update"


def gate_pair(symbol: str) -> str:
    """``BTC/USDT`` -> ``BTC_USDT``; ccxt's contract ``ETH/USDT:USDT`` -> ``ETH_USDT``, Gate's contract name."""
    return symbol.partition(":")[0].replace("/", "_")


def parse_snapshot(data: bytes) -> tuple[list[Level], list[Level], int, int | None, int]:
    """A ``with_id`` order book body: ``(bids, asks, id, update ms, over-precise levels left out)``."""
    body = loads_object(data)
    snapshot_id = checked_id(body.get("id"), "id")
    bids, over_bids = checked_levels(body.get("bids"), "bids")
    asks, over_asks = checked_levels(body.get("asks"), "asks")
    return bids, asks, snapshot_id, optional_int(body.get("update")), over_bids + over_asks


class GateBookFeed(DiffStreamFeed):
    """Keeps ``store`` books of ``symbols`` in sync until cancelled, under the setup's venue name (the
    configured one: ``gate``, ``gateio``, ``gate_main``...). Books are keyed by Gate pair (``BTC_USDT``), of
    the market the setup names a symbol by where Gate names it differently; stored under the symbol."""

    def __init__(
        self,
        store: BookStore,
        symbols: Sequence[str],
        setup: FeedSetup,
        *,
        ws_url: str = GATE_WS_URL,
        rest_url: str = GATE_REST_URL,
        limit: int = 100,
        interval: str = "100ms",
    ) -> None:
        self.symbols = list(symbols)
        syncs = {gate_pair(setup.market(s)): DiffSync(store, setup.venue, s) for s in self.symbols}
        super().__init__(store, syncs, setup)
        self.ws_url = ws_url
        self.rest_url = rest_url.rstrip("/")
        self.limit = limit
        self.interval = interval

    def _ws_endpoint(self) -> str:
        return self.ws_url

    def _subscriptions(self) -> list[str]:
        now_s = self.clock_ms() // 1000
        frames = [orjson.dumps({"time": now_s, "channel": CHANNEL, "event": "subscribe",
                                "payload": [pair, self.interval]}).decode()  # Gate expects text frames
                  for pair in self.syncs]
        if self.tape is not None:
            frames.append(orjson.dumps({"time": now_s, "channel": gate_trades.CHANNEL, "event": "subscribe",
                                        "payload": list(self.syncs)}).decode())
        return frames

    def _route(self, data: str | bytes) -> tuple[str, Any] | None:
        frame = loads_object(data)
        if frame.get("channel") != CHANNEL:
            if self.tape is not None and frame.get("channel") == gate_trades.CHANNEL:
                return self._route_trade(frame)
            return None
        event = frame.get("event")
        if frame.get("error"):
            if event == "subscribe":
                raise VenueError(self.venue, f"subscription refused: {str(frame['error'])[:200]}")
            raise Dropped("venue_error", str(frame["error"]), resync=False)
        if event != "update":
            return None
        result = frame.get("result")
        if not isinstance(result, dict):
            raise Dropped("missing_field", "no 'result' object")
        named = result.get("s")
        if not isinstance(named, str):
            raise Dropped("missing_field", "no pair 's'")
        return named, result

    def _route_trade(self, frame: dict[str, Any]) -> tuple[str, Any] | None:
        if frame.get("error"):
            if frame.get("event") == "subscribe":
                log.warning("%s: trades subscription refused, recording books without trades: %s", self.venue,
                            str(frame["error"])[:200])
            raise Dropped("venue_error", f"{gate_trades.CHANNEL}: {str(frame['error'])[:200]}", resync=False)
        if frame.get("event") != "update":
            return None
        return TRADE, frame.get("result")

    def _trade(self, payload: Any) -> CaptureTrade:
        if not isinstance(payload, dict):
            raise Dropped("missing_field", f"{gate_trades.CHANNEL}: no 'result' object", resync=False)
        pair = payload.get("currency_pair")
        sync = self.syncs.get(pair) if isinstance(pair, str) else None
        if sync is None:
            raise Dropped("unknown_pair", f"a trade of {str(pair)[:40]!r}", resync=False)
        try:
            return gate_trades.trade_of(payload, self.clock_ms(), self.venue, sync.symbol)
        except (KeyError, ValueError) as exc:
            raise Dropped("missing_field", f"{gate_trades.CHANNEL}: {type(exc).__name__}: {exc}",
                          resync=False) from None

    def _diff(self, key: str, payload: Any) -> Diff:
        return checked_diff(payload, "t", None)

    def _snapshot_request(self, key: str) -> tuple[str, dict[str, str]]:
        return self.rest_url + "/spot/order_book", {"currency_pair": key, "limit": str(self.limit),
                                                     "with_id": "true"}

    def _snapshot(self, data: bytes) -> Snapshot:
        bids, asks, snapshot_id, update_ms, over = parse_snapshot(data)
        return Snapshot(bids, asks, snapshot_id, update_ms, over)


FUTURES_WS_URL = "wss://fx-ws.gateio.ws/v4/ws/usdt"
FUTURES_CHANNEL = "futures.order_book_update"


class GateFuturesBookFeed(GateBookFeed):
    """A USDT perpetual's book: ``futures.order_book_update`` and ``/futures/usdt/order_book?with_id=true``,
    the same update-id rule as spot. Gate states levels as ``{"p", "s"}`` with ``s`` in contracts; the feed
    stores base (``s`` x the contract's ``quanto_multiplier``, read from ``/futures/usdt/contracts/{name}``
    when the feed starts). Trades are not subscribed (``futures.trades`` states sizes in signed contracts).

    Given a tape (``arb record``), the feed subscribes to ``futures.tickers`` too and puts each ticker on the
    tape as a funding line (``tickers.py``): the mark, index and funding rate, and as the funding time the
    contract's ``funding_next_apply``, which the ticker does not carry. It is read with the multiplier when the
    feed starts, and read again once a ticker's own time reaches it: from then
    on the ticker's rate is the next period's, so until the contract states a later time the tickers give no
    line (they count as ignored frames) rather than one naming a funding time that has passed. A replay pays
    that funding time at the first line after it (``Matcher.on_funding``), the one after the read. The read
    retries after the feed's backoff while Gate still states a time that has passed, or cannot be reached."""

    def __init__(self, store: BookStore, symbols: Sequence[str], setup: FeedSetup, *,
                 ws_url: str = FUTURES_WS_URL, **kwargs: Any) -> None:
        super().__init__(store, symbols, setup, ws_url=ws_url, **kwargs)
        self.multipliers: dict[str, Decimal] = {}  # contract -> base per contract
        self.next_funding_ms: dict[str, int] = {}  # contract -> its next funding time as Gate stated it (0: none)
        self._stale: dict[str, int] = {}  # contract -> the latest ticker time that found its funding time passed
        self._schedule_wanted = asyncio.Event()
        self._snapshot_key = ""

    async def run(self) -> None:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            for contract in self.syncs:
                body = await self._contract(session, contract)
                if "quanto_multiplier" not in body:
                    raise VenueError(self.venue, f"contract {contract}: {str(body)[:200]}")
                self.multipliers[contract] = Decimal(str(body["quanto_multiplier"]))
                self.next_funding_ms[contract] = gate_tickers.next_apply_ms(body) or 0
            keeper = asyncio.create_task(self._keep_schedule(session)) if self.tape is not None else None
            try:
                await super().run()
            finally:
                if keeper is not None:
                    keeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await keeper

    async def _contract(self, session: Any, contract: str) -> dict[str, Any]:
        async with session.get(f"{self.rest_url}/futures/usdt/contracts/{contract}") as resp:
            try:
                body = loads_object(await resp.read())
            except Dropped as drop:
                raise VenueError(self.venue, f"contract {contract}: {drop}") from None
            if resp.status != 200:
                raise VenueError(self.venue, f"contract {contract}: HTTP {resp.status} {str(body)[:200]}")
        return body

    async def _keep_schedule(self, session: Any) -> None:
        """Read the funding time again of every contract a ticker found passed, until Gate states a later one."""
        attempt = 0
        while True:
            await self._schedule_wanted.wait()
            for contract in list(self._stale):
                try:
                    body = await self._contract(session, contract)
                except (*NETWORK_ERRORS, VenueError) as exc:
                    log.warning("%s: funding time of %s not read: %s", self.venue, contract, exc)
                    break
                due = gate_tickers.next_apply_ms(body)
                if due is not None and due > self._stale.get(contract, 0):
                    self.next_funding_ms[contract] = due
                    self._stale.pop(contract, None)
            if not self._stale:
                self._schedule_wanted.clear()
                attempt = 0
                continue
            await self.setup.wait_to_retry(attempt)
            attempt += 1

    def _subscriptions(self) -> list[str]:
        now_s = self.clock_ms() // 1000
        frames = [orjson.dumps({"time": now_s, "channel": FUTURES_CHANNEL, "event": "subscribe",
                                "payload": [contract, self.interval]}).decode() for contract in self.syncs]
        if self.tape is not None:
            frames.append(orjson.dumps({"time": now_s, "channel": gate_tickers.CHANNEL, "event": "subscribe",
                                        "payload": list(self.syncs)}).decode())
        return frames

    def _route(self, data: str | bytes) -> tuple[str, Any] | None:
        frame = loads_object(data)
        if frame.get("channel") != FUTURES_CHANNEL:
            if self.tape is not None and frame.get("channel") == gate_tickers.CHANNEL:
                return self._route_ticker(frame)
            return None
        if frame.get("error"):
            if frame.get("event") == "subscribe":
                raise VenueError(self.venue, f"subscription refused: {str(frame['error'])[:200]}")
            raise Dropped("venue_error", str(frame["error"]), resync=False)
        if frame.get("event") != "update":
            return None
        result = frame.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("s"), str):
            raise Dropped("missing_field", "no 'result' object with a contract 's'")
        return result["s"], result

    def _route_ticker(self, frame: dict[str, Any]) -> tuple[str, Any] | None:
        if frame.get("error"):
            if frame.get("event") == "subscribe":
                log.warning("%s: tickers subscription refused, recording books without funding lines: %s",
                            self.venue, str(frame["error"])[:200])
            raise Dropped("venue_error", f"{gate_tickers.CHANNEL}: {str(frame['error'])[:200]}", resync=False)
        if frame.get("event") != "update":
            return None
        return FUNDING, frame

    def _funding(self, payload: Any) -> list[CaptureFunding]:
        result = payload.get("result")
        if not isinstance(result, list):
            raise Dropped("missing_field", f"{gate_tickers.CHANNEL}: no 'result' list", resync=False)
        exchange_ts = optional_int(payload.get("time_ms"))
        now = self.clock_ms()
        at = exchange_ts if exchange_ts is not None else now  # on Gate's clock, as funding_next_apply is
        lines = []
        for ticker in result:
            contract = ticker.get("contract") if isinstance(ticker, dict) else None
            if not isinstance(contract, str) or (sync := self.syncs.get(contract)) is None:
                raise Dropped("unknown_pair", f"a ticker of {str(contract)[:40]!r}", resync=False)
            due = self.next_funding_ms.get(contract, 0)
            try:
                line = gate_tickers.funding_of(ticker, now, self.venue, sync.symbol, due, exchange_ts)
            except (KeyError, ValueError) as exc:
                raise Dropped("missing_field", f"{gate_tickers.CHANNEL}: {type(exc).__name__}: {exc}",
                              resync=False) from None
            if at >= due:  # its funding time has passed (or none is known): read the next one first
                self._stale[contract] = max(self._stale.get(contract, 0), at)
                self._schedule_wanted.set()
                continue
            lines.append(line)
        return lines

    def _in_base(self, contract: str, raw: object, field: str) -> list[list[str]]:
        """``{"p", "s"}`` levels as ``[price, base]`` pairs for the checks every feed's levels pass."""
        if not isinstance(raw, list):
            raise Dropped("missing_field", f"{field!r} is not a list of levels")
        multiplier = self.multipliers[contract]
        out = []
        for level in raw:
            if not isinstance(level, dict) or not isinstance(level.get("p"), str) or "s" not in level:
                raise Dropped("bad_level", f"{field!r} level {str(level)[:60]} is not {{p, s}}")
            out.append([level["p"], format(Decimal(str(level["s"])) * multiplier, "f")])
        return out

    def _diff(self, key: str, payload: Any) -> Diff:
        first, last = update_ids(payload.get("U"), payload.get("u"))
        bids, over_bids = checked_levels(self._in_base(key, payload.get("b"), "b"), "b")
        asks, over_asks = checked_levels(self._in_base(key, payload.get("a"), "a"), "a")
        return bids, asks, first, last, optional_int(payload.get("t")), None, over_bids + over_asks

    def _snapshot_request(self, key: str) -> tuple[str, dict[str, str]]:
        return self.rest_url + "/futures/usdt/order_book", {"contract": key, "limit": str(self.limit),
                                                             "with_id": "true"}

    def on_snapshot(self, key: str, data: bytes) -> bool:
        self._snapshot_key = key  # a futures book body does not name its contract; _snapshot reads it here
        return super().on_snapshot(key, data)

    def _snapshot(self, data: bytes) -> Snapshot:
        body = loads_object(data)
        snapshot_id = checked_id(body.get("id"), "id")
        key = self._snapshot_key
        bids, over_bids = checked_levels(self._in_base(key, body.get("bids"), "bids"), "bids")
        asks, over_asks = checked_levels(self._in_base(key, body.get("asks"), "asks"), "asks")
        update = body.get("update")
        update_ms = int(float(update) * 1000) if isinstance(update, int | float) else None
        return Snapshot(bids, asks, snapshot_id, update_ms, over_bids + over_asks)
