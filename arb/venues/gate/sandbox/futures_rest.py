"""REST ``/api/v4/futures/usdt``: the calls ccxt's gate class makes for a USDT perpetual (markets, book,
orders, trades, positions, the futures account, funding history), over :mod:`futures` and answered in
Gate's shapes (:mod:`contracts`). Behind the same middleware as the spot API (authentication, budget,
injected faults); a placed order's answer goes through the same lost/late/failed-answer faults, a cancel's through
the lost/failed ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from arb.venues.gate.sandbox.apierror import bad_param
from arb.venues.gate.sandbox.contracts import (
    account_json,
    contract_of,
    futures_account,
    futures_order_json,
    futures_trade_json,
    market_id,
    position_json,
)
from arb.venues.gate.sandbox.futures import FuturesEngine
from arb.venues.gate.sandbox.matching import Event
from arb.venues.gate.sandbox.orders import fmt
from arb.venues.gate.sandbox.query import bool_param, int_param
from arb.venues.sim.orders import SimOrder

BASE = "/api/v4/futures/usdt"
PUBLIC_PATHS = (BASE + "/contracts", BASE + "/order_book")
PUBLIC_PREFIXES = (BASE + "/contracts/",)
# (the request, the order placed or cancelled, its answer now) -> the response, after the sandbox's faults
Placed = Callable[[web.Request, Callable[[], dict[str, Any]]], Awaitable[web.Response]]


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class FuturesApi:
    def __init__(self, futures: FuturesEngine, key_of: Callable[[web.Request], str], now_ms: Callable[[], int],
                 publish: Callable[[list[Event]], None], read_json: Callable[[web.Request], Awaitable[dict[str, Any]]],
                 placed: Placed, cancelled: Placed) -> None:
        self.futures = futures
        self.key_of = key_of
        self.now_ms = now_ms
        self.publish = publish
        self.read_json = read_json
        self.placed = placed
        self.cancelled = cancelled

    def routes(self) -> list[web.RouteDef]:
        b = BASE
        return [
            web.get(b + "/contracts", self.list_contracts),
            web.get(b + "/contracts/{contract}", self.one_contract),
            web.get(b + "/order_book", self.order_book),
            web.get(b + "/accounts", self.accounts),
            web.get(b + "/positions", self.positions),
            web.get(b + "/positions/{contract}", self.one_position),
            web.post(b + "/orders", self.create_order),
            web.get(b + "/orders", self.list_orders),
            web.delete(b + "/orders", self.cancel_all),
            web.get(b + "/orders/{order_id}", self.get_order),
            web.delete(b + "/orders/{order_id}", self.cancel_order),
            web.get(b + "/my_trades", self.my_trades),
            web.get(b + "/my_trades_timerange", self.my_trades),
            web.get(b + "/account_book", self.account_book),
        ]

    # ---- public ---------------------------------------------------------------------------------------
    def _contract_json(self, name: str) -> dict[str, Any]:
        spec, state = self.futures.contracts[name], self.futures.states[name]
        return spec.to_json(self.futures.mark(spec), state.index, state.rate, state.next_apply_ms // 1000)

    async def list_contracts(self, request: web.Request) -> web.Response:
        return web.json_response([self._contract_json(name) for name in self.futures.contracts])

    async def one_contract(self, request: web.Request) -> web.Response:
        return web.json_response(self._contract_json(self.futures.contract(request.match_info["contract"]).name))

    async def order_book(self, request: web.Request) -> web.Response:
        """Levels as ``{"p", "s"}`` with ``s`` in contracts, as Gate's futures book lists them."""
        q = request.query
        spec = self.futures.contract(q.get("contract"))
        limit = int_param(q.get("limit", "10"), "limit", 1, 1000)
        book = self.futures.matcher.books[market_id(spec.name)]
        body: dict[str, Any] = {}
        if bool_param(q.get("with_id", "false"), "with_id"):
            body["id"] = book.update_id
        now = self.now_ms()
        body.update({
            "current": now / 1000,
            "update": (book.ts_ms or now) / 1000,
            "asks": [{"p": fmt(p), "s": fmt(spec.contracts(s))} for p, s in book.sorted_asks(limit)],
            "bids": [{"p": fmt(p), "s": fmt(spec.contracts(s))} for p, s in book.sorted_bids(limit)],
        })
        return web.json_response(body)

    # ---- the account ----------------------------------------------------------------------------------
    def _unrealised(self, key: str) -> Decimal:
        total = Decimal(0)
        for spec in self.futures.contracts.values():
            mark = self.futures.mark(spec)
            if mark is not None:
                total += self.futures.position(key, spec).unrealized(mark)
        return total.quantize(Decimal("1e-12"))

    async def accounts(self, request: web.Request) -> web.Response:
        key = self.key_of(request)
        wallet = self.futures.matcher.balance(futures_account(key), "USDT")
        return web.json_response(account_json(wallet.available, wallet.locked, self._unrealised(key)))

    def _position(self, key: str, name: str) -> dict[str, Any]:
        spec = self.futures.contracts[name]
        wallet = self.futures.matcher.balance(futures_account(key), spec.quote)
        return position_json(spec, self.futures.position(key, spec), self.futures.mark(spec),
                             wallet.total)

    async def positions(self, request: web.Request) -> web.Response:
        """Every contract's position, flat ones too (Gate lists those the account has traded)."""
        key = self.key_of(request)
        held = request.query.get("holding")
        rows = [self._position(key, name) for name in self.futures.contracts]
        if held is not None and bool_param(held, "holding"):
            rows = [row for row in rows if row["size"] != "0"]
        return web.json_response(rows)

    async def one_position(self, request: web.Request) -> web.Response:
        spec = self.futures.contract(request.match_info["contract"])
        return web.json_response(self._position(self.key_of(request), spec.name))

    async def account_book(self, request: web.Request) -> web.Response:
        """Only ``fund`` entries are kept (funding): other types list nothing."""
        q = request.query
        kind = q.get("type")
        since_s = int_param(q["from"], "from", 0, 10**11) if "from" in q else None
        until_s = int_param(q["to"], "to", 0, 10**11) if "to" in q else None
        limit = int_param(q.get("limit", "100"), "limit", 1, 1000)
        contract = q.get("contract")
        account = futures_account(self.key_of(request))
        entries = [e for e in self.futures.fund_book if e.account == account and kind in (None, "fund")
                   and (contract is None or e.contract == contract)
                   and (since_s is None or e.time_ms >= since_s * 1000)
                   and (until_s is None or e.time_ms <= until_s * 1000)]
        entries.sort(key=lambda e: e.time_ms, reverse=True)
        return web.json_response([{"time": e.time_ms / 1000, "change": fmt(e.change), "balance": fmt(e.balance),
                                   "type": "fund", "text": e.contract, "contract": e.contract, "trade_id": ""}
                                  for e in entries[:limit]])

    # ---- orders ---------------------------------------------------------------------------------------
    def _order(self, order: SimOrder) -> dict[str, Any]:
        name = contract_of(order.market.id)
        assert name is not None
        return futures_order_json(order, self.futures.contracts[name],
                                  reduce_only=order.id in self.futures.reduce_only)

    async def create_order(self, request: web.Request) -> web.Response:
        req = await self.read_json(request)
        order, events = self.futures.place(self.key_of(request), req, self.now_ms())
        self.publish(events)
        return await self.placed(request, lambda: self._order(order))

    async def list_orders(self, request: web.Request) -> web.Response:
        q = request.query
        spec = self.futures.contract(q["contract"]) if q.get("contract") else None
        status = q.get("status", "open")
        if status not in ("open", "finished"):
            raise bad_param("status must be open or finished")
        limit = int_param(q.get("limit", "100"), "limit", 1, 1000)
        orders = self.futures.orders(self.key_of(request), spec, status)
        return web.json_response([self._order(o) for o in orders[:limit]])

    async def get_order(self, request: web.Request) -> web.Response:
        return web.json_response(self._order(self.futures.find(self.key_of(request), request.match_info["order_id"])))

    async def cancel_order(self, request: web.Request) -> web.Response:
        order, events = self.futures.cancel(self.key_of(request), request.match_info["order_id"], self.now_ms())
        self.publish(events)
        return await self.cancelled(request, lambda: self._order(order))

    async def cancel_all(self, request: web.Request) -> web.Response:
        key = self.key_of(request)
        spec = self.futures.contract(request.query.get("contract"))
        done, events = [], []
        for order in self.futures.orders(key, spec, "open"):
            events += self.futures.matcher.cancel(order, self.now_ms())
            done.append(order)
        self.publish(events)
        return web.json_response([self._order(o) for o in done])

    async def my_trades(self, request: web.Request) -> web.Response:
        q = request.query
        spec = self.futures.contract(q["contract"]) if q.get("contract") else None
        order_id = q.get("order")
        since_s = int_param(q["from"], "from", 0, 10**11) if "from" in q else None
        until_s = int_param(q["to"], "to", 0, 10**11) if "to" in q else None
        limit = int_param(q.get("limit", "100"), "limit", 1, 1000)
        account = futures_account(self.key_of(request))
        trades = [t for t in self.futures.matcher.trades
                  if t.account == account and contract_of(t.market) is not None
                  and (spec is None or t.market == market_id(spec.name))
                  and (order_id is None or str(t.order_id) == order_id)
                  and (since_s is None or t.create_ms >= since_s * 1000)
                  and (until_s is None or t.create_ms <= until_s * 1000)]
        trades.sort(key=lambda t: t.id, reverse=True)
        out = []
        for trade in trades[:limit]:
            name = contract_of(trade.market)
            assert name is not None
            out.append(futures_trade_json(trade, self.futures.contracts[name]))
        return web.json_response(out)
