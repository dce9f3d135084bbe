"""A cheap latency recorder for the hot path: append integers, summarize at the end."""

from __future__ import annotations

from array import array
from decimal import ROUND_HALF_EVEN, Decimal


class LatencyRecorder:
    def __init__(self) -> None:
        self._ns = array("q")

    def add(self, ns: int) -> None:
        self._ns.append(ns)

    def __len__(self) -> int:
        return len(self._ns)

    def samples(self, start: int = 0) -> array[int]:
        """A copy of the samples from ``start`` on, in the order added (metrics bucket the new ones)."""
        return self._ns[start:]

    def summary_us(self) -> dict[str, Decimal | int]:
        if not self._ns:
            return {}
        data = sorted(self._ns)

        def us(ns: int) -> Decimal:
            return (Decimal(ns) / 1000).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)

        def pct(p: float) -> Decimal:
            return us(data[min(len(data) - 1, int(p * len(data)))])

        return {"count": len(data), "p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "max": us(data[-1])}
