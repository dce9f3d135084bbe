"""The run's incidents, each with when it started and, once it cleared, when it ended (market clock).

Fed by the risk gate's events (``RiskGate.on_event``): a kill switch (its file or an operator) starts one and
``kill_switch_cleared`` (the file removed) ends it; a halt, a daily loss limit reached, a breaker opening or
credentials refused start one that lasts. The run's stop reason is what stopped it (a halt, a signal, an
error) or an incident still open at its end, never one that cleared: a kill switch removed mid-run leaves
the run to go on and end as it would have.

Fed too by the inventory watch (``runtime/depletion.py``): a direction whose venue can no longer fund
``max_size`` is an ``inventory_depleted`` incident, ended when it can again. It does not stop trading (the
other direction, and smaller sizes, still trade), so it is never the stop reason.

And by an operator's controls (``runtime/operator.py``, the dashboard's): a symbol paused is a
``symbol_paused`` incident, ended when it is resumed; every resting quote cancelled is a ``quotes_cancelled``
one, over as it happens; the kill switch engaged is the risk gate's ``kill_switch``. None of the first two
stops the run, so neither is its stop reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from arb.eventloop.clock import from_ms
from arb.execution.risk import RiskEvent
from arb.runtime.depletion import Depletion

# An event kind -> the incident kind it ends.
CLEARS = {"kill_switch_cleared": "kill_switch", "margin_halt_cleared": "margin_halt", "margin_alert_cleared": "margin_alert",
          "symbol_resumed": "symbol_paused"}
DEPLETED = "inventory_depleted"
# Leave the run trading: never its stop reason.
NOT_STOPPING = frozenset({DEPLETED, "margin_alert", "position_mismatch", "symbol_paused", "quotes_cancelled"})


@dataclass(slots=True)
class Incident:
    kind: str
    detail: str
    started_at: datetime
    ended_at: datetime | None = None
    key: str | None = None  # which one of its kind a clearing ends (a depletion's venue, symbol and side)

    def as_row(self) -> dict[str, object]:
        return {"kind": self.kind, "detail": self.detail, "started_at": self.started_at.isoformat(),
                "ended_at": self.ended_at.isoformat() if self.ended_at else None}


class IncidentLog:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.incidents: list[Incident] = []

    def on_risk_event(self, event: RiskEvent) -> None:
        now = self._clock()
        ends = CLEARS.get(event.kind)
        if ends is None:
            self.incidents.append(Incident(event.kind, event.detail, now, key=event.symbol))
            return
        for incident in self.incidents:  # a symbol's clearing ends that symbol's incident only
            if incident.kind == ends and incident.ended_at is None and incident.key == event.symbol:
                incident.ended_at = now

    def note(self, kind: str, detail: str) -> None:
        """An incident that is over as it happens (an operator's cancel of every quote)."""
        now = self._clock()
        self.incidents.append(Incident(kind, detail, now, now))

    def on_depletion(self, change: Depletion) -> None:
        """The inventory watch's hook: a depletion starts an incident, its clearing ends it, each at the time
        it began (the watch says it once it has held)."""
        now = from_ms(change.since_ms)  # when it began, on the run's clock, not when it was confirmed
        if change.started:
            self.incidents.append(Incident(DEPLETED, change.describe(), now, key=change.key))
            return
        for incident in self.incidents:
            if incident.kind == DEPLETED and incident.key == change.key and incident.ended_at is None:
                incident.ended_at = now

    def still_open(self) -> Incident | None:
        """The latest incident not cleared that stops trading, if any."""
        return next((i for i in reversed(self.incidents) if i.ended_at is None and i.kind not in NOT_STOPPING),
                    None)
