"""REST ``/api/v4``: the spot endpoints ccxt's gate class and our ``GateExchange`` call.

One middleware does what every Gate request goes through: injected latency, the dead man's switches that
have run out by now (no answer shows an order a countdown has cancelled, and a countdown set again too late
does not save it), authentication of private endpoints (recomputed from the request as received), the
request budget, injected 429/5xx, then the handler. Authentication comes before the budget so that nobody
can spend a key's budget without its secret: an authenticated request is charged to its key; public
requests, and requests that fail authentication, are charged to the caller's address (each in its own
bucket, so a flood of bad signatures does not stop market data from the same host). The limiter's table is
bounded.

Every answer under ``/api/v4`` carries the ``X-Gate-RateLimit-*`` headers, and every error anywhere but
the control API (unknown paths and methods, oversized or malformed bodies, a WebSocket path fetched
without an upgrade) is Gate's ``{"label", "message"}`` with a 4xx. An unexpected exception is logged
with its traceback and answered as Gate would (500 ``SERVER_ERROR``), never as aiohttp's plain text. A
client that goes away before its request is read (closing or half-closing mid-body) is one DEBUG line.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from arb.venues.gate.sandbox.apierror import GateApiError, bad_param
from arb.venues.gate.sandbox.auth import verify_request
from arb.venues.gate.sandbox.config import Faults
from arb.venues.gate.sandbox.futures_rest import FuturesApi
from arb.venues.gate.sandbox.futures_rest import is_public as futures_public
from arb.venues.gate.sandbox.keys import KeyRights, account_detail, check_rights
from arb.venues.gate.sandbox.matching import Engine, Event
from arb.venues.gate.sandbox.orders import PairSpec, fmt, order_json, trade_json
from arb.venues.gate.sandbox.public import PREFIX, PublicApi, is_public
from arb.venues.gate.sandbox.query import int_param
from arb.venues.gate.sandbox.ratelimit import Verdict, WindowLimiter
from arb.venues.sim.orders import SimOrder

KEY = web.RequestKey("api_key", str)
LIMIT = web.RequestKey("ratelimit", Verdict)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger(__name__)
# Gate's labels for what aiohttp itself refuses (routing, body size, WebSocket handshake).
HTTP_LABELS = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "INVALID_REQUEST_BODY"}


class RestApi:
    def __init__(
        self,
        engine: Engine,
        secrets: dict[str, str],
        faults: Faults,
        order_limiter: WindowLimiter,
        global_limiter: WindowLimiter,
        now_s: Callable[[], float],
        publish: Callable[[list[Event]], None],
        expire_countdowns: Callable[[], None],
        countdowns_changed: Callable[[], None],
        *,
        rights: Mapping[str, KeyRights] | None = None,
    ) -> None:
        self.engine = engine
        self.secrets = secrets
        self.rights = dict(rights or {})  # a key not named may do everything (KeyRights())
        self.faults = faults
        self.order_limiter = order_limiter
        self.global_limiter = global_limiter
        self.now_s = now_s
        self.publish = publish
        self.expire_countdowns = expire_countdowns
        self.countdowns_changed = countdowns_changed  # a countdown was set or ended: its timer looks again
        self.public = PublicApi(engine, self.now_ms)
        self.futures = FuturesApi(engine.futures, lambda request: request[KEY], self.now_ms, publish,
                                  _read_json, self.placed, self.cancelled)

    def now_ms(self) -> int:
        return int(self.now_s() * 1000)

    def routes(self) -> list[web.RouteDef]:
        p = PREFIX
        return [
            *self.public.routes(),
            *self.futures.routes(),
            web.get(p + "/account/detail", self.account_detail),
            web.get(p + "/spot/accounts", self.accounts),
            web.post(p + "/spot/orders", self.create_order),
            web.get(p + "/spot/orders", self.list_orders),
            web.delete(p + "/spot/orders", self.cancel_all),
            web.get(p + "/spot/orders/{order_id}", self.get_order),
            web.delete(p + "/spot/orders/{order_id}", self.cancel_order),
            web.patch(p + "/spot/orders/{order_id}", self.amend_order),
            web.get(p + "/spot/open_orders", self.open_orders),
            web.get(p + "/spot/my_trades", self.my_trades),
            web.post(p + "/spot/countdown_cancel_all", self.countdown_cancel_all),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await self._answer(request, handler)
        except ConnectionResetError:
            if not _client_gone(request):
                raise
            # The client closed its side before its request had been read (a half-close mid-body, a
            # dropped connection): nobody is left to answer, which is not the sandbox's error. One line;
            # the response below is never written (aiohttp notes the closed connection at DEBUG too).
            log.debug("sandbox: %s %s: the client closed the connection before its request was read",
                      request.method, request.path)
            gone = {"label": "INVALID_REQUEST_BODY", "message": "connection closed"}
            return web.json_response(gone, status=400)

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sandbox/"):  # the control API answers for itself
            return await handler(request)
        if not request.path.startswith(PREFIX + "/"):  # the WebSocket paths, or nothing at all
            try:
                return await handler(request)
            except web.HTTPException as exc:
                return _http_error(exc)
        if self.faults.latency_s > 0:
            await asyncio.sleep(self.faults.latency_s)
        self.expire_countdowns()
        try:
            verdict = await self._admit(request)
            if self.faults.fraction_429 and self.faults.rng.random() < self.faults.fraction_429:
                raise GateApiError(429, "TOO_MANY_REQUESTS", "Request rate limit exceeded (injected)")
            if self.faults.fraction_5xx and self.faults.rng.random() < self.faults.fraction_5xx:
                raise GateApiError(502, "SERVER_ERROR", "Internal server error (injected)")
            if not verdict.allowed:
                raise GateApiError(429, "TOO_MANY_REQUESTS", "Request rate limit exceeded")
            response = await handler(request)
        except GateApiError as exc:
            response = web.json_response(exc.body(), status=exc.status)
        except web.HTTPException as exc:
            response = _http_error(exc)
        except Exception as exc:  # a sandbox bug: logged in full, answered in Gate's shape
            if isinstance(exc, ConnectionResetError) and _client_gone(request):
                raise  # a client gone mid-request: quiet, in the middleware
            log.exception("sandbox: unexpected error answering %s %s", request.method, request.path)
            response = web.json_response({"label": "SERVER_ERROR", "message": "Internal server error"}, status=500)
        final = request.get(LIMIT)
        if final is not None and not response.prepared:
            response.headers.update(final.headers())
        return response

    async def _admit(self, request: web.Request) -> Verdict:
        """Authenticate, then charge the request's budget: its key's, or else its address's.

        Sets ``request[LIMIT]`` (and ``request[KEY]`` when authenticated). A request that fails routing or
        authentication is charged to its address's ``rejected`` bucket and then refused: with 429 once
        that bucket is spent, else with its own error.
        """
        now, address = self.now_s(), request.remote or "-"
        try:
            if request.match_info.http_exception is not None:  # unknown path or method
                raise request.match_info.http_exception
            if is_public(request.path) or futures_public(request.path):
                request[LIMIT] = self.global_limiter.hit(("public", address), now)
                return request[LIMIT]
            body = await request.read()  # 413 past the server's client_max_size
            key = verify_request(
                request.method,
                request.rel_url.raw_path,
                request.rel_url.raw_query_string,
                body,
                request.headers,
                self.secrets,
                now,
            )
            check_rights(self.rights.get(key, KeyRights()), request.method, request.path, address)
        except (GateApiError, web.HTTPException):
            request[LIMIT] = self.global_limiter.hit(("rejected", address), now)
            if not request[LIMIT].allowed:
                raise GateApiError(429, "TOO_MANY_REQUESTS", "Request rate limit exceeded") from None
            raise
        request[KEY] = key
        request[LIMIT] = self.global_limiter.hit(("key", key), now)
        return request[LIMIT]

    # ---- private --------------------------------------------------------------------------------------
    async def account_detail(self, request: web.Request) -> web.Response:
        key = request[KEY]
        return web.json_response(account_detail(sorted(self.secrets).index(key) + 1, self.rights.get(key, KeyRights())))

    async def accounts(self, request: web.Request) -> web.Response:
        balances = self.engine.balances.get(request[KEY], {})
        only = request.query.get("currency")
        return web.json_response(
            [
                {"currency": c, "available": fmt(b.available), "locked": fmt(b.locked), "update_id": 1}
                for c, b in sorted(balances.items())
                if only in (None, c)
            ]
        )

    def _charge_order_budget(self, request: web.Request, key: str, pair_id: object) -> PairSpec:
        """The market an order request names, its placement charged to that market's order budget (Gate
        counts placements and amends alike); 429 when the budget is spent."""
        if pair_id is not None and not isinstance(pair_id, str):
            raise bad_param("currency_pair must be a string")
        pair = self.engine.pair(pair_id)
        verdict = self.order_limiter.hit((key, pair.id), self.now_s())
        request[LIMIT] = verdict
        if not verdict.allowed:
            raise GateApiError(429, "TOO_MANY_REQUESTS", "Request rate limit exceeded")
        return pair

    async def create_order(self, request: web.Request) -> web.Response:
        key = request[KEY]
        req = _json_object(await request.read() or b"{}")
        self._charge_order_budget(request, key, req.get("currency_pair"))
        order, events = self.engine.place(key, req, self.now_ms())
        self.publish(events)
        return await self.placed(request, lambda: self._order(order))

    async def placed(self, request: web.Request, answer: Callable[[], dict[str, Any]]) -> web.Response:
        """A placed order's answer (``answer()``: the order as it stands when answered), through the injected
        faults that leave its outcome unknown to the client: spot and futures orders alike."""
        self._lose_answer(request, "drop_order_responses", "fail_order_responses", "order")
        if self.faults.order_response_delay_s > 0:
            await asyncio.sleep(self.faults.order_response_delay_s)
        return web.json_response(answer(), status=201)

    async def cancelled(self, request: web.Request, answer: Callable[[], dict[str, Any]]) -> web.Response:
        """A cancelled order's answer, through the same faults as a placement's (its own counters): the
        cancel is done, and the client may never learn it."""
        self._lose_answer(request, "drop_cancel_responses", "fail_cancel_responses", "cancel")
        return web.json_response(answer())

    def _lose_answer(self, request: web.Request, dropped: str, failed: str, kind: str) -> None:
        """The request (an ``order`` or a ``cancel``, ``kind``) is done; while the fault counter named
        ``dropped`` is above 0 the connection is closed unanswered, while ``failed`` is, 502 is answered as if
        nothing was done: the two ambiguous cases, each spending one of its counter."""
        faults = self.faults
        if getattr(faults, dropped) > 0:
            setattr(faults, dropped, getattr(faults, dropped) - 1)
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        if getattr(faults, failed) > 0:
            setattr(faults, failed, getattr(faults, failed) - 1)
            raise GateApiError(502, "SERVER_ERROR", f"Internal server error (injected after the {kind} was done)")

    async def list_orders(self, request: web.Request) -> web.Response:
        q = request.query
        pair = self.engine.pair(q.get("currency_pair"))
        status = q.get("status", "open")
        if status not in ("open", "finished"):
            raise bad_param("status must be open or finished")
        # Gate bounds finished orders by ``from`` and ``to`` (seconds, both inclusive) and pages them newest
        # first: what an audit reads a window of history through (``arb audit``).
        since_s, until_s = _time_bounds(q)
        orders = [
            o
            for o in self.engine.orders.values()
            if o.account == request[KEY] and o.market.id == pair.id and (o.status == "open") == (status == "open")
            and (status == "open" or _within(o.create_ms, since_s, until_s))
        ]
        orders.sort(key=lambda o: o.id, reverse=True)
        limit = int_param(q.get("limit", "100"), "limit", 1, 1000)
        page = int_param(q.get("page", "1"), "page", 1, 10**6)
        return web.json_response([self._order(o) for o in orders[(page - 1) * limit : page * limit]])

    async def open_orders(self, request: web.Request) -> web.Response:
        by_pair: dict[str, list[dict[str, Any]]] = {}
        for order in self.engine.open_orders(request[KEY]):
            by_pair.setdefault(order.market.id, []).append(self._order(order))
        return web.json_response(
            [{"currency_pair": p, "total": len(o), "orders": o} for p, o in by_pair.items()]
        )

    async def get_order(self, request: web.Request) -> web.Response:
        order = self.engine.find(
            request[KEY], request.query.get("currency_pair"), request.match_info["order_id"]
        )
        return web.json_response(self._order(order))

    async def amend_order(self, request: web.Request) -> web.Response:
        """``PATCH /spot/orders/{order_id}``: ``amount`` and/or ``price``, ``amend_text``, in the JSON body;
        ``currency_pair`` in the body or the query (ccxt sends its params in both). Charged to the market's
        order budget, as Gate counts amends with placements."""
        key = request[KEY]
        req = _json_object(await request.read() or b"{}")
        pair = self._charge_order_budget(request, key, req.get("currency_pair", request.query.get("currency_pair")))
        order, events = self.engine.amend(key, pair.id, request.match_info["order_id"], req, self.now_ms())
        self.publish(events)
        return web.json_response(self._order(order))

    def _order(self, order: SimOrder) -> dict[str, Any]:
        return order_json(order, amend_text=self.engine.amend_text(order.id))

    async def cancel_order(self, request: web.Request) -> web.Response:
        order, events = self.engine.cancel(
            request[KEY], request.query.get("currency_pair"), request.match_info["order_id"], self.now_ms()
        )
        self.publish(events)
        return await self.cancelled(request, lambda: self._order(order))

    async def cancel_all(self, request: web.Request) -> web.Response:
        side = request.query.get("side")
        if side not in (None, "", "buy", "sell"):
            raise bad_param("side must be buy or sell")
        orders, events = self.engine.cancel_all(
            request[KEY], request.query.get("currency_pair"), side, self.now_ms()
        )
        self.publish(events)
        return web.json_response([self._order(o) for o in orders])

    async def countdown_cancel_all(self, request: web.Request) -> web.Response:
        """Gate's dead man's switch (``countdown.py``): ``{"timeout", "currency_pair"}`` in the JSON body."""
        req = _json_object(await request.read() or b"{}")
        trigger_ms = self.engine.countdown_cancel_all(request[KEY], req, self.now_ms())
        self.countdowns_changed()
        return web.json_response({"triggerTime": trigger_ms})

    async def my_trades(self, request: web.Request) -> web.Response:
        q = request.query
        pair = self.engine.pair(q.get("currency_pair")) if q.get("currency_pair") else None
        order_id = q.get("order_id")
        since_s, until_s = _time_bounds(q)
        trades = [
            t
            for t in self.engine.trades
            if t.account == request[KEY]
            and (pair is None or t.market == pair.id)
            and (order_id is None or str(t.order_id) == order_id)
            and _within(t.create_ms, since_s, until_s)
        ]
        trades.sort(key=lambda t: t.id, reverse=True)
        limit = int_param(q.get("limit", "100"), "limit", 1, 1000)
        page = int_param(q.get("page", "1"), "page", 1, 10**6)  # Gate pages a spot account's trades too
        return web.json_response([trade_json(t, self.engine.amend_text(t.order_id), self.engine.gt_fee(t))
                                  for t in trades[(page - 1) * limit : page * limit]])


def _time_bounds(q: Mapping[str, str]) -> tuple[int | None, int | None]:
    """A history query's ``from`` and ``to``, in seconds, as Gate takes them (None: unbounded)."""
    since_s = int_param(q["from"], "from", 0, 10**11) if "from" in q else None
    until_s = int_param(q["to"], "to", 0, 10**11) if "to" in q else None
    return since_s, until_s


def _within(create_ms: int, since_s: int | None, until_s: int | None) -> bool:
    """Made within the seconds ``[since_s, until_s]``: Gate's ``to`` takes in its whole second."""
    return (since_s is None or create_ms >= since_s * 1000) and (until_s is None or create_ms < (until_s + 1) * 1000)


def _client_gone(request: web.Request) -> bool:
    """Whether the request's connection is closed or closing: what a ``ConnectionResetError`` from reading
    its body means when the client, not the sandbox, ended it."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


async def _read_json(request: web.Request) -> dict[str, Any]:
    return _json_object(await request.read() or b"{}")


def _json_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object with exact decimals; ``NaN``/``Infinity`` (which Python's ``json``
    accepts) and absurd nesting are Gate's ``INVALID_REQUEST_BODY``, like any other non-JSON."""
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and over-long integers are ValueErrors too
        raise GateApiError(400, "INVALID_REQUEST_BODY", "body is not JSON") from None
    if not isinstance(value, dict):
        raise GateApiError(400, "INVALID_REQUEST_BODY", "body must be a JSON object")
    return value


def _http_error(exc: web.HTTPException) -> web.Response:
    """What aiohttp refused (routing, body size, handshake), in Gate's shape with aiohttp's status."""
    label = HTTP_LABELS.get(exc.status, "BAD_REQUEST" if exc.status < 500 else "SERVER_ERROR")
    response = web.json_response({"label": label, "message": exc.reason}, status=exc.status)
    if "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response
