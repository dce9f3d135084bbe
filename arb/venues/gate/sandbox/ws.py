"""WebSocket ``/ws/v4/``: order book streams, private order/trade pushes and ping/pong, as Gate sends them.

Two book channels: ``spot.order_book_update`` (payload ``[pair, interval]``; consecutive ``U``/``u`` that
splice onto the REST ``with_id`` snapshot) and ``spot.obu`` (payload ``["ob.PAIR.DEPTH"]``; a ``full``
first message then increments), which is what stock ccxt.pro subscribes to. Private channels
(``spot.orders``, ``spot.usertrades``) check ``auth`` exactly like Gate (``sign_ws_channel``).

USDT perpetuals' books on ``futures.order_book_update`` (payload ``[contract, interval]``), served at
:data:`FUTURES_WS_PATH` as Gate serves them at ``/v4/ws/usdt``: the same ids as the spot channel, levels as
``{"p", "s"}`` with ``s`` in contracts; and their tickers on ``futures.tickers`` (payload: the contracts),
one pushed for a contract each time its mark and funding rate are announced (:meth:`WsHub.publish_ticker`).

Each connection has an outgoing queue and one writer task, so the engine publishes synchronously and
messages leave in the order events happened.

Whatever a client sends, the answer is a frame with Gate's ``error`` (``{"code", "message"}``: 1 the
frame is not a JSON object, 2 a bad argument, 4 authentication failed, its message Gate's
``{"label", "message"}``); the connection stays open and nothing reaches the server log. A private
subscription's ``time`` must be integer seconds within 60 s of the sandbox clock, as on REST.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from arb.venues.gate.sandbox.apierror import GateApiError
from arb.venues.gate.sandbox.auth import verify_ws_auth
from arb.venues.gate.sandbox.contracts import ContractSpec, contract_of, market_id
from arb.venues.gate.sandbox.matching import Event, OrderEvent, TradeEvent
from arb.venues.gate.sandbox.orders import fmt, order_json, trade_ws_json
from arb.venues.sim.book import Book, BookUpdate
from arb.venues.sim.orders import SimTrade

OBU_DEPTH_RE = re.compile(r"[0-9]{1,4}")
FUTURES_WS_PATH = "/v4/ws/usdt"
FUTURES_BOOK = "futures.order_book_update"
FUTURES_TICKERS = "futures.tickers"


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    book_update: set[str] = field(default_factory=set)  # pairs on spot.order_book_update
    futures_book: set[str] = field(default_factory=set)  # contracts' markets on futures.order_book_update
    futures_tickers: set[str] = field(default_factory=set)  # contracts on futures.tickers
    obu: dict[str, str] = field(default_factory=dict)  # pair -> "ob.PAIR.DEPTH" on spot.obu
    private: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # channel -> (key, pairs|!all)


class WsHub:
    def __init__(self, books: dict[str, Book], secrets: dict[str, str], now_s: Callable[[], float],
                 amend_text: Callable[[int], str] = lambda order_id: "-",
                 gt_fee: Callable[[SimTrade], Decimal] = lambda trade: Decimal(0), *,
                 contracts: Mapping[str, ContractSpec] | None = None) -> None:
        self.books = books
        self.contracts = contracts or {}
        self.amend_text = amend_text  # an order's last ``amend_text``, which its pushes carry
        self.gt_fee = gt_fee  # what a trade paid in GT (GT fee deduction), which its push carries
        self.secrets = secrets
        self.now_s = now_s
        self.connections: set[Connection] = set()
        self._changed = asyncio.Condition()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(ws)
        self.connections.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    if msg.type == WSMsgType.BINARY:
                        conn.queue.put_nowait(self._frame("", "", error=(1, "frames must be JSON text")))
                    continue
                try:
                    frame = json.loads(msg.data, parse_constant=_reject_constant)
                except (ValueError, RecursionError):
                    conn.queue.put_nowait(self._frame("", "", error=(1, "invalid json")))
                    continue
                if not isinstance(frame, dict):
                    conn.queue.put_nowait(self._frame("", "", error=(1, "a frame must be a JSON object")))
                    continue
                self._on_frame(conn, frame)
                await self._notify()
        finally:
            self.connections.discard(conn)
            conn.queue.put_nowait(None)
            await writer
        return ws

    async def wait_for_private_subscriptions(self, count: int) -> None:
        """For tests: return once ``count`` private subscriptions are live (an event, not a poll)."""
        async with self._changed:
            await self._changed.wait_for(lambda: sum(len(c.private) for c in self.connections) >= count)

    async def wait_for_book_subscriptions(self, count: int) -> None:
        """For tests: return once ``count`` book subscriptions (either channel) are live."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: sum(len(c.book_update) + len(c.obu) for c in self.connections) >= count
            )

    async def wait_for_ticker_subscriptions(self, count: int) -> None:
        """For tests: return once ``count`` contracts' ``futures.tickers`` subscriptions are live."""
        async with self._changed:
            await self._changed.wait_for(lambda: sum(len(c.futures_tickers) for c in self.connections) >= count)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def close_all(self) -> None:
        """Fault knob and shutdown: drop every connection (clients see an abnormal close)."""
        for conn in list(self.connections):
            await conn.ws.close(code=1011, message=b"sandbox closed the connection")

    def publish_ticker(self, ticker: dict[str, Any]) -> None:
        """One contract's ticker (``contracts.ticker_json``) to every connection subscribed to it."""
        for conn in list(self.connections):
            if ticker["contract"] in conn.futures_tickers:
                conn.queue.put_nowait(self._frame(FUTURES_TICKERS, "update", result=[ticker]))

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            for conn in list(self.connections):
                for message in self._messages_for(conn, event):
                    conn.queue.put_nowait(message)

    # ---- internals ------------------------------------------------------------------------------------
    async def _writer(self, conn: Connection) -> None:
        while (message := await conn.queue.get()) is not None:
            if conn.ws.closed:
                continue
            try:
                await conn.ws.send_str(json.dumps(message))
            except ConnectionError:
                continue

    def _frame(
        self,
        channel: str,
        event: str,
        *,
        result: Any = None,
        error: tuple[int, str] | None = None,
        request_id: Any = None,
    ) -> dict[str, Any]:
        now = self.now_s()
        frame: dict[str, Any] = {
            "time": int(now),
            "time_ms": int(now * 1000),
            "channel": channel,
            "event": event,
            "result": result,
        }
        if request_id is not None:
            frame["id"] = request_id
        if error is not None:
            frame["error"] = {"code": error[0], "message": error[1]}
        return frame

    def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        channel, event, rid = frame.get("channel"), frame.get("event"), frame.get("id")
        channel = channel if isinstance(channel, str) else ""
        event = event if isinstance(event, str) else ""
        rid = rid if isinstance(rid, int | str) and not isinstance(rid, bool) else None  # Gate's id: a number
        payload = frame.get("payload") or []
        if channel in ("spot.ping", "futures.ping"):
            conn.queue.put_nowait(self._frame(channel.replace("ping", "pong"), "", request_id=rid))
            return
        if event not in ("subscribe", "unsubscribe") or not isinstance(payload, list):
            conn.queue.put_nowait(self._frame(channel, event, error=(1, "unknown event"), request_id=rid))
            return
        if not all(isinstance(p, str) for p in payload):  # Gate's payloads are strings; nothing else is echoed
            error = (2, "payload must be a list of strings")
            conn.queue.put_nowait(self._frame(channel, event, error=error, request_id=rid))
            return
        subscribe = event == "subscribe"
        try:
            if channel == "spot.order_book_update":
                pair = self._pair(payload[0] if payload else None)
                (conn.book_update.add if subscribe else conn.book_update.discard)(pair)
            elif channel == FUTURES_BOOK:
                name = payload[0] if payload else None
                if name not in self.contracts:
                    raise GateApiError(400, "", f"unknown contract {name}")
                (conn.futures_book.add if subscribe else conn.futures_book.discard)(market_id(str(name)))
            elif channel == FUTURES_TICKERS:
                unknown = [name for name in payload if name not in self.contracts]
                if not payload or unknown:
                    raise GateApiError(400, "", f"unknown contract {(unknown or [''])[0]}")
                (conn.futures_tickers.update if subscribe else conn.futures_tickers.difference_update)(payload)
            elif channel == "spot.obu":
                topic = payload[0] if payload else ""
                parts = topic.split(".")
                if len(parts) != 3 or parts[0] != "ob" or not OBU_DEPTH_RE.fullmatch(parts[2]):
                    raise GateApiError(400, "", f"topic must be ob.PAIR.DEPTH, got {topic!r}")
                pair = self._pair(parts[1])
                if subscribe:
                    conn.obu[pair] = topic
                else:
                    conn.obu.pop(pair, None)
            elif channel in ("spot.orders", "spot.usertrades"):
                if subscribe:
                    key = verify_ws_auth(
                        channel, event, frame.get("time"), frame.get("auth"), self.secrets, self.now_s()
                    )
                    conn.private[channel] = (key, {str(p) for p in payload} or {"!all"})
                else:
                    conn.private.pop(channel, None)
            else:
                raise GateApiError(400, "", f"unknown channel {channel}")
        except GateApiError as exc:
            if exc.status == 401:  # what Gate sends for a failed private subscription
                error = (4, json.dumps(exc.body()) + "\n")
            else:
                error = (2, exc.message)
            conn.queue.put_nowait(self._frame(channel, event, error=error, request_id=rid))
            return
        ack = self._frame(channel, event, result={"status": "success"}, request_id=rid)
        ack["payload"] = payload
        conn.queue.put_nowait(ack)
        if channel == "spot.obu" and subscribe:
            conn.queue.put_nowait(self._obu_full(conn.obu[pair], self.books[pair]))

    def _pair(self, value: object) -> str:
        if not isinstance(value, str) or value not in self.books:
            raise GateApiError(400, "", f"unknown currency pair {value}")
        return value

    def _obu_full(self, topic: str, book: Book) -> dict[str, Any]:
        depth = int(topic.split(".")[2])  # validated on subscribe
        result = {
            "t": book.ts_ms,
            "full": True,
            "s": topic,
            "u": book.update_id,
            "b": [[fmt(p), fmt(s)] for p, s in book.sorted_bids(depth)],
            "a": [[fmt(p), fmt(s)] for p, s in book.sorted_asks(depth)],
        }
        return self._frame("spot.obu", "update", result=result)

    def _messages_for(self, conn: Connection, event: Event) -> list[dict[str, Any]]:
        if isinstance(event, BookUpdate):
            return self._book_messages(conn, event)
        channel = "spot.orders" if isinstance(event, OrderEvent) else "spot.usertrades"
        sub = conn.private.get(channel)
        if sub is None or sub[0] != event.account:
            return []
        if isinstance(event, OrderEvent):
            pair, body = event.order.market.id, order_json(event.order, event.event, self.amend_text(event.order.id))
        else:
            assert isinstance(event, TradeEvent)
            pair, body = event.trade.market, trade_ws_json(event.trade, self.amend_text(event.trade.order_id),
                                                             self.gt_fee(event.trade))
        if "!all" not in sub[1] and pair not in sub[1]:
            return []
        return [self._frame(channel, "update", result=[body])]

    def _book_messages(self, conn: Connection, update: BookUpdate) -> list[dict[str, Any]]:
        out = []
        bids = [[fmt(p), fmt(s)] for p, s in update.bids]
        asks = [[fmt(p), fmt(s)] for p, s in update.asks]
        if update.market in conn.book_update:
            result = {
                "t": update.ts_ms,
                "e": "depthUpdate",
                "E": update.ts_ms // 1000,
                "s": update.market,
                "U": update.first_id,
                "u": update.last_id,
                "b": bids,
                "a": asks,
            }
            out.append(self._frame("spot.order_book_update", "update", result=result))
        if update.market in conn.futures_book:
            name = contract_of(update.market)
            assert name is not None
            spec = self.contracts[name]
            result = {
                "t": update.ts_ms,
                "s": name,
                "U": update.first_id,
                "u": update.last_id,
                "b": [{"p": fmt(p), "s": fmt(spec.contracts(q))} for p, q in update.bids],
                "a": [{"p": fmt(p), "s": fmt(spec.contracts(q))} for p, q in update.asks],
            }
            out.append(self._frame(FUTURES_BOOK, "update", result=result))
        if update.market in conn.obu:
            result = {
                "t": update.ts_ms,
                "s": conn.obu[update.market],
                "U": update.first_id,
                "u": update.last_id,
                "b": bids,
                "a": asks,
            }
            out.append(self._frame("spot.obu", "update", result=result))
        return out
