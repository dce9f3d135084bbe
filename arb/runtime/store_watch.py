"""Figures the live surfaces (status view, metrics, dashboard's live part) show that are the run summary's,
read from the run's database: a maker run's quoting (:func:`arb.store.maker_views.maker_now`) and a run's
holdings once it has traded a perpetual (:func:`arb.runtime.summary.holdings_now`).

The queries grow with the run, so a watch reads in a worker thread once a wall second (SQLite in WAL: the
writer on the loop is never blocked; the loop keeps trading meanwhile) and keeps the last figures read;
:meth:`RunView.snapshot <arb.runtime.view.RunView.snapshot>` takes them from here, so nothing on the run's
loop queries the database. What must be taken on the loop (the books' levels a valuation walks) is taken
there first: ``read()`` runs on the loop and returns the function the thread runs. :meth:`StoreWatch.finish`
reads once more on the loop when the run has ended (quotes cancelled, pairs settled): the last figures every
surface shows are the summary's. A read that fails (the database busy or away) is said once, the surfaces keep
the last figures read, and the watch reads again on its next tick: a display's read never stops a run that
trades.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

INTERVAL_S = 1.0


T = TypeVar("T")


class StoreWatch(Generic[T]):
    def __init__(self, what: str, read: Callable[[], Callable[[], T]], interval_s: float = INTERVAL_S) -> None:
        self.what = what  # "maker figures", "holdings": what a failing read's line names
        # On the loop: takes what the read needs from the run, and returns the database read (a session of
        # its own: store/maker_views.read_maker_now, runtime/summary.read_holdings) to run in the thread.
        self._read = read
        self.interval_s = interval_s
        self.latest: T | None = None  # replaced whole, on the run's loop
        self._stopped = threading.Event()

    def read_now(self) -> None:
        """Read on the caller's thread (the run's loop): at the start, and at the end."""
        self.latest = self._read()()

    async def run(self) -> None:
        """Read in a worker thread every ``interval_s`` of wall time until :meth:`finish`."""
        self._stopped.clear()
        failing = False
        while not await asyncio.to_thread(self._stopped.wait, self.interval_s):
            try:
                figures = await asyncio.to_thread(self._read())
            except SQLAlchemyError as exc:
                if not failing:
                    log.warning("%s: reading the database failed (%s); the live surfaces show the last read "
                                "until it answers again", self.what, type(exc).__name__)
                failing = True
                continue
            if failing:
                log.info("%s: the database answers again", self.what)
                failing = False
            if self._stopped.is_set():  # finish() has read the final figures: these are older
                return
            self.latest = figures

    def finish(self) -> None:
        """The run has ended: stop reading on the timer and read the final figures now."""
        self._stopped.set()
        self.read_now()
