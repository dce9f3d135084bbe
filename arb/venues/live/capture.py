"""ccxt's ``fetch`` intercepted, per task: a ccxt call's next request captured instead of sent.

``prepare`` runs ccxt's own ``create_order`` with the exchange's ``fetch`` intercepted: reads it needs first
(markets, clock sync, account mode) go through, and the first write (the order) is captured as URL, headers
and body instead of being sent (``"write"``); a ping captures ccxt's ``fetch_time`` request whatever its
method (``"any"``). The interception is per task (a ``ContextVar``): other calls running concurrently on the
same exchange are never captured. Placements are never GETs on any ccxt venue, which is what ``"write"``
relies on.

A call may also have its writes sent another way (:func:`writes_through`): ``cancel`` writes a cancel on the
exchange's order line, ccxt building, signing and reading it as its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal
from urllib.parse import urlsplit

from arb.eventloop.eager import in_own_task
from arb.eventloop.simloop import time_held

Capture = Literal["write", "any"]
WireFetch = Callable[[str, str, Any, Any], Awaitable[Any]]

_CAPTURING: ContextVar[Capture | None] = ContextVar("arb_live_capturing", default=None)
_WRITES_THROUGH: ContextVar[WireFetch | None] = ContextVar("arb_live_writes_through", default=None)


class Captured(Exception):  # a control-flow signal that never leaves ``captured``
    """Raised by the intercepted ``fetch`` instead of writing; carries the request, never in its text."""

    def __init__(self, url: str, method: str, headers: dict[str, str] | None, body: str | None) -> None:
        super().__init__(f"captured {method} {urlsplit(url).path}")
        self.url, self.method, self.headers, self.body = url, method, headers, body


def install_capture(exchange: Any) -> WireFetch:
    """Intercept ``exchange.fetch`` (once per instance) and return ccxt's own, uncaptured ``fetch`` (in an
    order's first step started at once, after a yield to the order's own task: ``eventloop/eager.py``)."""
    existing: WireFetch | None = getattr(exchange, "_arb_wire_fetch", None)
    if existing is not None:
        return existing
    ccxt_fetch: WireFetch = exchange.fetch

    async def wire_fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        # aiohttp's request timeout cancels the task current when it is entered: in an order's first step
        # started at once (eventloop/eager.py) that is still its caller's, so it yields to its own first.
        await in_own_task()
        return await ccxt_fetch(url, method, headers, body)

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        capturing = _CAPTURING.get()
        if capturing == "any" or (capturing == "write" and method.upper() != "GET"):
            raise Captured(url, method, headers, body)
        through = _WRITES_THROUGH.get()
        with time_held():  # in a simulation, a request on the wire (to the sandbox) takes no market time
            if through is not None and method.upper() != "GET":
                return await through(url, method, headers, body)
            return await wire_fetch(url, method, headers, body)

    exchange.fetch = fetch
    exchange._arb_wire_fetch = wire_fetch
    return wire_fetch


@contextmanager
def writes_through(send: WireFetch) -> Iterator[None]:
    """Within (this task): each non-GET request of an intercepted exchange written by ``send`` instead of
    ccxt's own ``fetch``, which it must answer as (what ccxt's handling of the answer returns or raises)."""
    token = _WRITES_THROUGH.set(send)
    try:
        yield
    finally:
        _WRITES_THROUGH.reset(token)


async def captured(capture: Capture, call: Awaitable[Any]) -> Captured | None:
    """Run a ccxt call with its next request (``"write"``: its next non-GET; ``"any"``) captured instead of
    sent; None if it returned without making one. Whatever else the call raises is raised."""
    token = _CAPTURING.set(capture)
    try:
        await call
    except Captured as cap:
        return cap
    finally:
        _CAPTURING.reset(token)
    return None
