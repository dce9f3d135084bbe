"""What an operator asks of a running engine from outside its loop: pause or resume a symbol, engage the kill
switch, cancel every resting quote (the dashboard's controls, ``monitoring/dashboard/server.py``).

A request is taken from any thread (the dashboard serves from its own) and only queued; the engine's loop
applies it at its next look, once a check interval of the run's clock (:meth:`OperatorDesk.watch`, on the
kill-switch file's interval: market time in a simulation), through the engine's own paths: the risk gate's
kill switch (``RiskGate.engage_kill_switch``, which the decision loop and the quoting desk's guard already
obey), its per-symbol pause (``RiskGate.pause``: the executor's risk check refuses the symbol's pairs as
``paused:<symbol>``, the quoting desk pulls its quotes and places none), and the quoting desk's cancels
(``QuotingDesk.pull``). Each action is an incident of the run (``runtime/incidents.py``: the risk gate's
events, or a note), which the dashboard lists live and the run's summary stores.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Sequence
from dataclasses import dataclass

from arb.eventloop.simloop import tick
from arb.execution.risk import RiskGate
from arb.runtime.incidents import IncidentLog
from arb.runtime.quoting import QuotingDesk

log = logging.getLogger("arb.engine")

ACTIONS = ("pause", "resume", "kill_switch", "cancel_quotes")
CHECK_S = 1.0  # the kill-switch file's interval (engine/watchers.watch_kill_switch): the same promise


@dataclass(frozen=True, slots=True)
class Request:
    action: str  # one of ACTIONS
    symbol: str | None  # pause and resume: which
    who: str  # said in the incident: "dashboard"


class OperatorDesk:
    """The run's operator requests, queued from any thread and applied on the engine's loop."""

    def __init__(self, symbols: Sequence[str], maker_symbols: Sequence[str], incidents: IncidentLog) -> None:
        self.symbols = tuple(symbols)
        self.maker_symbols = frozenset(maker_symbols)
        self.incidents = incidents
        self.risk: RiskGate | None = None  # set once trading is wired; requests wait in the queue until then
        self.desk: QuotingDesk | None = None
        self._requests: queue.SimpleQueue[Request] = queue.SimpleQueue()

    def submit(self, action: str, symbol: str | None = None, who: str = "dashboard") -> None:
        """Queue ``action`` (any thread); a request that names no known action or symbol is a ValueError whose
        message is the one line to answer with."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action[:40]!r}: one of {', '.join(ACTIONS)}")
        if action in ("pause", "resume"):
            if symbol not in self.symbols:
                shown = "no symbol" if symbol is None else f"symbol {symbol[:40]!r}"
                raise ValueError(f"{action}: {shown} is not one this run trades ({', '.join(self.symbols)})")
        elif symbol is not None:
            raise ValueError(f"{action} takes no symbol")
        if action == "cancel_quotes" and not self.maker_symbols:
            raise ValueError("cancel_quotes: this run quotes no maker symbol, so no quote rests")
        self._requests.put(Request(action, symbol, who))

    def pending(self) -> bool:
        return not self._requests.empty()

    async def watch(self, every_s: float = CHECK_S) -> None:
        """Apply what was asked once every ``every_s`` of the run's clock."""
        while True:
            await self.apply()
            await tick(every_s, lambda: not self.pending())

    async def apply(self) -> int:
        """Apply every queued request, in order, through the engine's paths; how many were applied (none
        before trading is wired: they wait)."""
        risk = self.risk
        if risk is None:
            return 0
        applied = 0
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return applied
            applied += 1
            await self._apply(risk, request)

    async def _apply(self, risk: RiskGate, request: Request) -> None:
        by = f"by the operator ({request.who})"
        log.warning("operator: %s%s %s", request.action, f" {request.symbol}" if request.symbol else "", by)
        if request.action == "kill_switch":
            risk.engage_kill_switch(f"operator: {request.who}")  # the guard pulls every quote in its interval
            if self.desk is not None:
                await self.desk.close("kill_switch")
        elif request.action == "pause" and request.symbol is not None:
            risk.pause(request.symbol, f"{request.symbol} paused {by}: no new pairs or quotes")
            if self.desk is not None and request.symbol in self.maker_symbols:
                await self.desk.pull("paused", request.symbol)
        elif request.action == "resume" and request.symbol is not None:
            risk.resume(request.symbol, f"{request.symbol} resumed {by}")
        elif request.action == "cancel_quotes":
            self.incidents.note("quotes_cancelled", f"every resting quote cancelled {by}")
            if self.desk is not None:
                await self.desk.pull("operator")

    def state(self) -> dict[str, object]:
        """What the dashboard shows of the controls: the symbols, which are paused, the kill switch (read on
        the engine's loop, as ``live.py`` publishes)."""
        risk = self.risk.state() if self.risk is not None else None
        return {"symbols": list(self.symbols), "paused": sorted(risk.paused) if risk else [],
                "kill_switch": risk.kill_switch if risk else False, "quotes": bool(self.maker_symbols),
                "wired": risk is not None}
