"""Keeping a live venue's order line warm: a ping whenever it has been idle for a while.

A venue closes a connection left idle (often after 15 s or more); without pings the first order of a run, a
second order sent while another is in flight, and any order after a quiet spell would first pay a TCP and
TLS handshake.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from arb.errors import ArbError

log = logging.getLogger(__name__)
# Pings an idle order line well before a venue's keep-alive timeout closes it (often 15 s or more).
KEEP_WARM_IDLE_S = 10.0


class Pinged(Protocol):
    """What keeping warm needs of a venue (:class:`arb.venues.live.venue.LiveVenue`)."""

    name: str
    exchange: Any
    last_request: float  # monotonic seconds: when a request last went to the venue

    async def ping(self, connections: int = 1) -> None: ...


async def keep_warm(venue: Pinged, monotonic: Callable[[], float], idle_s: float, *, connections: int,
                    sleep: Callable[[float], Awaitable[None]]) -> None:
    """Ping ``venue`` now (``connections`` connections at once) and again after ``idle_s`` without a request.
    Runs until cancelled; a failed ping is logged (once per kind of failure) and the next one tried
    ``idle_s`` later."""
    if not venue.exchange.has.get("fetchTime"):
        log.info("%s: no time endpoint in ccxt; connections are not kept warm", venue.name)
        return
    failed: set[str] = set()
    while True:  # the first pings at once: nothing has opened the order line yet
        try:
            await venue.ping(connections)
        except ArbError as exc:
            venue.last_request = monotonic()  # not again at once: the next try is idle_s away
            if type(exc).__name__ not in failed:
                failed.add(type(exc).__name__)
                log.warning("%s: keeping the connection warm failed: %s", venue.name, type(exc).__name__)
        while (wait := idle_s - (monotonic() - venue.last_request)) > 0:
            await sleep(wait)
