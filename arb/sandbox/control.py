"""``/_sandbox/...``: the test/demo control API over HTTP, for a sandbox running in another process.

Loopback only and unauthenticated by design: it is a test fixture, not part of the Gate protocol.

- ``POST /_sandbox/clock``           ``{"shift_s": 90}``
- ``POST /_sandbox/faults``          ``{"latency_s": 0.2, "fraction_429": 0.5, "drop_order_responses": 1, ...}``
- ``POST /_sandbox/balance``         ``{"key": "..", "currency": "USDT", "available": "100"}``
- ``POST /_sandbox/book``            ``{"pair": "LINK_USDT", "kind": "snapshot", "bids": [[p, s]], "asks": [...]}``
- ``POST /_sandbox/skip_update_id``  ``{"pair": "LINK_USDT"}``
- ``POST /_sandbox/close_websockets``
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from arb.sandbox.server import Sandbox


def control_routes(sb: Sandbox) -> list[web.RouteDef]:
    async def body(request: web.Request) -> dict[str, Any]:
        data = await request.json() if request.can_read_body else {}
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="expected a JSON object")
        return data

    async def clock(request: web.Request) -> web.Response:
        sb.shift_clock(float((await body(request)).get("shift_s", 0)))
        return web.json_response({"now_s": sb.now_s()})

    async def faults(request: web.Request) -> web.Response:
        try:
            sb.faults.update(await body(request))
        except (ValueError, TypeError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return web.json_response({"ok": True})

    async def balance(request: web.Request) -> web.Response:
        data = await body(request)
        sb.set_balance(str(data["key"]), str(data["currency"]), Decimal(str(data["available"])))
        return web.json_response({"ok": True})

    async def book(request: web.Request) -> web.Response:
        data = await body(request)
        events = sb.push_book(
            str(data["pair"]), data.get("bids", []), data.get("asks", []), str(data.get("kind", "snapshot"))
        )
        return web.json_response({"events": len(events), "id": sb.engine.books[str(data["pair"])].update_id})

    async def skip(request: web.Request) -> web.Response:
        sb.skip_update_id(str((await body(request))["pair"]))
        return web.json_response({"ok": True})

    async def close_ws(request: web.Request) -> web.Response:
        await sb.close_websockets()
        return web.json_response({"ok": True})

    return [
        web.post("/_sandbox/clock", clock),
        web.post("/_sandbox/faults", faults),
        web.post("/_sandbox/balance", balance),
        web.post("/_sandbox/book", book),
        web.post("/_sandbox/skip_update_id", skip),
        web.post("/_sandbox/close_websockets", close_ws),
    ]
