"""One run's monitoring: the Prometheus endpoint and the alerts, kept current on the run's event loop.

Every ``interval_s`` of wall time (a simulation's loop runs on market time, as the status view explains)
the monitor takes the run's snapshot once (:meth:`RunView.snapshot <arb.runtime.view.RunView.snapshot>`),
publishes it to the metrics and looks for books that went stale; the risk gate's events reach the alerts
as they happen (``RiskGate.on_event``). At the end of the run :meth:`Monitor.finish` publishes the final
numbers and delivers the alerts still queued; the metrics endpoint keeps serving the finished run until
:meth:`Monitor.close` (``arb run`` exits right after its summary, which ends it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from arb.config import Config
from arb.execution.risk import RiskEvent
from arb.monitoring.alerts import Alerts, StaleBooks
from arb.monitoring.metrics import RunMetrics
from arb.runtime.depletion import Depletion
from arb.runtime.supervisor import Spawn
from arb.runtime.view import RunView

INTERVAL_S = 1.0


class Monitor:
    def __init__(self, view: RunView, *, metrics_port: int | None = None, alert_urls: Sequence[str] = (),
                 title: str = "arb", interval_s: float = INTERVAL_S) -> None:
        self.view = view
        self.metrics_port = metrics_port
        self.metrics = RunMetrics(view) if metrics_port is not None else None
        self.alerts = Alerts(alert_urls, title=title) if alert_urls else None
        self.interval_s = interval_s
        self._stale = StaleBooks()
        self._stopped = threading.Event()

    @classmethod
    def for_config(cls, config: Config, view: RunView, *, title: str) -> Monitor | None:
        """The monitor ``[monitoring]`` asks for; None when it asks for nothing (the default)."""
        m = config.monitoring
        if m.metrics_port is None and not m.alert_urls:
            return None
        return cls(view, metrics_port=m.metrics_port, alert_urls=m.alert_urls, title=title)

    def start(self, spawn: Spawn) -> str:
        """Serve the metrics, take the first snapshot and keep them current; what was started, for a
        start-up line."""
        started = []
        if self.metrics is not None and self.metrics_port is not None:
            port = self.metrics.serve(self.metrics_port)
            started.append(f"metrics on http://127.0.0.1:{port}/metrics")
        if self.alerts is not None:
            started.append(f"alerts to {len(self.alerts.destinations)} destination(s)")
        self.tick()
        spawn("monitor", self._loop)
        return ", ".join(started)

    def risk_event(self, event: RiskEvent) -> None:
        """The risk gate's hook: queued for delivery, never delivered here."""
        if self.alerts is not None:
            self.alerts.risk_event(event)

    def depletion(self, change: Depletion) -> None:
        """The inventory watch's hook (through the engine): queued for delivery, never delivered here."""
        if self.alerts is not None:
            self.alerts.depletion(change)

    def transfer_planned(self, line: str, venue: str) -> None:
        """Rebalancing's hook (through the engine), for a plan it does not make: queued, never delivered here."""
        if self.alerts is not None:
            self.alerts.transfer_planned(line, venue)

    def transfer_failed(self, line: str, venue: str) -> None:
        """Rebalancing's hook for an automatic transfer that failed or whose outcome is unknown: queued."""
        if self.alerts is not None:
            self.alerts.transfer_failed(line, venue)

    def tick(self) -> None:
        snapshot = self.view.snapshot()
        if self.metrics is not None:
            self.metrics.refresh(snapshot)
        if self.alerts is not None:
            for alert in self._stale.changes(snapshot["books"]):
                self.alerts.publish(alert)

    async def finish(self) -> None:
        """The run has ended: publish its final numbers and deliver what is queued (waiting in a thread:
        a webhook may be served by this very loop)."""
        self._stopped.set()
        self.tick()
        if self.alerts is not None:
            await asyncio.to_thread(self.alerts.close)

    def close(self) -> None:
        """Stop serving the metrics."""
        if self.metrics is not None:
            self.metrics.close()

    async def _loop(self) -> None:
        while not await asyncio.to_thread(self._stopped.wait, self.interval_s):
            self.tick()
