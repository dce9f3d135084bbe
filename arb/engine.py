"""The engine: one run's lifecycle around the decision loop (``runtime/decisions.py``), as one asyncio
process: take the database's lease, migrate, open the venues, record the run, reconcile with the venues,
run the decision loop until the data ends or a stop, shut down in order, and record how the run ended.

One decision loop in every mode; only the book sources and the clock differ:

- **replay** (and **paper** on a capture: the same simulation, paced in wall time) is a simulation: the
  run's event loop is a :class:`~arb.eventloop.simloop.SimulatedLoop` whose time is market time. One source
  plays the capture into the books at each event's market time (every event of a timestamp together), the
  simulated venues answer after their configured latency in market time, and the sandbox plays its own
  copy of the capture for its matching on the same timeline: an order is matched against the book as it
  stands when it arrives, while books keep moving for the pair in flight;
- **live** (and paper on live books): feeds on an ordinary loop, wall time; a sandbox venue here is a
  real-time rehearsal (it plays its capture in real time and arb reads its WebSocket like a real venue's).

The loop (every book update marks its symbol dirty; one task decides each dirty symbol on the latest books,
and hands an opportunity to the paired executor) is described in ``runtime/decisions.py``.

Stopping (SIGINT/SIGTERM, the end of a capture, a kill switch): no new opportunities are taken, the pair
in flight finishes through the executor's own policy, resting orders are cancelled, the writer is flushed,
and the run's end and summary are recorded. A second signal exits at once; SQLite/PostgreSQL transactions
keep the database consistent either way, and the next start reconciles with the venues before trading.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine as SAEngine

from arb.config import Config
from arb.errors import ArbError, StoreError
from arb.eventloop.clock import MarketClock, WallClock, from_ms
from arb.eventloop.live_loop import run_live
from arb.eventloop.simloop import run_simulation, running_simulation, time_held
from arb.execution.executor import ExecutorConfig, PairedExecutor
from arb.execution.imbalance import ImbalancePolicy
from arb.execution.lookup import LookupPolicy
from arb.execution.reconciliation import reconcile
from arb.execution.risk import RiskEvent, RiskGate, RiskLimits
from arb.marketdata.books import BookStore
from arb.marketdata.capture import MAX_LINE, UNREADABLE
from arb.marketdata.drops import FrameDrops
from arb.marketdata.timeline import capture_files, read_timeline
from arb.monitoring import Monitor
from arb.monitoring.dashboard.live import LiveDashboard
from arb.positions import mid
from arb.runtime.balances import snapshot_balances
from arb.runtime.decisions import DecisionLoop, Trading
from arb.runtime.depletion import Depletion, InventoryWatch, watch_inventory
from arb.runtime.feeds import FeedSet
from arb.runtime.funnel import Funnel
from arb.runtime.incidents import IncidentLog
from arb.runtime.latency import LatencyRecorder
from arb.runtime.logs import RUN_ID
from arb.runtime.preflight import preflight
from arb.runtime.state import RunState
from arb.runtime.status import RunView, StatusReporter
from arb.runtime.supervisor import Supervisor, TaskFailed
from arb.runtime.venues import VenueSet, open_venues
from arb.runtime.writer import DecisionWriter
from arb.store import orders as orders_repo
from arb.store import repo
from arb.store.db import file_identity, make_engine, make_session_factory, sqlite_file
from arb.store.lease import Lease
from arb.store.lease import acquire as acquire_lease
from arb.store.migrate import upgrade_to_head
from arb.store.settlement import settle_pending

log = logging.getLogger(__name__)


def lookup_policy(attempts: int) -> LookupPolicy:
    """``attempts`` lookups by client order id for an ambiguous order: at once, then after 0.05, 0.2, 0.5,
    1 s and every 2 s after that (a just-placed order can briefly be unknown to the venue)."""
    schedule = (0.05, 0.2, 0.5, 1.0)
    delays = tuple(schedule[i] if i < len(schedule) else 2.0 for i in range(attempts - 1))
    return LookupPolicy(delays=delays)


# How the capture writer writes a trade line's type (compact JSON): the lines the replay never reads.
_TRADE_LINE = b'"type":"trade"'


def count_lines(path: Path) -> int:
    """Book events in a capture (one per line, less its trade lines, which a replay reads past), for the
    replay progress bar: a fast scan, no JSON parsing. A trade line is known by the writer's own spelling of
    its type; one written otherwise counts as an event (the bar then ends just short of full). The scan
    stops at a line longer than the reader's limit (``capture.MAX_LINE``), which the reader refuses when it
    gets there: a gzip bomb of one endless line is not decompressed to its end for a progress bar."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    count = 0
    tail = b""  # the end of the previous chunk: a trade's type may straddle two chunks
    open_line = 0  # bytes since the last newline
    try:
        with opener(path, "rb") as f:  # type: ignore[operator]
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n") - (tail + chunk).count(_TRADE_LINE)
                tail = chunk[1 - len(_TRADE_LINE):]
                newline = chunk.rfind(b"\n")
                open_line = open_line + len(chunk) if newline < 0 else len(chunk) - newline - 1
                if open_line > MAX_LINE:
                    break
    except UNREADABLE:  # damaged: the strict reader reports it (file:line) when it gets there
        pass
    return count


@dataclass
class RunResult:
    run_id: int
    summary: dict[str, Any]
    funnel: Funnel
    hot_path: LatencyRecorder
    interrupted: bool = False
    halted: str | None = None  # the run ended ``halted``: why, and the open positions it left


async def watch_kill_switch(risk: RiskGate, every_s: float = 1.0) -> None:
    """Look for the kill-switch file once a second of the run's clock, not only when a trade is tried: its
    incident starts and ends (and its alerts go out) within a second of the file appearing or going."""
    while True:
        risk.kill_switch_engaged()
        await asyncio.sleep(every_s)


def halt_reason(stop_reason: str | None, summary: Mapping[str, Any], mode: str) -> str:
    """One line a trader can act on: what halted the run, each open position it left (venue, amount, cost,
    notional at the mark), and what to do next."""
    held = [f"{p['venue']} {p['amount'].normalize():f} {p['symbol'].split('/')[0]} at cost {p['cost'].normalize():f}"
            + (f" (notional {abs(p['amount']) * p['mark']:.2f} {p['symbol'].split('/')[1]} at mid {p['mark'].normalize():f})"
               if p["mark"] is not None else "")
            for p in summary.get("open_positions") or ()]
    positions = "; open: " + ", ".join(held) if held else "; no open position left"
    action = " - flatten it on the venue, then start again" if held else ""
    return f"{stop_reason or 'halted'} ({mode}){positions}{action}"


class Engine:
    # What builds a run's decision loop: a test's engine swaps in a subclass that watches or breaks it.
    decision_loop: Callable[..., DecisionLoop] = DecisionLoop

    def __init__(
        self,
        config: Config,
        *,
        db_url: str | None = None,
        capture: Path | None = None,
        force_paper: bool = False,
        mode: str | None = None,
        status: StatusReporter | None = None,
        install_signal_handlers: bool = True,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.config = config
        self.db_url = db_url or config.store.url
        self.capture = capture or config.capture_path()
        self.force_paper = force_paper
        self.mode = mode or config.engine.mode
        self.status = status or StatusReporter.for_config(config)
        self.install_signal_handlers = install_signal_handlers
        # A replay, or paper mode on a capture, is a simulation on market time from the capture's first
        # event (``origin_ms``); paper paces it in wall time at its speed.
        self.simulated = self.mode == "replay" or (self.mode == "paper" and self.capture is not None)
        self.speed = config.replay.speed if config.replay else 0.0
        self.clock: WallClock | MarketClock = (MarketClock(self._origin_ms()) if self.simulated else WallClock())
        self._market_ms = self.clock.origin_ms if isinstance(self.clock, MarketClock) else 0  # market time played
        self.books = BookStore(depth=config.engine.book_depth, max_age_ms=config.engine.stale_after_ms)
        self.funnel = Funnel()
        self.incidents_log = IncidentLog(self.clock.now)  # kill switch, halts, breakers: start and end
        self.hot_path = LatencyRecorder()
        self.state = RunState()  # shared with the decision loop
        self._signals = 0
        self._fatal: TaskFailed | None = None  # a supervised task given up on: the run stops and ends ``failed``
        # Every long-lived task (feeds, capture pacers, writer loop, watchdog, status view) runs under it.
        self.supervisor = supervisor or Supervisor()
        self.supervisor.on_fatal = self._task_failed
        self.drops = FrameDrops()  # malformed frames, per venue and reason, all feeds'
        self.venues: VenueSet | None = None
        self.decisions: DecisionLoop | None = None  # built once the run is set up
        # Metrics and alerts ([monitoring]; None when off). Its metrics endpoint outlives the run, serving
        # the final numbers, until ``monitor.close()`` (or the process exits).
        self.monitor: Monitor | None = None
        # The web dashboard ([monitoring] dashboard_port; None when off): stopped once the run's end is
        # recorded, so its pages keep the final figures.
        self.dashboard: LiveDashboard | None = None
        self.run_id: int | None = None  # set once the run's row exists
        self.inventory: InventoryWatch | None = None  # built with the venues
        self._ended = False
        self._db: SAEngine | None = None

    def _origin_ms(self) -> int:
        """The capture's first event time: market time zero of a simulation (now, when there is none: the
        run then fails with its one line at the start)."""
        if self.capture is not None:
            try:
                first = next(iter(read_timeline(self.capture)), None)
            except (ArbError, OSError, *UNREADABLE):
                first = None  # a damaged or missing capture: the run reports it (file:line) when it reads it
            if first is not None:
                return first.ts
        return WallClock().now_ms()

    @property
    def feeds(self) -> FeedSet | None:
        """The run's book sources, once its decision loop has started them."""
        return self.decisions.feeds if self.decisions is not None else None

    # ------------------------------------------------------------------ lifecycle
    def main(self) -> RunResult:
        """Run to the end from synchronous code (the CLI): a simulation on its own market-time loop, a run
        on wall-clock time on uvloop's (``eventloop/live_loop.py``)."""
        if self.simulated:
            return run_simulation(self.run(), self.speed)  # type: ignore[no-any-return]
        return run_live(self.run())

    async def run(self) -> RunResult:
        """Take the database's lease, run until the data ends or a stop, and record how the run ended.

        The lease (``arb/store/lease.py``) comes before anything touches the database: a second engine stops
        here with :class:`~arb.store.lease.DatabaseInUse` naming the holder. Once this run's row exists, it ends
        ``completed``, or ``failed`` with a one-line reason whatever stops it; an error that is not an
        :class:`ArbError` reaches the caller as one (one line for the user, the traceback in debug logs). A
        process that dies leaves its row ``running``, and the next start marks it ``crashed``.
        """
        if self.simulated and running_simulation() is None:
            return await self._run_in_simulation()
        preflight(self.config)  # a port another process holds: refused before the lease, the database or a row
        with acquire_lease(self.db_url) as lease:
            try:
                return await self._run(lease)
            except ArbError as exc:
                self._record_failure(str(exc))
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if self.run_id is None:
                    raise
                log.debug("run %d failed", self.run_id, exc_info=True)
                self._record_failure(reason)
                raise ArbError(f"run {self.run_id} failed: {repo.one_line(reason)}") from exc
            except BaseException as exc:  # cancelled, interrupted without our signal handlers
                self._record_failure(f"stopped by {type(exc).__name__}")
                raise
            finally:
                if self.dashboard is not None:
                    self.dashboard.stop()
                if self._db is not None:
                    self._db.dispose()

    async def _run_in_simulation(self) -> RunResult:
        """A replay awaited from an ordinary loop (a test, an embedding program): it runs on its own
        simulated loop in a worker thread, since market time cannot be the caller's loop time. Cancelling
        the caller stops the run as a signal would, and waits for it to end."""
        import concurrent.futures
        import threading

        self.install_signal_handlers = False  # signals reach the main thread only
        started = threading.Event()

        async def main() -> RunResult:
            self._loop = asyncio.get_running_loop()
            started.set()
            return await self.run()

        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="arb-simulation") as pool:
            future = asyncio.wrap_future(pool.submit(run_simulation, main(), self.speed))
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                if started.is_set():
                    self.request_stop("cancelled")
                await asyncio.wait([future])
                raise

    def _record_failure(self, reason: str) -> None:
        """The run (if recorded and not ended) ends ``failed``. If even that write fails, the row stays
        ``running`` and the next start marks it ``crashed``: the truth either way."""
        if self.run_id is None or self._ended:
            return
        try:
            with self.sessions.begin() as s:
                repo.fail_run(s, self.run_id, reason=reason, ended_at=datetime.now(UTC), **self._market_span())
        except Exception as store_exc:  # noqa: BLE001 - the original error is the one to report
            log.warning("could not record run %d as failed: %s", self.run_id, store_exc.__class__.__name__)
        else:  # the error itself reaches the caller, and `arb` prints it once: here only for --debug logs
            log.debug("run %d failed: %s", self.run_id, repo.one_line(reason))

    def _market_span(self) -> dict[str, datetime | None]:
        """The run's market-time span so far. A replay's starts at its first event (its clock means nothing
        before that); paper and live market time is the wall clock."""
        if isinstance(self.clock, MarketClock):  # from the first event to the last one played
            return {"market_started_at": from_ms(self.clock.origin_ms),
                    "market_ended_at": from_ms(self._market_ms)}
        return {"market_started_at": None, "market_ended_at": self.clock.now()}

    async def _run(self, lease: Lease) -> RunResult:
        before, after = upgrade_to_head(self.db_url)
        if before != after:
            log.info("database schema %s: %s", "created" if before is None else f"upgraded from {before}", after)
        # An SQLite file deleted or replaced mid-run takes everything written with it; noticed at the end.
        db_file = sqlite_file(self.db_url)
        db_identity = file_identity(db_file) if db_file is not None else None
        engine = self._db = make_engine(self.db_url)
        sessions = self.sessions = make_session_factory(engine)
        # Venues first: a missing key, an unknown symbol or an unreachable venue fails here, before a run is
        # recorded or anything trades. In a simulation the start (and the end) take no market time: the
        # market begins, at its first event, when the decision loop does.
        held = contextlib.ExitStack()
        held.enter_context(time_held())
        try:
            venues = await open_venues(self.config, self.books, self.clock, force_paper=self.force_paper)
        except BaseException:
            held.close()
            raise
        self.venues = venues
        # A simulation writes on the loop's thread: its time is the market's, so a write delays no market
        # event, while a worker thread took the GIL from the decision loop mid-batch (decision p99 13-19 ms at
        # 100 symbols). The thread did overlap SQLite's work with the replay: a 2-worker sweep ran ~5% faster
        # with it, a single replay ~10% slower (bench_sweep.py, both ways).
        writer = DecisionWriter(sessions, inline=self.simulated)
        self._install_signals()
        try:
            started_at = datetime.now(UTC)
            with sessions.begin() as s:
                run_id = repo.start_run(
                    s, mode=self.mode, config_snapshot=self.config.snapshot(), started_at=started_at,
                    pid=lease.holder.pid, host=lease.holder.host,
                    market_started_at=self.clock.now() if self.simulated else started_at).id
                # We hold the lease, so any other run still "running" lost its process: say so before
                # reconciliation judges what that run left behind.
                crashed = repo.mark_crashed(s, found_by=run_id)
            self.run_id = run_id
            lease.record_run(run_id)
            RUN_ID.run_id = run_id  # every log record from here on carries it (text and JSON formats)
            for old in crashed:
                log.warning("run %d marked crashed: %s", old.id, old.status_reason)
            log.info("run %d started: %s mode, venues %s", run_id, self.mode,
                     ", ".join(f"{name} ({kind})" for name, kind in venues.kinds.items()))
            risk = RiskGate(self._risk_limits(), clock=self.clock.now, on_event=self.incidents_log.on_risk_event)
            report = await reconcile(venues.venues, sessions, run_id, symbols=self.config.engine.symbols,
                                     since=datetime.now(UTC) - timedelta(days=1))
            self.status.note(f"reconciled with venues: {report}")
            executor = PairedExecutor(venues.venues, sessions, run_id, risk, config=self._executor_config(),
                                      clock=self.clock.now)
            await self._snapshot_balances(venues, writer, run_id, "start")
            writer.start(self.supervisor.spawn)
            if not self.simulated:  # live venues' order connections stay open through quiet spells
                for name, warm in venues.warmers.items():
                    self.supervisor.spawn(f"keep-warm-{name}", warm, venue=name)
            # Which venues can no longer fund max_size, per direction, once a second of the run's clock.
            self.inventory = InventoryWatch({s: self.config.symbols[s].max_size for s in self.config.engine.symbols},
                                            venues.venues)
            view = self._view(run_id, risk, lease.holder.host)
            if self.config.risk.kill_switch_file is not None:
                self.supervisor.spawn("kill-switch", partial(watch_kill_switch, risk))
            self.status.start(run_id, view, self.supervisor.spawn)
            # An alert says which run, in which mode, on which host: a trader may run several.
            self.monitor = Monitor.for_config(self.config, view,
                                              title=f"arb run {run_id} ({self.mode} on {lease.holder.host})")
            if self.monitor is not None:
                risk.on_event = self._both(self.incidents_log.on_risk_event, self.monitor.risk_event)
                self.status.note(self.monitor.start(self.supervisor.spawn))
            self.supervisor.spawn("inventory-watch", partial(watch_inventory, self.inventory, self.state.balances,
                                                             self.books, self.clock.now_ms, self._depletion))
            if self.config.monitoring.dashboard_port is not None:
                self.dashboard = LiveDashboard(self.db_url, self.config.monitoring.dashboard_port,
                                               incidents=self.incidents_log)
                self.status.note(f"dashboard at {self.dashboard.start(run_id, view, self.supervisor.spawn)}")
            self.decisions = self.decision_loop(
                self.config, Trading(venues, executor, risk, writer, sessions), books=self.books, clock=self.clock,
                state=self.state, funnel=self.funnel, hot_path=self.hot_path, drops=self.drops, status=self.status,
                spawn=self.supervisor.spawn, capture=self.capture, progress=self._progress)
            held.close()
            if self.simulated and self.status.mode != "off" and self.capture is not None:
                # for the progress bar: every file of the timeline
                self.status.total_events = sum(map(count_lines, capture_files(self.capture)))
            # Everything built so far (markets, config, imports, the capture's first books) lives for the whole
            # run: frozen out of the collector's view, a full collection no longer walks it on the hot path
            # (pauses of 130-160 ms were seen at 100 symbols x 5 venues).
            gc.freeze()
            try:
                await self.decisions.run()
            finally:
                gc.unfreeze()  # a process running several engines (tests, sweep workers) collects them again
                executor.close()
            with time_held():
                await self._cancel_resting(venues)
                await self._snapshot_balances(venues, writer, run_id, "end")
            if self._fatal is not None:  # stopped in order above; the run ends failed with its line
                cause = self._fatal.cause
                # An error about the user's input (a damaged capture: file:line) is that one line, and
                # its exit code; anything else is the task's failure.
                raise cause if isinstance(cause, ArbError) else self._fatal
        finally:
            held.close()
            self.status.stop()
            try:
                if self.monitor is not None:  # the final numbers, and the alerts still queued
                    await self.monitor.finish()
                await writer.close()
            finally:
                if venues is not None:
                    await venues.close()
                self._remove_signals()
                await self.supervisor.close()
        if db_file is not None and file_identity(db_file) != db_identity:
            raise StoreError(f"the database file {db_file} was deleted or replaced during the run: "
                             f"nothing of run {run_id} was kept")
        summary = self._summary(sessions, run_id)
        halted = halt_reason(self.state.stop_reason, summary, self.mode) if self.state.halted else None
        with sessions.begin() as s:
            repo.end_run(s, run_id, ended_at=datetime.now(UTC), summary=summary, halted=halted,
                         **self._market_span())
        self._ended = True
        log.info("run %d ended: %d executed, %d rejected%s", run_id, self.funnel.executed,
                 sum(self.funnel.rejected.values()),
                 f" ({self.state.stop_reason})" if self.state.stop_reason else "")
        engine.dispose()
        return RunResult(run_id, summary, self.funnel, self.hot_path, interrupted=self._signals > 0,
                         halted=halted)

    def _view(self, run_id: int, risk: RiskGate, host: str) -> RunView:
        """What the status view, the metrics and the alerts read of this run (``runtime/view.py``)."""
        state = self.state
        return RunView(self.funnel, self.books, self.clock, self.incidents, run_id=run_id,
                       balances=MappingProxyType(state.balances),
                       stale_balances=lambda: frozenset(state.stale_balances), risk=risk.state,
                       trades=state.trades, hot_path=self.hot_path, stop_reason=self.stop_reason,
                       mode=self.mode, host=host, inventory=self.inventory)

    def _depletion(self, change: Depletion) -> None:
        """The inventory watch saw a direction become depleted or funded again: an incident, an alert."""
        self.incidents_log.on_depletion(change)
        if self.monitor is not None:
            self.monitor.depletion(change)

    def _progress(self, events: int, market_ms: int) -> None:
        """A simulation's market source has played ``events``, up to ``market_ms``."""
        self.status.done_events = events
        self._market_ms = market_ms

    # ------------------------------------------------------------------ helpers
    def _risk_limits(self) -> RiskLimits:
        r = self.config.risk
        return RiskLimits(
            max_notional_per_trade=r.max_notional_per_trade,
            max_unhedged_exposure=r.max_exposure_per_asset,
            daily_loss_limit=r.daily_loss_limit,
            max_consecutive_failures=r.max_consecutive_failures,
            cooldown=timedelta(seconds=r.failure_cooldown_s),
            kill_switch_file=Path(r.kill_switch_file),
        )

    def _executor_config(self) -> ExecutorConfig:
        e = self.config.execution
        return ExecutorConfig(slippage_bps=e.slippage_bps, policy=ImbalancePolicy(e.leg_policy),
                              policy_bound_bps=e.imbalance_max_slippage_bps,
                              lookup=lookup_policy(e.lookup_attempts))

    async def _snapshot_balances(self, venues: VenueSet, writer: DecisionWriter, run_id: int, kind: str,
                                 names: Iterable[str] | None = None, *, opportunity_id: int | None = None) -> None:
        """A ``balances`` snapshot of ``kind`` on the run's clock (the lifecycle takes ``start`` and ``end``;
        see :func:`~arb.runtime.balances.snapshot_balances`)."""
        await snapshot_balances(venues, self.state, writer, self.clock.now, run_id, kind, names,
                                opportunity_id=opportunity_id)

    async def _cancel_resting(self, venues: VenueSet) -> None:
        """Cancel what rests on the venues at shutdown, and record the venue's answer for orders arb knows
        (an order left ``open`` in the database would wait for the next start's reconciliation)."""
        for name, venue in venues.venues.items():
            for symbol in self.config.engine.symbols:
                try:
                    for order in await venue.fetch_open_orders(symbol):
                        report = await venue.cancel(order.client_order_id, symbol)
                        with self.sessions.begin() as s:
                            known = orders_repo.order_by_client_id(s, report.client_order_id)
                            if known is not None:
                                orders_repo.record_report(s, known.id, report, self.clock.now(),
                                                          detail="canceled at shutdown")
                                settle_pending(s, self.clock.now())
                except ArbError as exc:
                    log.warning("could not cancel resting orders on %s: %s", name, exc)

    def _summary(self, sessions: Any, run_id: int) -> dict[str, Any]:
        from arb.runtime.summary import run_totals

        with sessions() as s:
            totals = run_totals(s, run_id, self._marks())
        return {
            "funnel": self.funnel.as_dict(),
            **totals,
            "hot_path_us": self.hot_path.summary_us(),
            "stop_reason": self.stop_reason(),
            "incidents": [i.as_row() for i in self.incidents_log.incidents],
            "balance_snapshot_gaps": self.state.balance_snapshot_gaps,
            **self.incidents(),
            # Which rule filled resting orders (arb/venues/sim/matching.py): a simulation's, said once.
            **({"market_trades": self.feeds.market_trades if self.feeds is not None else 0} if self.simulated else {}),
        }

    def stop_reason(self) -> str | None:
        """Why trading stopped: what stopped the run (a halt, a signal, an error), else an incident still open
        (a kill switch engaged now); one that cleared is no reason (``runtime/incidents.py``)."""
        if self.state.stop_reason is not None:
            return self.state.stop_reason
        incident = self.incidents_log.still_open()
        return f"{incident.kind.replace('_', ' ')}: {incident.detail}" if incident is not None else None

    @staticmethod
    def _both(*hooks: Callable[[RiskEvent], None]) -> Callable[[RiskEvent], None]:
        def told(event: RiskEvent) -> None:
            for hook in hooks:
                hook(event)
        return told

    def _marks(self) -> dict[tuple[str, str], Decimal | None]:
        """Every book's mid now: the valuation rule's marks (``arb/positions.py``) at the run's end."""
        return {(book.venue, book.symbol): mid(book.best_bid(), book.best_ask()) for book in self.books}

    def incidents(self) -> dict[str, dict[str, Any]]:
        """What went wrong underneath and was handled: malformed frames dropped (venue -> reason -> count),
        supervised task restarts (task -> count), silent feeds resubscribed (venue -> count)."""
        return {
            "feed_drops": self.drops.by_venue(),
            "task_restarts": dict(sorted(self.supervisor.restarts.items())),
            "stale_resubscribes": dict(sorted(self.feeds.resubscribes.items())) if self.feeds is not None else {},
        }

    def _task_failed(self, failure: TaskFailed) -> None:
        """A supervised task was given up on: stop as on a signal; ``_run`` then ends the run failed."""
        if self._fatal is None:
            self._fatal = failure
        self.request_stop(str(failure))

    # ------------------------------------------------------------------ signals
    def request_stop(self, reason: str) -> None:
        loop: asyncio.AbstractEventLoop | None = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:  # from another thread (a replay run in its own thread): its loop's turn
                loop.call_soon_threadsafe(self._stop, reason)
                return
        self._stop(reason)

    def _stop(self, reason: str) -> None:
        self.state.stop_reason = self.state.stop_reason or reason
        self.state.stop.set()

    def _on_signal(self, signame: str) -> None:
        self._signals += 1
        if self._signals > 1:
            # Second Ctrl-C: leave now. Committed transactions are safe; an order in flight is found by
            # reconciliation on the next start.
            import os

            os._exit(130)
        self.request_stop(signame)
        self.status.note(f"{signame}: stopping after the pair in flight (again to force)")

    def _install_signals(self) -> None:
        if not self.install_signal_handlers:
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig.name)

    def _remove_signals(self) -> None:
        if not self.install_signal_handlers:
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
