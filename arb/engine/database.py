"""The run's database and its row: migrated and opened at the start, the row started (any run left
``running`` marked ``crashed``), and at the end ``completed`` or ``halted`` with its summary, or ``failed``
with its one-line reason.

A process that dies leaves its row ``running``; the next start (holding the lease) marks it ``crashed``
before reconciliation judges what that run left behind. A process forced out by a second Ctrl-C marks its
own row ``crashed`` as it leaves, saying so (``force_end``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from arb.config import Config
from arb.errors import StoreError
from arb.eventloop.clock import MarketClock, WallClock, from_ms
from arb.store import repo
from arb.store.db import file_identity, make_engine, make_session_factory, sqlite_file
from arb.store.lease import Holder
from arb.store.migrate import upgrade_to_head
from arb.store.models import Run

# The engine's records keep the engine's logger name, which log filters and JSON log consumers key on.
log = logging.getLogger("arb.engine")


def market_span(clock: WallClock | MarketClock, market_ms: int) -> dict[str, datetime | None]:
    """The run's market-time span so far (``market_ms``: the market time played). A replay's starts at its
    first event (its clock means nothing before that); paper and live market time is the wall clock."""
    if isinstance(clock, MarketClock):  # from the first event to the last one played
        return {"market_started_at": from_ms(clock.origin_ms), "market_ended_at": from_ms(market_ms)}
    return {"market_started_at": None, "market_ended_at": clock.now()}


class RunDatabase:
    """The database a run writes, migrated to the head revision and opened (call under the lease)."""

    def __init__(self, url: str) -> None:
        before, after = upgrade_to_head(url)
        if before != after:
            log.info("database schema %s: %s", "created" if before is None else f"upgraded from {before}", after)
        # An SQLite file deleted or replaced mid-run takes everything written with it; noticed at the end.
        self.file = sqlite_file(url)
        self._identity = file_identity(self.file) if self.file is not None else None
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)

    def start_run(self, holder: Holder, config: Config, mode: str, *, market_started_at: datetime | None,
                  market_kinds: dict[str, dict[str, str]] | None = None) -> tuple[int, list[Run]]:
        """The run's row, ``running``, and the runs it found still ``running`` and marked ``crashed``: holding
        the lease, their processes are gone (said before reconciliation judges what they left behind). Its
        market time starts at ``market_started_at`` (a simulation's first event), else when the run does.
        ``market_kinds`` (venue -> engine symbol -> kind, as the open venues report them: a live venue's from
        ccxt's markets) is kept with the config snapshot, where the inventory check reads it back."""
        started_at = datetime.now(UTC)
        snapshot = config.snapshot()
        if market_kinds is not None:
            snapshot["market_kinds"] = market_kinds
        with self.sessions.begin() as s:
            run_id: int = repo.start_run(
                s, mode=mode, config_snapshot=snapshot, started_at=started_at, pid=holder.pid,
                host=holder.host, market_started_at=market_started_at or started_at).id
            return run_id, repo.mark_crashed(s, found_by=run_id)

    def check_kept(self, run_id: int) -> None:
        """Raise :class:`StoreError` if the SQLite file was deleted or replaced during the run."""
        if self.file is not None and file_identity(self.file) != self._identity:
            raise StoreError(f"the database file {self.file} was deleted or replaced during the run: "
                             f"nothing of run {run_id} was kept")

    def end_run(self, run_id: int, summary: dict[str, Any], halted: str | None,
                span: dict[str, datetime | None]) -> None:
        with self.sessions.begin() as s:
            repo.end_run(s, run_id, ended_at=datetime.now(UTC), summary=summary, halted=halted, **span)

    def fail_run(self, run_id: int, reason: str, span: dict[str, datetime | None]) -> None:
        """The run ends ``failed``. If even that write fails, the row stays ``running`` and the next start
        marks it ``crashed``: the truth either way."""
        try:
            with self.sessions.begin() as s:
                repo.fail_run(s, run_id, reason=reason, ended_at=datetime.now(UTC), **span)
        except Exception as store_exc:  # noqa: BLE001 - the original error is the one to report
            log.warning("could not record run %d as failed: %s", run_id, store_exc.__class__.__name__)
        else:  # the error itself reaches the caller, and `arb` prints it once: here only for --debug logs
            log.debug("run %d failed: %s", run_id, repo.one_line(reason))

    def force_end(self, run_id: int, reason: str) -> bool:
        """The run is being forced to exit (``engine/stopping.py``): its row ``crashed`` with ``reason``, unless it
        has ended already (False). Called from the exit's own thread: a session of its own."""
        with self.sessions.begin() as s:
            return repo.mark_forced(s, run_id, reason=reason, ended_at=datetime.now(UTC))

    def dispose(self) -> None:
        self.engine.dispose()
