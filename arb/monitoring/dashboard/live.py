"""A running engine's dashboard: its live figures, taken on the engine's loop, served from another thread.

The engine's objects (books, funnel, risk gate) are changed by the engine's loop only; reading them from
the web server's thread could catch a dict mid-change. So a supervised task on the engine's loop takes the
run's :meth:`RunView.snapshot <arb.runtime.view.RunView.snapshot>` once a wall-clock second (like the
status view, it waits in a worker thread: a simulation's loop time is market time) and hands the finished
JSON-able dict to the :class:`~arb.monitoring.dashboard.server.DashboardServer`, with each book's mid (the
valuation rule's marks, :func:`arb.positions.mid`, as the engine takes them at the run's end) and the run's
incidents (``runtime/incidents.py``) and its controls (``runtime/operator.py``: the symbols, which are
paused, the kill switch) as they stand. Taking it costs one pass over a handful of books and counters; the
database is read by the server's thread, never here.

The controls' token is read from the environment (``ARB_DASHBOARD_TOKEN``) once, at the start, and handed
to the server only: it is never logged, printed or stored. Without it the controls are off, and the page
says why.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

from arb.monitoring.dashboard.server import REFRESH_S, TOKEN_ENV, DashboardServer
from arb.positions import mid
from arb.runtime.incidents import IncidentLog
from arb.runtime.operator import OperatorDesk
from arb.runtime.supervisor import Spawn
from arb.runtime.view import RunView


class LiveDashboard:
    """The dashboard of one run of a running engine (``[monitoring] dashboard_port``)."""

    def __init__(self, db_url: str, port: int, *, refresh_s: float = REFRESH_S,
                 incidents: IncidentLog | None = None, operator: OperatorDesk | None = None) -> None:
        self.db_url = db_url
        self.port = port
        self.refresh_s = refresh_s
        self.incidents = incidents  # the run's incident log (the engine's), read on the engine's loop
        self.operator = operator  # the controls' requests go there; its state is read on the engine's loop
        self.server: DashboardServer | None = None
        self._view: RunView | None = None
        self._stopped = threading.Event()
        self._last = (time.monotonic(), 0)  # wall time and book updates at the last publish: the rate

    def start(self, run_id: int, view: RunView, spawn: Spawn) -> str:
        """Serve run ``run_id`` (raises if the port cannot be had) and publish its figures from a task of
        ``spawn`` (the engine's supervisor); returns the page's URL."""
        server = DashboardServer(self.db_url, run_id, self.port, refresh_s=self.refresh_s, controls=self.operator,
                                 token=os.environ.get(TOKEN_ENV) or None)
        server.start()
        self.server, self._view = server, view
        self._publish()
        spawn("dashboard", self._loop)
        return self.server.url

    def stop(self) -> None:
        """Publish the run's last figures and stop serving; pages keep them (the server's ``final`` event)."""
        self._stopped.set()
        if self.server is None:
            return
        self._publish()
        self.server.stop()
        self.server = None

    async def _loop(self) -> None:
        while not await asyncio.to_thread(self._stopped.wait, self.refresh_s):
            self._publish()

    def _publish(self) -> None:
        assert self.server is not None and self._view is not None
        now = time.monotonic()
        then, count = self._last
        updates = self._view.funnel.book_updates
        rate = (updates - count) / (now - then) if now > then else 0.0
        self._last = (now, updates)
        marks = {(book.venue, book.symbol): mid(book.best_bid(), book.best_ask()) for book in self._view.books}
        incidents = [i.as_row() for i in self.incidents.incidents] if self.incidents is not None else []
        self.server.publish({"view": self._view.snapshot(), "updates_per_s": rate, "marks": marks,
                             "incidents": incidents,
                             "controls": self.operator.state() if self.operator is not None else None})
