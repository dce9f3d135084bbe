"""A maker run's quoting figures for the live surfaces (status view, metrics, dashboard's live part):
:func:`arb.store.maker_views.maker_now`, the figures the run summary prints, read from the run's database.

The query grows with the run, so the watch reads in a worker thread once a wall second (SQLite in WAL: the
writer on the loop is never blocked; the loop keeps trading meanwhile) and keeps the last figures read;
:meth:`RunView.snapshot <arb.runtime.view.RunView.snapshot>` takes them from here, so nothing on the run's
loop queries the database. :meth:`MakerWatch.finish` reads once more on the loop when the run has ended (the
desk has cancelled its quotes and settled its pairs): the last figures every surface shows are the summary's.
A read that fails (the database busy or away) is said once, the surfaces keep the last figures read, and the
watch reads again on its next tick: a display's read never stops a run that trades.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from arb.store.maker_views import MakerNow

log = logging.getLogger(__name__)

INTERVAL_S = 1.0


class MakerWatch:
    def __init__(self, read: Callable[[], MakerNow], interval_s: float = INTERVAL_S) -> None:
        self._read = read  # maker_now in a session of its own (store/maker_views.read_maker_now)
        self.interval_s = interval_s
        self.latest: MakerNow | None = None  # replaced whole, on the run's loop
        self._stopped = threading.Event()

    def read_now(self) -> None:
        """Read on the caller's thread (the run's loop): at the start, and at the end."""
        self.latest = self._read()

    async def run(self) -> None:
        """Read in a worker thread every ``interval_s`` of wall time until :meth:`finish`."""
        self._stopped.clear()
        failing = False
        while not await asyncio.to_thread(self._stopped.wait, self.interval_s):
            try:
                figures = await asyncio.to_thread(self._read)
            except SQLAlchemyError as exc:
                if not failing:
                    log.warning("maker figures: reading the database failed (%s); the live surfaces show the "
                                "last read until it answers again", type(exc).__name__)
                failing = True
                continue
            if failing:
                log.info("maker figures: the database answers again")
                failing = False
            if self._stopped.is_set():  # finish() has read the final figures: these are older
                return
            self.latest = figures

    def finish(self) -> None:
        """The run has ended: stop reading on the timer and read the final figures now."""
        self._stopped.set()
        self.read_now()
