"""What the lifecycle starts beside the decision loop to watch the run, each a supervised task or hook: the
kill-switch file, the inventory watch's per-direction funding, the risk gate's events told to every listener
(incidents, the monitor's alerts)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from arb.config import Config
from arb.eventloop.simloop import every
from arb.execution.risk import RiskEvent, RiskGate
from arb.runtime.depletion import InventoryWatch
from arb.runtime.venues import MarginAccount


async def watch_kill_switch(risk: RiskGate, every_s: float = 1.0) -> None:
    """Look for the kill-switch file once a second of the run's clock, not only when a trade is tried: its
    incident starts and ends (and its alerts go out) within a second of the file appearing or going."""
    # The file is outside the run: no stretch of market time is idle for it (an operator puts it in wall time,
    # which a replay at speed 0 takes too). A quiet stretch takes one look, at its end (simloop.every).
    await every(every_s, risk.kill_switch_engaged)


def inventory_watch(config: Config, venues: Iterable[str],
                    margin: Mapping[str, MarginAccount] | None = None) -> InventoryWatch:
    """The run's inventory watch over ``venues``: each symbol's size (a maker symbol's is its ``quote_size``), a
    margin account's perpetuals (``margin``: venue -> account) selling on margin."""
    return InventoryWatch({s: config.symbols[s].size for s in config.engine.symbols}, venues,
                          size_keys={s: "quote_size" for s in config.maker_symbols},
                          margin={name: {s: settle for s, (_, settle) in account.markets.items()}
                                  for name, account in (margin or {}).items()})


def told_to_all(*hooks: Callable[[RiskEvent], None]) -> Callable[[RiskEvent], None]:
    """One risk-event hook that tells each of ``hooks`` in turn."""
    def told(event: RiskEvent) -> None:
        for hook in hooks:
            hook(event)
    return told
