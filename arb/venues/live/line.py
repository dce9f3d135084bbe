"""A prepared request written on the exchange's order line, and its answer read as ccxt's ``fetch`` reads it.

Each exchange gets one :class:`arb.venues.order_line.OrderLine` (kept-alive connections; nothing built or
awaited before the write), closed with the exchange. The answer goes through ccxt's own response handling
(``on_rest_response``, ``parse_json``, ``handle_errors``: a venue's labels, ``handle_http_status_code``), so
what reaches the caller is what ccxt's ``fetch`` would have returned or raised.
"""

from __future__ import annotations

from typing import Any

from arb.venues.live.wire import WireRequest
from arb.venues.order_line import OrderLine, ssl_context_of


def order_line_of(exchange: Any) -> OrderLine:
    """The exchange's order line: made at the first call (once per instance), closed when the exchange is."""
    existing: OrderLine | None = getattr(exchange, "_arb_order_line", None)
    if existing is not None:
        return existing
    line = OrderLine(str(getattr(exchange, "id", "exchange")), lambda: ssl_context_of(exchange))
    close = exchange.close

    async def close_with_line(*args: Any, **kwargs: Any) -> Any:
        await line.close()
        return await close(*args, **kwargs)

    exchange.close = close_with_line
    exchange._arb_order_line = line
    return line


async def write(exchange: Any, line: OrderLine, wire: WireRequest) -> Any:
    """ccxt's ``fetch`` for a prepared request: write it on the order line, then ccxt's own response
    handling."""
    assert wire.raw is not None
    ex = exchange
    answer = await line.send(wire.raw, wire.timeout_s)
    status, reason, headers = answer.status, answer.reason, answer.headers
    if ex.enableLastResponseHeaders:  # as ccxt's fetch does: a rate limit's reset is read from them
        ex.last_response_headers = headers
    text = ex.on_rest_response(status, reason, wire.url, wire.method, headers, answer.text,
                               wire.request_headers, wire.body)
    parsed = ex.parse_json(text)
    ex.handle_errors(status, reason, wire.url, wire.method, headers, text, parsed, wire.request_headers,
                     wire.body)
    ex.handle_http_status_code(status, reason, wire.url, wire.method, text)
    return parsed
