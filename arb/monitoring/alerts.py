"""Alerts to a trader's phone or chat through apprise: one URL per destination (``tgram://``, ``slack://``,
``discord://``, ``mailto://``, ``json://`` for any webhook...), from ``[monitoring] alert_urls`` and
``$ARB_ALERT_URLS``.

Events: a **halt** (the executor stopped trading on a pair it could not hedge), a **breaker trip**, the
**kill switch**, the **daily loss limit** reached, credentials refused (all :class:`~arb.execution.risk.RiskEvent`
from the risk gate's hook), and a **stale venue** (a book that went silent past ``stale_after_ms``, noticed
by :class:`StaleBooks` on the monitor's timer).

Delivery never touches the hot path: :meth:`Alerts.publish` puts the alert on a queue and returns; one
daemon thread delivers, URL by URL. A delivery that fails is logged once per destination and kind of
failure (then counted in :attr:`Alerts.failures`), never raised. URLs are secrets (bot tokens): only their
scheme is ever logged, and apprise's own log, which can quote them, is silenced.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import apprise

from arb.config.secrets import mask_alert_url
from arb.execution.risk import RiskEvent
from arb.marketdata.book import Health
from arb.runtime.depletion import Depletion

log = logging.getLogger(__name__)
THREAD = "arb-alerts"


class _NotFromAlerts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != THREAD


# Apprise, and urllib3 underneath it, log the URLs they send to (host, path: a webhook's token): ours says
# what failed, masked. Only the alert thread's records are dropped; other users of urllib3 keep theirs.
logging.getLogger("apprise").disabled = True
for _name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.poolmanager", "urllib3.util.retry",
              "urllib3.response"):
    logging.getLogger(_name).addFilter(_NotFromAlerts())


@dataclass(frozen=True, slots=True)
class Alert:
    # halt | breaker_open | kill_switch | daily_loss_limit | auth_failed | stale_venue | inventory_depleted, and
    # a clearing: kill_switch_cleared | inventory_depleted_cleared; transfer_planned | transfer_failed
    kind: str
    detail: str
    venue: str | None = None


class Alerts:
    """Deliveries to every URL, in the background. :meth:`close` waits (bounded) for what is queued."""

    def __init__(self, urls: Sequence[str], *, title: str = "arb") -> None:
        self.title = title
        self._targets: list[tuple[str, Any]] = []  # (masked URL, apprise's service for it)
        for url in urls:
            # The service itself, not an ``Apprise`` around it: that sends from a thread pool of its own,
            # whose log records the filter above could not tell from anyone else's.
            target = apprise.Apprise.instantiate(url)
            if target is None:  # config validation (arb/config.py) refused these already
                raise ValueError(f"not an alert URL apprise can deliver to: {mask_alert_url(url)}")
            self._targets.append((mask_alert_url(url), target))
        self._queue: queue.SimpleQueue[Alert | None] = queue.SimpleQueue()
        self.sent: Counter[str] = Counter()  # deliveries by alert kind (every URL)
        self.failures: Counter[tuple[str, str]] = Counter()  # (masked URL, failure kind) -> deliveries
        self._thread = threading.Thread(target=self._deliver, name=THREAD, daemon=True)
        self._thread.start()

    @property
    def destinations(self) -> list[str]:
        """The URLs, masked."""
        return [shown for shown, _ in self._targets]

    def publish(self, alert: Alert) -> None:
        """Queue ``alert`` for delivery; returns at once, from any thread."""
        self._queue.put(alert)

    def risk_event(self, event: RiskEvent) -> None:
        """The risk gate's hook (``RiskGate.on_event``), with what to do next where there is a next step."""
        step = NEXT_STEP.get(event.kind)
        self.publish(Alert(event.kind, f"{event.detail}. Next: {step}" if step else event.detail, event.venue))

    def depletion(self, change: Depletion) -> None:
        """The inventory watch's hook: a depletion, with what to do, or its clearing."""
        if change.started:
            self.publish(Alert("inventory_depleted", f"{change.describe()}. Next: {change.next_step()}", change.venue))
        else:
            self.publish(Alert("inventory_depleted_cleared", change.describe(), change.venue))

    def transfer_planned(self, line: str, venue: str) -> None:
        """Rebalancing planned a transfer it does not make (``[rebalance] transfers = "plan"``): what to move."""
        self.publish(Alert("transfer_planned", f"{line}. Next: make the transfer (or let arb: "
                           "[rebalance] transfers = \"auto\", the addresses in the environment), or widen the band",
                           venue))

    def transfer_failed(self, line: str, venue: str) -> None:
        """An automatic transfer the venue refused or failed, or whose outcome is unknown (``runtime/rebalance.py``)."""
        self.publish(Alert("transfer_failed", line, venue))

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (waiting at most ``timeout_s``), then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("alerts still being delivered after %.0f s; the rest are dropped at exit", timeout_s)

    def _deliver(self) -> None:
        while (alert := self._queue.get()) is not None:
            body = alert.detail if alert.venue is None or alert.venue in alert.detail else f"{alert.venue}: {alert.detail}"
            for shown, target in self._targets:
                try:
                    ok = bool(target.notify(body=body, title=f"{self.title}: {alert.kind.replace('_', ' ')}",
                                            notify_type=apprise.NotifyType.FAILURE))
                    failure = None if ok else "refused or unreachable"
                except Exception as exc:  # noqa: BLE001 - a delivery must never end the thread
                    failure = type(exc).__name__
                if failure is None:
                    self.sent[alert.kind] += 1
                    continue
                self.failures[(shown, failure)] += 1
                if self.failures[(shown, failure)] == 1:
                    log.warning("alert delivery to %s failed (%s); further failures like it are counted, "
                                "not logged", shown, failure)


# What a trader does about an alert, where the alert alone does not say it.
NEXT_STEP = {
    "halt": "the run has stopped; flatten the unhedged amount on that venue, then start arb again",
    "kill_switch": "no new trades until the kill-switch file is removed (engaged by an operator: until the run is "
                   "restarted)",
    "daily_loss_limit": "no new trades until the next UTC day, or restart with a higher daily_loss_limit",
    "auth_failed": "check the venue's API key and secret in the environment, then restart",
}


class StaleBooks:
    """Which venues' books went stale since the last look: one ``stale_venue`` alert per book each time it
    goes stale (not again while it stays so)."""

    def __init__(self) -> None:
        self._stale: set[tuple[str, str]] = set()

    def changes(self, books: Iterable[dict[str, object]]) -> list[Alert]:
        """``books``: the snapshot's book rows (``RunView.snapshot()["books"]``)."""
        alerts = []
        now_stale = set()
        for book in books:
            key = (str(book["venue"]), str(book["symbol"]))
            if book["health"] == Health.STALE.value:
                now_stale.add(key)
                if key not in self._stale:
                    alerts.append(Alert("stale_venue", f"{key[0]} {key[1]}: no book update for "
                                        f"{book['age_ms']} ms", key[0]))
        self._stale = now_stale
        return alerts
