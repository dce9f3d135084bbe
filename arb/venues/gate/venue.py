"""``GateVenue``: the live venue over :class:`~arb.venues.gate.exchange.GateExchange`, plus Gate's dead man's
switch (:class:`~arb.domain.venue.DeadMansSwitch`), which ccxt's unified API does not offer for Gate."""

from __future__ import annotations

from datetime import datetime

from arb.venues.live.venue import LiveVenue


class GateVenue(LiveVenue):
    """:class:`LiveVenue` with Gate's quirks (``adapter.live_venue``) and ``arm_cancel_all``."""

    cancels_on_silence = True

    async def arm_cancel_all(self, timeout_s: int, symbol: str | None = None) -> datetime | None:
        """``GateExchange.arm_cancel_all`` with Gate's errors translated by the venue's table, as every call."""
        trigger: datetime | None = await self._call("arm_cancel_all", timeout_s, symbol)
        return trigger
