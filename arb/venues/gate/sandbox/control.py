"""``/_sandbox/...``: the test/demo control API over HTTP, for a sandbox running in another process.

Loopback only and unauthenticated by design: it is a test fixture, not part of the Gate protocol. Bad
input (not a JSON object, a missing or mistyped field, an unknown pair or account, a number that is not
finite or out of its range, by the rules of ``arb/venues/gate/sandbox/values.py``: amounts and prices up to 1e15, the
clock within a year of its own, delays up to an hour) is answered 400 with a ``{"label", "message"}`` body,
never 500, and changes nothing. Whatever it accepts, the sandbox keeps serving.

- ``POST /_sandbox/clock``           ``{"shift_s": 90}``
- ``POST /_sandbox/faults``          ``{"latency_s": 0.2, "fraction_429": 0.5, "drop_order_responses": 1, ...}``
  (``config.Faults``: an order's or a cancel's answer lost after it was done, a late answer, 429s, 5xx)
- ``POST /_sandbox/balance``         ``{"key": "..", "currency": "USDT", "available": "100"}``
- ``POST /_sandbox/book``            ``{"pair": "LINK_USDT", "kind": "snapshot", "bids": [[p, s]], "asks": [...]}``
- ``POST /_sandbox/skip_update_id``  ``{"pair": "LINK_USDT"}``
- ``POST /_sandbox/close_websockets``
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from arb.venues.gate.sandbox import values

if TYPE_CHECKING:
    from arb.venues.gate.sandbox.config import Faults
    from arb.venues.gate.sandbox.matching import Engine
    from arb.venues.sim.book import Level
    from arb.venues.sim.matching import Event

ControlHandler = Callable[[web.Request], Awaitable[web.Response]]


class Controlled(Protocol):
    """What the control API changes: the sandbox it is served by (``server.Sandbox``, which imports this
    module to serve it; this module names only what it calls, so the two are no import circle)."""

    @property
    def faults(self) -> Faults: ...

    @property
    def engine(self) -> Engine: ...

    def now_s(self) -> float: ...

    def shift_clock(self, seconds: object) -> None: ...

    def set_balance(self, key: str, currency: str, available: Decimal | str) -> None: ...

    def push_book(self, pair: str, bids: Iterable[Level | tuple[str, str]],
                  asks: Iterable[Level | tuple[str, str]], kind: str = "snapshot") -> list[Event]: ...

    def skip_update_id(self, pair: str) -> None: ...

    async def close_websockets(self) -> None: ...


def _bad(message: str) -> web.Response:
    return web.json_response({"label": "INVALID_PARAM_VALUE", "message": message}, status=400)


def _guarded(handler: ControlHandler) -> ControlHandler:
    """Input errors (including an unknown pair's ``KeyError``) become a 400 naming the cause."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except KeyError as exc:
            return _bad(f"missing or unknown {exc}")
        except (ValueError, TypeError, ArithmeticError, RecursionError) as exc:
            return _bad(str(exc) or type(exc).__name__)

    return wrapper


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _levels(value: object) -> list[tuple[Decimal, Decimal]]:
    """``[[price, size], ...]``, price in ``(0, MAX_AMOUNT]`` and size in ``[0, MAX_AMOUNT]`` (any precision:
    a feed test may push a price finer than the pair's tick on purpose)."""
    if not isinstance(value, list):
        raise ValueError("levels must be a list of [price, size]")
    levels = []
    for level in value:
        if not isinstance(level, list) or len(level) != 2:
            raise ValueError("each level must be [price, size]")
        price = values.amount(level[0], "a level's price", positive=True)
        levels.append((price, values.amount(level[1], "a level's size")))
    return levels


def control_routes(sb: Controlled) -> list[web.RouteDef]:
    async def body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        data = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant) if raw else {}
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    async def clock(request: web.Request) -> web.Response:
        sb.shift_clock((await body(request)).get("shift_s", 0))  # checked there: finite, within a year
        return web.json_response({"now_s": sb.now_s()})

    async def faults(request: web.Request) -> web.Response:
        sb.faults.update(await body(request))
        return web.json_response({"ok": True})

    async def balance(request: web.Request) -> web.Response:
        data = await body(request)
        sb.set_balance(data["key"], data["currency"], data["available"])  # each checked there
        return web.json_response({"ok": True})

    async def book(request: web.Request) -> web.Response:
        data = await body(request)
        pair, kind = str(data["pair"]), str(data.get("kind", "snapshot"))
        if pair not in sb.engine.books:
            raise KeyError(f"pair {pair}")
        if kind not in ("snapshot", "delta"):
            raise ValueError("kind must be snapshot or delta")
        # Checked in full before the book changes, so a bad level never leaves it half-applied.
        bids, asks = _levels(data.get("bids", [])), _levels(data.get("asks", []))
        events = sb.push_book(pair, bids, asks, kind)
        return web.json_response({"events": len(events), "id": sb.engine.books[pair].update_id})

    async def skip(request: web.Request) -> web.Response:
        sb.skip_update_id(str((await body(request))["pair"]))
        return web.json_response({"ok": True})

    async def close_ws(request: web.Request) -> web.Response:
        await sb.close_websockets()
        return web.json_response({"ok": True})

    return [
        web.post("/_sandbox/clock", _guarded(clock)),
        web.post("/_sandbox/faults", _guarded(faults)),
        web.post("/_sandbox/balance", _guarded(balance)),
        web.post("/_sandbox/book", _guarded(book)),
        web.post("/_sandbox/skip_update_id", _guarded(skip)),
        web.post("/_sandbox/close_websockets", _guarded(close_ws)),
    ]
