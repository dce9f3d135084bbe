"""Running the engine in-process against the in-process sandbox, for fault and status tests.

- :func:`paper_config`: the shipped config switched to ``paper`` on a trimmed real capture (a simulation
  paced at ``speed`` x real time), with fees at zero and thresholds low enough that the window trades
  several times a second (the faults must hit a run that is actually trading), and the kill-switch file in
  ``tmp_path``;
- :func:`rehearsal_config`: the same in mode ``live``: a real-time rehearsal, where the sandbox plays its
  side of the capture in real time and the engine reads it over the sandbox's WebSocket through the Gate
  feed, as it would a real venue (the path feed, proxy and WebSocket faults need).
- :class:`SpyEngine`: the real :class:`~arb.engine.Engine`, plus a record of every book's health at each
  detection and at each hand-over to the executor, kept by its decision loop (:class:`WatchedLoop`). It
  changes no behaviour: it only looks.
- :func:`until`: wait for a condition with a bounded deadline (polling; the engine's counters have no
  events to wait on).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

from arb.config import Config, load_config
from arb.detection import Opportunity, Rejection
from arb.engine import Engine
from arb.marketdata.book import Health, OrderBook
from arb.runtime.decisions import DecisionLoop
from arb.venues.gate.sandbox import Sandbox

from .helpers import config_with, trimmed_capture

SYMBOL = "LINK/USDT"
PAIR = "LINK_USDT"


def paper_config(tmp_path: Path, start: str, end: str, *, speed: float, extra: dict[str, str] | None = None,
                 mode: str = "paper") -> Config:
    capture = trimmed_capture(tmp_path, start, end)
    replacements = {
        'mode = "replay"': f'mode = "{mode}"',
        'capture = "bundled:linkusdt-binance-huobi-2021-08-20"': f'capture = "{capture}"',
        "speed = 0 ": f"speed = {speed} ",
        'min_edge_bps = "0.5"': 'min_edge_bps = "0.1"',
        'min_profit = "0.01"': 'min_profit = "0.001"',
        'kill_switch_file = "arb.kill"': f'kill_switch_file = "{tmp_path / "arb.kill"}"',
        'status = "auto"': 'status = "off"',
        **(extra or {}),
    }
    return load_config(config_with(tmp_path, fee="0", extra=replacements))


def rehearsal_config(tmp_path: Path, start: str, end: str, *, speed: float,
                     extra: dict[str, str] | None = None) -> Config:
    return paper_config(tmp_path, start, end, speed=speed, extra=extra, mode="live")


@dataclass(frozen=True)
class Handover:
    """One opportunity given to the executor, and the health of both of its books at that moment."""

    at: float  # time.monotonic()
    buy: tuple[str, Health]
    sell: tuple[str, Health]

    @property
    def all_live(self) -> bool:
        return self.buy[1] is Health.LIVE and self.sell[1] is Health.LIVE


class WatchedLoop(DecisionLoop):
    """The decision loop, reporting to ``spy`` the books' health at every detection and every hand-over."""

    def __init__(self, spy: SpyEngine, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spy = spy

    def detect(self, symbol: str) -> Opportunity | Rejection | None:
        for name in self.trading.venues.venues:
            self.spy.health_at_detection[(name, self.spy.health(name, symbol))] += 1
        return super().detect(symbol)

    async def execute(self, opp: Opportunity) -> None:
        spy = self.spy
        spy.handovers.append(Handover(time.monotonic(), (opp.buy_venue, spy.health(opp.buy_venue, opp.symbol)),
                                      (opp.sell_venue, spy.health(opp.sell_venue, opp.symbol))))
        hook, spy.at_next_handover = spy.at_next_handover, None
        if hook is not None:
            hook()
        await super().execute(opp)


class SpyEngine(Engine):
    """The engine, watched: book health at every detection and at every hand-over to the executor."""

    watched_loop: type[WatchedLoop] = WatchedLoop

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decision_loop = partial(self.watched_loop, self)
        self.health_at_detection: Counter[tuple[str, Health]] = Counter()
        self.handovers: list[Handover] = []
        # Called once, at the next hand-over, right before the executor plans and sends: lets a test start
        # a fault exactly when a pair goes out (a 5xx burst that must hit a placement, not a balance read).
        self.at_next_handover: Callable[[], None] | None = None

    def health(self, venue: str, symbol: str = SYMBOL) -> Health:
        return self.books.book(venue, symbol).health(self.clock.now_ms())

    def book(self, venue: str, symbol: str = SYMBOL) -> OrderBook:
        return self.books.book(venue, symbol)

    def sandbox(self, venue: str = "gate") -> Sandbox:
        """The in-process sandbox serving ``venue`` (once the venues are open)."""
        assert self.venues is not None, "venues not open yet"
        return cast(Sandbox, self.venues.sandboxes[venue].sandbox)


async def until(condition: Callable[[], bool], what: str, timeout: float = 60.0, *, run: asyncio.Task[Any] | None = None,
                ) -> None:
    """Return once ``condition()`` holds; fail after ``timeout`` s, or at once if ``run`` ended first. The
    timeout only bounds a hang: the slowest default wait took 5.4 s of a real-time run on a busy machine, and a
    loaded CI disk stretches it further."""
    deadline = time.monotonic() + timeout
    while not condition():
        if run is not None and run.done():
            run.result()  # surfaces the engine's exception, if that is why
            raise AssertionError(f"the run ended before: {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        await asyncio.sleep(0.005)
