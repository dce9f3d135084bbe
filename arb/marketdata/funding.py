"""What arb has heard of each perpetual's next funding: the latest funding line per venue and symbol.

A capture's funding lines (``CaptureFunding``: mark, announced rate, funding time) go to the simulated venues,
which pay them (``runtime/feeds.py``); they also reach arb, when arb receives them (the venue's feed clock, as a
book event does), here. The basis decision reads the latest (``runtime/basis.py``). A venue no funding line
was heard from has none: a live venue's announced rate is not read yet (only the payments it made).
"""

from __future__ import annotations

from arb.marketdata.capture import CaptureFunding


class FundingBoard:
    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], CaptureFunding] = {}

    def announce(self, venue: str, line: CaptureFunding) -> None:
        """``line`` received now for ``venue`` (arb's configured name): the latest for its symbol from now on."""
        self._latest[(venue, line.symbol)] = line

    def latest(self, venue: str, symbol: str) -> CaptureFunding | None:
        return self._latest.get((venue, symbol))
