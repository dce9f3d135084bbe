"""What the lifecycle starts beside the decision loop to watch the run, each a supervised task or hook: the
kill-switch file, the risk gate's events told to every listener (incidents, the monitor's alerts)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from arb.execution.risk import RiskEvent, RiskGate


async def watch_kill_switch(risk: RiskGate, every_s: float = 1.0) -> None:
    """Look for the kill-switch file once a second of the run's clock, not only when a trade is tried: its
    incident starts and ends (and its alerts go out) within a second of the file appearing or going."""
    while True:
        risk.kill_switch_engaged()
        await asyncio.sleep(every_s)


def told_to_all(*hooks: Callable[[RiskEvent], None]) -> Callable[[RiskEvent], None]:
    """One risk-event hook that tells each of ``hooks`` in turn."""
    def told(event: RiskEvent) -> None:
        for hook in hooks:
            hook(event)
    return told
