"""The check that lets an exchange's own order builder (``build_limit_order``, e.g. Gate's) take over from ccxt.

ccxt stays the reference: the first order of each shape (symbol, side, time in force) is built by both, at
one pinned instant (:func:`pinned_nonce`), and ccxt's build is the one sent. Identical URL, method, signed
headers and body let the builder build that shape's next orders; any difference leaves the shape to ccxt
for good. Either verdict is logged once, when it is reached.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from arb.domain.market import Side
from arb.domain.venue import OrderRequest
from arb.venues.live.wire import WireRequest

log = logging.getLogger(__name__)

Shape = tuple[str, Side, str]  # symbol, side, time in force


def shape_of(request: OrderRequest) -> Shape:
    return request.symbol, request.side, request.time_in_force


class BuilderCheck:
    """Per shape: whether the exchange's own builder agreed with ccxt's build of the same order."""

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.agrees: dict[Shape, bool] = {}

    def verdict(self, request: OrderRequest) -> bool | None:
        """True: the builder builds this shape; False: ccxt does, for good; None: not compared yet."""
        return self.agrees.get(shape_of(request))

    def judge(self, request: OrderRequest, built: Any, ccxt_build: WireRequest) -> bool:
        """Compare the two builds of ``request`` (signed at one instant) and keep the verdict for its shape.
        ``built`` is the exchange builder's own type (Gate's ``BuiltOrder``): URL, method, headers, body."""
        agrees = ((built.url, built.method, built.headers, built.body)
                  == (ccxt_build.url, ccxt_build.method, ccxt_build.headers, ccxt_build.body))
        self.agrees[shape_of(request)] = agrees
        if agrees:
            log.info("%s: %s %s %s orders are built by arb's own builder from now on (it matched ccxt's build)",
                     self.venue, request.symbol, request.side.value, request.time_in_force)
        else:
            log.warning("%s: arb's order builder and ccxt's differ for %s %s %s; those orders are built by ccxt",
                        self.venue, request.symbol, request.side.value, request.time_in_force)
        return agrees


@contextmanager
def pinned_nonce(exchange: Any) -> Iterator[int]:
    """The exchange's nonce held at one instant while both builds sign: their headers can then be compared.
    A concurrent request signed meanwhile gets this instant too: harmless. Pins nest (two first orders of a
    shape compared at once, a maker route's first two hedges): an inner pin takes the outer one's instant,
    and the nonce is the exchange's own again only when the last pin ends (a count on the exchange)."""
    pins: int = getattr(exchange, _PINS, 0)
    nonce: int = exchange.nonce()  # inside a pin: the pinned instant
    if pins == 0:
        exchange.nonce = lambda: nonce
    setattr(exchange, _PINS, pins + 1)
    try:
        yield nonce
    finally:
        left = getattr(exchange, _PINS) - 1
        setattr(exchange, _PINS, left)
        if left == 0:
            del exchange.nonce


_PINS = "_arb_nonce_pins"
