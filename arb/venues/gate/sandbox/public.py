"""Gate v4's public spot market endpoints, served without authentication as Gate serves them.

Every public endpoint that ccxt's gate class calls in ``load_markets``, ``fetch_ticker(s)``,
``fetch_order_book``, ``fetch_trades`` and ``fetch_time``, and that Gate's official SDK (``gate_api.SpotApi``)
calls for markets, currencies, tickers, books, trades and server time:

- ``/spot/time``, ``/spot/currency_pairs[/{pair}]``, ``/spot/currencies[/{currency}]``;
- ``/spot/order_book`` (``interval`` 0 only: the sandbox does not aggregate levels);
- ``/spot/tickers``: best bid and ask from the book; last price, 24 h high, low, volumes and changes from the
  trades the sandbox's own matching produced (``""`` where there is nothing to report, as Gate leaves a
  field with no data);
- ``/spot/trades``: those trades as the market's public tape (:func:`public_trade_json`);
- the market lists ``load_markets`` fetches besides spot: ``/margin/currency_pairs``, the futures and delivery
  contracts of the settle currencies ccxt asks for but USDT (whose perpetuals ``futures_rest.py`` lists), and
  the options underlyings: all empty.

The sandbox's market trades are its accounts' fills (its book is the recorded or simulated market, so every
fill is one print against it, but for a trade between two of its accounts: one print, the taker's fill's).
Published anonymized, in Gate's public trade shape: the fill's id (on Gate a
fill's id in ``my_trades`` is the public trade's id too), its time, pair, price and amount, the taker's side
(the fill's own side if it took, the other side if its resting order was taken), and ``sequence_id`` counting
the pair's trades from 1. The account, order id, client text, role and fee are left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from aiohttp import web

from arb.venues.gate.sandbox.apierror import GateApiError, bad_param
from arb.venues.gate.sandbox.matching import Engine
from arb.venues.gate.sandbox.orders import fmt
from arb.venues.gate.sandbox.query import bool_param, int_param
from arb.venues.sim.book import Book
from arb.venues.sim.orders import SimTrade

PREFIX = "/api/v4"
DAY_MS = 86_400_000
UTC8_MS = 8 * 3_600_000
TAPE_DAYS_MS = 30 * DAY_MS  # /spot/trades without a range or last_id: the last 30 days, as on Gate
ID_RE = re.compile(r"[0-9]{1,20}")
# Market lists of other kinds that ccxt's load_markets fetches (its default settle currencies).
EMPTY_LISTS = (
    "/margin/currency_pairs",
    "/futures/btc/contracts",
    "/delivery/usdt/contracts",
    "/options/underlyings",
)
PUBLIC = frozenset(
    (
        "/spot/time",
        "/spot/currency_pairs",
        "/spot/currencies",
        "/spot/order_book",
        "/spot/tickers",
        "/spot/trades",
    )
    + EMPTY_LISTS
)
PUBLIC_PREFIXES = ("/spot/currency_pairs/", "/spot/currencies/")


def is_public(path: str) -> bool:
    """Whether ``path`` (under ``/api/v4``) is served without authentication."""
    tail = path[len(PREFIX) :]
    return tail in PUBLIC or tail.startswith(PUBLIC_PREFIXES)


class PublicApi:
    def __init__(self, engine: Engine, now_ms: Callable[[], int]) -> None:
        self.engine = engine
        self.now_ms = now_ms

    def routes(self) -> list[web.RouteDef]:
        p = PREFIX
        return [
            web.get(p + "/spot/time", self.time),
            web.get(p + "/spot/currency_pairs", self.currency_pairs),
            web.get(p + "/spot/currency_pairs/{currency_pair}", self.currency_pair),
            web.get(p + "/spot/currencies", self.currencies),
            web.get(p + "/spot/currencies/{currency}", self.currency),
            web.get(p + "/spot/order_book", self.order_book),
            web.get(p + "/spot/tickers", self.tickers),
            web.get(p + "/spot/trades", self.trades),
            *(web.get(p + path, self.empty_list) for path in EMPTY_LISTS),
        ]

    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"server_time": self.now_ms()})

    async def currency_pairs(self, request: web.Request) -> web.Response:
        return web.json_response([p.to_json() for p in self.engine.pairs.values()])

    async def currency_pair(self, request: web.Request) -> web.Response:
        return web.json_response(self.engine.pair(request.match_info["currency_pair"]).to_json())

    async def currencies(self, request: web.Request) -> web.Response:
        return web.json_response([currency_json(c) for c in self._currencies()])

    async def currency(self, request: web.Request) -> web.Response:
        name = request.match_info["currency"]
        if name not in self._currencies():
            raise GateApiError(400, "INVALID_CURRENCY", f"Invalid currency {name[:40]}")
        return web.json_response(currency_json(name))

    def _currencies(self) -> list[str]:
        return sorted({c for p in self.engine.pairs.values() for c in (p.base, p.quote)})

    async def empty_list(self, request: web.Request) -> web.Response:
        return web.json_response([])

    async def order_book(self, request: web.Request) -> web.Response:
        q = request.query
        pair = self.engine.pair(q.get("currency_pair"))
        limit = int_param(q.get("limit", "10"), "limit", 1, 1000)
        if q.get("interval", "0") != "0":
            raise bad_param("interval must be 0: the sandbox does not aggregate its book")
        book = self.engine.books[pair.id]
        body: dict[str, Any] = {}
        if bool_param(q.get("with_id", "false"), "with_id"):
            body["id"] = book.update_id
        now = self.now_ms()
        body.update(
            {
                "current": now,
                "update": book.ts_ms or now,
                "asks": [[fmt(p), fmt(s)] for p, s in book.sorted_asks(limit)],
                "bids": [[fmt(p), fmt(s)] for p, s in book.sorted_bids(limit)],
            }
        )
        return web.json_response(body)

    async def tickers(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("timezone", "utc0") not in ("utc0", "utc8", "all"):
            raise bad_param("timezone must be utc0, utc8 or all")
        if "currency_pair" in q:
            pairs = [self.engine.pair(q["currency_pair"])]
        else:
            pairs = list(self.engine.pairs.values())
        now = self.now_ms()
        single = len(pairs) == 1 and "currency_pair" in q
        return web.json_response(
            [ticker_json(self.engine.books[p.id], self._tape(p.id), now, sizes=single) for p in pairs]
        )

    async def trades(self, request: web.Request) -> web.Response:
        q = request.query
        pair = self.engine.pair(q.get("currency_pair"))
        limit = int_param(q.get("limit", "100"), "limit", 1, 1000)
        page = int_param(q.get("page", "1"), "page", 1, 100_001)
        if limit * (page - 1) > 100_000:
            raise bad_param("limit * (page - 1) must not exceed 100000")
        tape = list(enumerate(self._tape(pair.id), start=1))  # (sequence_id, trade), oldest first
        forward = False
        if "last_id" in q:  # the time range is then ignored, as on Gate
            if not ID_RE.fullmatch(q["last_id"]):
                raise bad_param("last_id must be a trade id")
            last_id = int(q["last_id"])
            forward = not bool_param(q.get("reverse", "false"), "reverse")
            tape = [x for x in tape if (x[1].id > last_id if forward else x[1].id < last_id)]
        else:
            now = self.now_ms()
            since = int_param(q["from"], "from", 0, 10**11) * 1000 if "from" in q else now - TAPE_DAYS_MS
            until = int_param(q["to"], "to", 0, 10**11) * 1000 + 999 if "to" in q else now
            tape = [x for x in tape if since <= x[1].create_ms <= until]
        # Pages count from last_id onwards (forward), else back from the newest; each is shown newest first.
        start, end = (page - 1) * limit, page * limit
        chosen = tape[start:end][::-1] if forward else tape[::-1][start:end]
        return web.json_response([public_trade_json(t, seq) for seq, t in chosen])

    def _tape(self, pair_id: str) -> list[SimTrade]:
        """The pair's prints: one per trade id (a trade between two of the sandbox's accounts is two fills
        under one id, the taker's first)."""
        seen: set[int] = set()
        tape = []
        for trade in self.engine.trades:
            if trade.market == pair_id and trade.id not in seen:
                seen.add(trade.id)
                tape.append(trade)
        return tape


def currency_json(name: str) -> dict[str, Any]:
    """``/spot/currencies`` entry: tradable, on one chain named after itself."""
    return {
        "currency": name,
        "name": name,
        "delisted": False,
        "withdraw_disabled": False,
        "withdraw_delayed": False,
        "deposit_disabled": False,
        "trade_disabled": False,
        "chain": name,
        "chains": [
            {
                "name": name,
                "addr": "",
                "withdraw_disabled": False,
                "withdraw_delayed": False,
                "deposit_disabled": False,
            }
        ],
    }


def public_trade_json(trade: SimTrade, sequence_id: int) -> dict[str, Any]:
    """One fill as the market's public tape shows it: the taker's side; no account, order, text, role or
    fee."""
    taker_side = trade.side if trade.role == "taker" else ("sell" if trade.side == "buy" else "buy")
    return {
        "id": str(trade.id),
        "create_time": str(trade.create_ms // 1000),
        "create_time_ms": f"{trade.create_ms}.000",
        "currency_pair": trade.market,
        "side": taker_side,
        "amount": fmt(trade.amount),
        "price": fmt(trade.price),
        "sequence_id": str(sequence_id),
    }


def ticker_json(book: Book, tape: Sequence[SimTrade], now_ms: int, *, sizes: bool) -> dict[str, Any]:
    """``/spot/tickers`` entry for one pair: its book's best levels and its ``tape`` (oldest first) up to
    ``now_ms``. ``sizes``: the best levels' sizes too (Gate gives them only when one pair is asked for)."""
    tape = [t for t in tape if t.create_ms <= now_ms]
    window = [t for t in tape if t.create_ms > now_ms - DAY_MS]
    bid, ask = book.sorted_bids(1), book.sorted_asks(1)
    last = tape[-1].price if tape else None
    body: dict[str, Any] = {
        "currency_pair": book.market,
        "last": _text(last),
        "lowest_ask": _text(ask[0][0] if ask else None),
    }
    if sizes:
        body["lowest_size"] = _text(ask[0][1] if ask else None)
    body["highest_bid"] = _text(bid[0][0] if bid else None)
    if sizes:
        body["highest_size"] = _text(bid[0][1] if bid else None)
    utc0_midnight = now_ms - now_ms % DAY_MS
    utc8_midnight = now_ms - (now_ms + UTC8_MS) % DAY_MS
    body.update(
        {
            "change_percentage": _change(tape, now_ms - DAY_MS),
            "change_utc0": _change(tape, utc0_midnight),
            "change_utc8": _change(tape, utc8_midnight),
            "base_volume": fmt(sum((t.amount for t in window), Decimal(0))),
            "quote_volume": fmt(sum((t.amount * t.price for t in window), Decimal(0))),
            "high_24h": _text(max((t.price for t in window), default=None)),
            "low_24h": _text(min((t.price for t in window), default=None)),
        }
    )
    return body


def _change(tape: Sequence[SimTrade], since_ms: int) -> str:
    """Percent change of the last price since ``since_ms``: from the last trade at or before it (else the
    first after it) to the last trade, two decimals as Gate shows it; "0" with no trades."""
    if not tape:
        return "0"
    before = [t for t in tape if t.create_ms <= since_ms]
    opening = before[-1].price if before else tape[0].price
    return fmt(((tape[-1].price - opening) / opening * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def _text(value: Decimal | None) -> str:
    return "" if value is None else fmt(value)
