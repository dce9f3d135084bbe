"""The offset between our clock and Gate's, so every signed ``Timestamp`` is within Gate's 60 s window.

Gate rejects a private request whose ``Timestamp`` is more than 60 s from its own clock
(``REQUEST_EXPIRED``). We measure ``GET /spot/time`` at start and then every ``resync_interval_ms``,
taking the midpoint of the round trip as the instant the server read its clock. The offset uses ccxt's
sign convention (``options['timeDifference']``): ``offset = local - server``, so server time is
``local - offset``. Time comes from an injected ``now_ms`` so tests can drive it without sleeping.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

DEFAULT_RESYNC_INTERVAL_MS = 5 * 60 * 1000
# Gate's window is 60 s: warn well before a drift could start failing requests.
LARGE_OFFSET_WARN_MS = 10_000


class ServerClock:
    """Local clock corrected by the last measured server offset."""

    def __init__(
        self, now_ms: Callable[[], int], *, resync_interval_ms: int = DEFAULT_RESYNC_INTERVAL_MS
    ) -> None:
        self._now_ms = now_ms
        self.resync_interval_ms = resync_interval_ms
        self.offset_ms: int | None = None
        self.last_round_trip_ms: int | None = None
        self._synced_at_ms: int | None = None

    def __repr__(self) -> str:
        return f"ServerClock(offset_ms={self.offset_ms}, synced_at_ms={self._synced_at_ms})"

    def due(self) -> bool:
        """True before the first measurement and once the resync interval has passed."""
        if self._synced_at_ms is None:
            return True
        return self._now_ms() - self._synced_at_ms >= self.resync_interval_ms

    def record(self, sent_ms: int, server_ms: int, received_ms: int) -> int:
        """Store one measurement; returns the new offset."""
        if received_ms < sent_ms:
            raise ValueError(f"clock went backwards during measurement: {sent_ms} -> {received_ms}")
        midpoint = (sent_ms + received_ms) // 2
        self.offset_ms = midpoint - server_ms
        self.last_round_trip_ms = received_ms - sent_ms
        self._synced_at_ms = received_ms
        level = logging.WARNING if abs(self.offset_ms) >= LARGE_OFFSET_WARN_MS else logging.DEBUG
        log.log(level, "gate clock offset %d ms (round trip %d ms)", self.offset_ms, self.last_round_trip_ms)
        return self.offset_ms

    async def sync(self, fetch_server_ms: Callable[[], Awaitable[int | None]]) -> int:
        """Measure once with ``fetch_server_ms`` (``GET /spot/time``'s ``server_time``, ms)."""
        sent = self._now_ms()
        server = await fetch_server_ms()
        received = self._now_ms()
        if server is None:
            raise ValueError("GET /spot/time returned no server_time")
        return self.record(sent, int(server), received)

    def server_now_ms(self) -> int:
        """Our best estimate of Gate's clock now; the raw local clock until the first measurement."""
        return self._now_ms() - (self.offset_ms or 0)
