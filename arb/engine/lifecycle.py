"""The engine: one run's lifecycle around its decision loop, step by step in :meth:`Engine._run` (the package's
docstring says what each mode plays and how a run stops)."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from arb.config import Config
from arb.config.model import mode_shown
from arb.domain.market import MarketKind
from arb.engine.database import RunDatabase, market_span
from arb.engine.ending import RunResult, cancel_resting, halt_reason, run_summary
from arb.engine.settings import executor_config, risk_limits
from arb.engine.simulated import on_own_loop, origin_ms
from arb.engine.stopping import Stopping
from arb.engine.watchers import inventory_watch, told_to_all, watch_kill_switch
from arb.errors import ArbError, VenueError
from arb.eventloop.clock import MarketClock, WallClock
from arb.eventloop.live_loop import run_live
from arb.eventloop.simloop import run_simulation, running_simulation, time_held
from arb.execution.executor import PairedExecutor
from arb.execution.reconciliation import reconcile, resolve_own
from arb.execution.risk import RiskGate
from arb.margin import AccountMargin, PositionState
from arb.marketdata.books import BookStore
from arb.marketdata.drops import FrameDrops
from arb.marketdata.timeline import count_events
from arb.monitoring import Monitor
from arb.monitoring.dashboard.live import LiveDashboard
from arb.positions import mid
from arb.runtime.balances import snapshot_balances, venue_funding
from arb.runtime.decisions import DecisionLoop, Trading
from arb.runtime.depletion import Depletion, InventoryWatch, watch_inventory
from arb.runtime.feeds import FeedSet
from arb.runtime.funnel import Funnel
from arb.runtime.incidents import IncidentLog
from arb.runtime.latency import LatencyRecorder
from arb.runtime.logs import RUN_ID
from arb.runtime.online import check_online
from arb.runtime.operator import OperatorDesk
from arb.runtime.position_check import check_positions
from arb.runtime.preflight import preflight
from arb.runtime.quoting import QuotingDesk
from arb.runtime.rebalance import Rebalancer
from arb.runtime.state import RunState
from arb.runtime.status import RunView, StatusReporter
from arb.runtime.store_watch import StoreWatch
from arb.runtime.summary import read_holdings
from arb.runtime.supervisor import Supervisor
from arb.runtime.venues import VenueSet, open_venues
from arb.runtime.writer import DecisionWriter
from arb.store import repo
from arb.store.lease import Lease
from arb.store.lease import acquire as acquire_lease
from arb.store.maker_views import MakerNow, read_maker_now
from arb.valuation import EndBook

# The engine's records keep the engine's logger name, which log filters and JSON log consumers key on.
log = logging.getLogger("arb.engine")
# Allocations between collections of the youngest generation while a simulation runs (Python: 700); see _trade.
SIMULATION_GC_THRESHOLD = 50_000


def started_line(run_id: int, mode: str, kinds: Mapping[str, str], testnet: tuple[str, ...]) -> str:
    """The run's first line: its id, its mode and each venue's kind, a venue on its test environment said so."""
    venues = ", ".join(f"{name} ({kind}{', testnet' if name in testnet else ''})" for name, kind in kinds.items())
    return f"run {run_id} started: {mode_shown(mode, testnet)} mode, venues {venues}"


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
        self.testnet: tuple[str, ...] = ()  # the live venues opened on their test environment (_start_row)
        self.status = status or StatusReporter.for_config(config)
        # A replay, or paper mode on a capture, is a simulation on market time from the capture's first
        # event (``origin_ms``); paper paces it in wall time at its speed.
        self.simulated = self.mode == "replay" or (self.mode == "paper" and self.capture is not None)
        self.speed = config.replay.speed if config.replay else 0.0
        self.clock: WallClock | MarketClock = (MarketClock(origin_ms(self.capture)) if self.simulated else WallClock())
        self._market_ms = self.clock.origin_ms if isinstance(self.clock, MarketClock) else 0  # market time played
        self.books = BookStore(depth=config.engine.book_depth, max_age_ms=config.engine.stale_after_ms)
        self.funnel = Funnel()
        self.incidents_log = IncidentLog(self.clock.now)  # kill switch, halts, breakers: start and end
        self.hot_path = LatencyRecorder()
        self.state = RunState()  # shared with the decision loop
        self.stopping = Stopping(self.state, self.status.note, install_signals=install_signal_handlers)
        # The latest funding time this run stored per (venue, symbol) of a live margin account: the writer
        # queues rows, so the database may not show them yet when the end reads the venue again.
        self._funding_stored: dict[tuple[str, str], datetime] = {}
        # Every book's mid and levels as trading stopped, before the feeds closed: the summary values the run there.
        self._closing_books: tuple[dict[tuple[str, str], Decimal | None], dict[tuple[str, str], EndBook]] | None = None
        # Every long-lived task (feeds, capture pacers, writer loop, watchdog, status view) runs under it.
        self.supervisor = supervisor or Supervisor()
        self.supervisor.on_fatal = self.stopping.task_failed
        self.drops = FrameDrops()  # malformed frames, per venue and reason, all feeds'
        self.venues: VenueSet | None = None
        self.decisions: DecisionLoop | None = None  # built once the run is set up
        self.desk: QuotingDesk | None = None  # the maker symbols' quotes and hedges, when there are any
        # Metrics and alerts ([monitoring]; None when off). Its metrics endpoint outlives the run, serving
        # the final numbers, until ``monitor.close()`` (or the process exits).
        self.monitor: Monitor | None = None
        # The web dashboard ([monitoring] dashboard_port; None when off): stopped once the run's end is
        # recorded, so its pages keep the final figures.
        self.dashboard: LiveDashboard | None = None
        self.operator: OperatorDesk | None = None  # the dashboard's controls, applied on the run's loop
        self.run_id: int | None = None  # set once the run's row exists
        self.inventory: InventoryWatch | None = None  # built with the venues
        self.rebalancer: Rebalancer | None = None  # [rebalance]: transfers planned and, in a simulation, made
        # A maker run's quoting figures for the live surfaces, read from the store (None: no maker symbol,
        # or no live surface to show them).
        self.maker_watch: StoreWatch[MakerNow] | None = None
        self.holdings_watch: StoreWatch[dict[str, Any] | None] | None = None
        self._ended = False
        self._db: RunDatabase | None = None

    @property
    def feeds(self) -> FeedSet | None:
        """The run's book sources, once its decision loop has started them."""
        return self.decisions.feeds if self.decisions is not None else None

    def request_stop(self, reason: str) -> None:
        """Stop the run as a signal would, from any thread (``engine/stopping.py``)."""
        self.stopping.request(reason)

    # ------------------------------------------------------------------ the run, start to end
    def main(self) -> RunResult:
        """Run to the end from synchronous code (the CLI): a simulation on its own market-time loop, a run
        on wall-clock time on uvloop's (``eventloop/live_loop.py``)."""
        if self.simulated:
            return run_simulation(self.run(), self.speed)
        return run_live(self.run())

    async def run(self) -> RunResult:
        """Take the database's lease, run until the data ends or a stop, and record how the run ended.

        The lease (``arb/store/lease.py``) comes before anything touches the database: a second engine stops
        here with :class:`~arb.store.lease.DatabaseInUse` naming the holder. Once this run's row exists, it ends
        ``completed``, or ``failed`` with a one-line reason whatever stops it; an error that is not an
        :class:`ArbError` reaches the caller as one (one line for the user, the traceback in debug logs). A
        process that dies leaves its row ``running``, and the next start marks it ``crashed``; one forced out by a
        second Ctrl-C marks it so itself as it leaves (``_record_forced``).
        """
        if self.simulated and running_simulation() is None:
            # Awaited from an ordinary loop: market time cannot be the caller's loop time.
            return await on_own_loop(self.run, self.stopping, self.speed)
        # SIGINT/SIGTERM stop the run from here to its last step: a signal before trading starts stops it
        # before its first decision, one after its summary is stored finds nothing left to stop. Handlers that
        # came later and went earlier (around the trading only) left Python's KeyboardInterrupt to land in the
        # database's or the lease's own clean-up (a logged traceback, a row left running).
        self.stopping.install()
        try:
            return await self._leased()
        finally:
            self.stopping.remove()

    async def _leased(self) -> RunResult:
        preflight(self.config)  # a port another process holds: refused before the lease, the database or a row
        # No run id until this run's row exists: a process that ran an engine before (a sweep worker, tests)
        # would otherwise tag this run's first lines ("database schema created") with the last run's id.
        RUN_ID.run_id = None
        with acquire_lease(self.db_url) as lease:
            try:
                if self.mode == "live" and not self.force_paper:
                    # Under the lease (a second engine is refused for it first, saying nothing of the venues),
                    # before the database or a row: a venue the run could not trade with writes nothing.
                    await self._check_online()
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

    async def _check_online(self) -> None:
        """``arb config check --online``'s findings on the venues a live run trades with (``runtime/online.py``),
        each logged; the first error stops the run before its lease, its database or its row."""
        found = await check_online(self.config, unreachable_raises=True)  # as opening it would say
        levels = {"ok": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
        for finding in found:
            if finding.level != "error":
                log.log(levels[finding.level], "online check: %s", finding.line())
        errors = [finding for finding in found if finding.level == "error"]
        if errors:
            more = f" (and {len(errors) - 1} more: arb config check --online)" if len(errors) > 1 else ""
            raise ArbError(f"{self.config.path}: {errors[0].key}: {errors[0].text}{more}")

    async def _run(self, lease: Lease) -> RunResult:
        """The lifecycle, in order; each step below, in the order it runs."""
        db = self._db = RunDatabase(self.db_url)
        self.sessions = db.sessions
        # Venues first: a missing key, an unknown symbol or an unreachable venue fails here, before a run is
        # recorded or anything trades. In a simulation the start (and the end) take no market time: the
        # market begins, at its first event, when the decision loop does.
        held = contextlib.ExitStack()
        held.enter_context(time_held())
        try:
            venues = self.venues = await open_venues(self.config, self.books, self.clock,
                                                     force_paper=self.force_paper)
            inverse = _inverse_market(self.config, venues)
            if inverse is not None:  # preflight refuses a paper one; a live venue's kind is known only now
                await venues.close()
                raise VenueError(inverse[0], f"{inverse[1]} is an inverse perpetual: a run does not trade one yet "
                                 "(its sizing and pairs are in base, not contracts)")
        except BaseException:
            held.close()
            raise
        # A simulation writes on the loop's thread: its time is the market's, so a write delays no market
        # event, while a worker thread took the GIL from the decision loop mid-batch (decision p99 13-19 ms at
        # 100 symbols). The thread did overlap SQLite's work with the replay: a 2-worker sweep ran ~5% faster
        # with it, a single replay ~10% slower (bench_sweep.py, both ways).
        writer = DecisionWriter(db.sessions, inline=self.simulated)
        try:
            run_id = self._start_row(db, lease, venues)
            self.stopping.on_forced = partial(self._record_forced, db, run_id, writer)
            risk, executor = await self._start_trading(venues, writer, run_id)
            self._start_watchers(run_id, risk, lease.holder.host or "?")  # our own lease: always named
            self._wire_decisions(venues, executor, risk, writer)
            held.close()
            await self._trade(executor)
            await self._shut_down(venues, writer, run_id)
        finally:
            held.close()
            await self._tear_down(venues, writer)
        return self._end(db, run_id)

    def _start_row(self, db: RunDatabase, lease: Lease, venues: VenueSet) -> int:
        """The run's row (any run still ``running`` marked ``crashed``); the lease and the logs name it."""
        kinds = {name: {symbol: venue.market_rules(symbol).kind.value
                        for symbol in self.config.venue_markets(name).symbols}
                 for name, venue in venues.venues.items()}
        self.run_id, crashed = db.start_run(lease.holder, self.config, self.mode,
                                            market_started_at=self.clock.now() if self.simulated else None,
                                            market_kinds=kinds)
        lease.record_run(self.run_id)
        RUN_ID.run_id = self.run_id  # every log record from here on carries it (text and JSON formats)
        for old in crashed:
            log.warning("run %d marked crashed: %s", old.id, old.status_reason)
        # A live venue on its test environment: what every surface of the run says (config/model.mode_shown).
        self.testnet = tuple(n for n, kind in venues.kinds.items() if kind == "live" and self.config.venues[n].testnet)
        log.info("%s", started_line(self.run_id, self.mode, venues.kinds, self.testnet))
        return self.run_id

    async def _start_trading(self, venues: VenueSet, writer: DecisionWriter, run_id: int,
                             ) -> tuple[RiskGate, PairedExecutor]:
        """Reconciled with the venues (what earlier runs left in flight), the executor, the start balances
        (strict: nothing trades on balances it could not read), the writer; live order connections kept warm."""
        risk = RiskGate(risk_limits(self.config), clock=self.clock.now, on_event=self.incidents_log.on_risk_event)

        def on_margin(venue: str, reading: AccountMargin) -> None:  # a margin account's figures just read
            if reading.ratio is not None:
                risk.record_margin(venue, reading.ratio, _liquidation(reading))

        self.state.on_margin = on_margin
        report = await reconcile(venues.venues, self.sessions, run_id, symbols=self.config.engine.symbols,
                                 since=datetime.now(UTC) - timedelta(days=1),
                                 forgetful=venues.forgetful())
        self.status.note(f"reconciled with venues: {report}")
        executor = PairedExecutor(venues.venues, self.sessions, run_id, risk, config=executor_config(self.config),
                                  clock=self.clock.now)
        await snapshot_balances(venues, self.state, writer, self.clock.now, run_id, "start")
        self._start_positions(venues, risk, run_id)
        # A simulated perpetual's funding payments, stored as they are paid (part of the run's PnL).
        venues.funding_listeners.append(partial(writer.add_funding, run_id))
        await self._store_venue_funding(venues, writer, run_id)  # a live one's: what it paid while nothing ran
        writer.start(self.supervisor.spawn)
        if not self.simulated:  # live venues' order connections stay open through quiet spells
            for name, warm in venues.warmers.items():
                self.supervisor.spawn(f"keep-warm-{name}", warm, venue=name)
        for name, stream in venues.fill_streams.items():  # a maker venue's fills, pushed
            self.supervisor.spawn(f"fill-stream-{name}", stream, venue=name)
        return risk, executor

    def _start_watchers(self, run_id: int, risk: RiskGate, host: str) -> None:
        """What watches the run: the inventory watch, the kill-switch file, the status view, metrics and
        alerts, the dashboard."""
        assert self.venues is not None
        # Which venues can no longer fund max_size, per direction, once a second of the run's clock.
        self.inventory = inventory_watch(self.config, self.venues.venues, self.venues.margin)
        monitoring = self.config.monitoring
        shown = self.status.mode != "off" or monitoring.metrics_port is not None or monitoring.dashboard_port is not None
        if self.config.maker_symbols and shown:
            self.maker_watch = StoreWatch("maker figures", lambda: partial(read_maker_now, self.sessions, run_id))
            self.maker_watch.read_now()
            self.supervisor.spawn("maker-watch", self.maker_watch.run)
        if self.venues.margin and shown:  # a perpetual traded: the desk's equity is its holdings'
            self.holdings_watch = StoreWatch(
                "holdings", lambda: partial(read_holdings, self.sessions, run_id, self._end_books()))
            self.holdings_watch.read_now()
            self.supervisor.spawn("holdings-watch", self.holdings_watch.run)
        if self.config.rebalance.transfers != "off" and self.config.rebalance.assets:
            self.rebalancer = Rebalancer(self.config, self.venues, self.state, self.books, self.sessions, run_id,
                                         now_ms=self.clock.now_ms, simulated=self.simulated)
        view = self._view(run_id, risk, host)
        if self.config.risk.kill_switch_file is not None:
            self.supervisor.spawn("kill-switch", partial(watch_kill_switch, risk))
        self.status.start(run_id, view, self.supervisor.spawn)
        # An alert says which run, in which mode, on which host: a trader may run several.
        self.monitor = Monitor.for_config(self.config, view,
                                          title=f"arb run {run_id} ({mode_shown(self.mode, self.testnet)} on {host})")
        if self.monitor is not None:
            risk.on_event = told_to_all(self.incidents_log.on_risk_event, self.monitor.risk_event)
            if self.rebalancer is not None:
                self.rebalancer.on_plan = self.monitor.transfer_planned
                self.rebalancer.on_failure = self.monitor.transfer_failed
            self.status.note(self.monitor.start(self.supervisor.spawn))
        self.supervisor.spawn("inventory-watch", partial(watch_inventory, self.inventory, self.state.balances,
                                                         self.books, self.clock.now_ms, self._depletion))
        if self.rebalancer is not None:  # inventory kept where it trades
            self.supervisor.spawn("rebalance", self.rebalancer.run)
        if self.config.monitoring.dashboard_port is not None:
            # Its controls reach the engine only through this desk, applied once a check interval on the run's
            # clock through the risk gate and the quoting desk (runtime/operator.py).
            self.operator = OperatorDesk(self.config.engine.symbols, self.config.maker_symbols, self.incidents_log)
            self.operator.risk = risk
            self.supervisor.spawn("operator", self.operator.watch)
            self.dashboard = LiveDashboard(self.db_url, self.config.monitoring.dashboard_port,
                                           incidents=self.incidents_log, operator=self.operator)
            self.status.note(f"dashboard at {self.dashboard.start(run_id, view, self.supervisor.spawn)}")

    def _wire_decisions(self, venues: VenueSet, executor: PairedExecutor, risk: RiskGate,
                        writer: DecisionWriter) -> None:
        """The decision loop (``runtime/decisions.py``) on the run's books, clock and trading parts, with the
        maker symbols' quoting desk (``runtime/quoting.py``) when the config has any."""
        desk = None
        if self.config.maker_symbols:
            assert self.run_id is not None
            desk = self.desk = QuotingDesk(self.config, venues, self.books, self.state, self.sessions, self.run_id,
                                           now=self.clock.now, now_ms=self.clock.now_ms, funnel=self.funnel,
                                           risk=risk)
            found = desk.find_unfinished(self.sessions)  # after reconciliation: the venues' truth
            if found:
                self.status.note(f"{found} quote(s) an earlier run left resting or unhedged: taken over")
            if self.operator is not None:
                self.operator.desk = desk
        self.decisions = self.decision_loop(
            self.config, Trading(venues, executor, risk, writer, self.sessions, desk), books=self.books,
            clock=self.clock,
            state=self.state, funnel=self.funnel, hot_path=self.hot_path, drops=self.drops, status=self.status,
            spawn=self.supervisor.spawn, capture=self.capture, progress=self._progress)
        self.decisions.on_stopped = self._take_closing_books

    async def _trade(self, executor: PairedExecutor) -> None:
        """The decision loop, until the data ends or a stop."""
        assert self.decisions is not None
        if self.simulated and self.status.mode != "off" and self.capture is not None:
            self.status.total_events = count_events(self.capture)  # for the progress bar: every file's
        # Everything built so far (markets, config, imports, the capture's first books) lives for the whole
        # run: frozen out of the collector's view, a full collection no longer walks it on the hot path
        # (pauses of 130-160 ms were seen at 100 symbols x 5 venues).
        gc.freeze()
        # A simulation allocates an instant's events, books and records thousands of times a second, nearly all
        # freed at once by their counts: collecting the youngest generation every 700 allocations (Python's
        # default) walked what survived each time, ~20% of a 100-symbol replay (bench_multisymbol.py). Every
        # 50,000 it costs a few percent. A live run keeps the default: a rarer collection is a longer pause,
        # and a live pause lands on the hot path.
        threshold = gc.get_threshold()
        if self.simulated:
            gc.set_threshold(SIMULATION_GC_THRESHOLD, *threshold[1:])
        try:
            await self.decisions.run()
        finally:
            gc.set_threshold(*threshold)
            if self.desk is not None:  # every quote cancelled, the hedges in flight answered, every pair settled
                try:
                    await self.desk.close()
                finally:
                    self.desk.settle()
            gc.unfreeze()  # a process running several engines (tests, sweep workers) collects them again
            executor.close()

    async def _shut_down(self, venues: VenueSet, writer: DecisionWriter, run_id: int) -> None:
        """Resting orders cancelled and the end balances taken (no market time passes); a supervised task
        that was given up on then fails the run, having stopped it in this same order."""
        with time_held():
            await cancel_resting(venues, self.config.engine.symbols, self.sessions, self.clock.now)
            left = await resolve_own(venues.venues, self.sessions, run_id, clock=self.clock.now)
            if left.found_in_flight:
                log.warning("orders left in flight as the run ended, looked up by client id: %s", left)
            await snapshot_balances(venues, self.state, writer, self.clock.now, run_id, "end")
            await self._store_venue_funding(venues, writer, run_id)
            if self._closing_books is None:  # the decision loop ended before its feeds started
                self._take_closing_books()
        if (fatal := self.stopping.fatal) is not None:
            # An error about the user's input (a damaged capture: file:line) is that one line, and its exit
            # code; anything else is the task's failure.
            raise fatal.cause if isinstance(fatal.cause, ArbError) else fatal

    def _start_positions(self, venues: VenueSet, risk: RiskGate, run_id: int) -> None:
        """The perpetual positions held as the run starts (a live venue's, left by an earlier run or traded
        elsewhere; a simulated venue starts flat), stored: the run's changes are added to them. Each one a
        remembering venue holds is checked against what arb's stored fills imply
        (``runtime/position_check.py``): a line each; a mismatch is an incident and an alert."""
        held = {(name, p.symbol): PositionState(p.amount, p.entry) for name, reading in self.state.margin.items()
                for p in reading.positions if p.amount}
        forgetful = venues.forgetful()
        markets = {(name, symbol) for name, account in venues.margin.items() if name not in forgetful
                   for symbol in account.markets}
        with self.sessions.begin() as session:
            repo.record_opening_positions(session, run_id, held)
            implied = repo.implied_positions(session, markets) if markets else {}
        reported = {key: p.amount for key, p in held.items() if key in markets}
        for check in check_positions(reported, implied):
            if check.agrees:
                log.info("%s", check.describe())
                self.status.note(check.describe())
            else:
                log.warning("%s", check.describe())
                risk.record_position_mismatch(check.venue, check.describe())

    async def _store_venue_funding(self, venues: VenueSet, writer: DecisionWriter, run_id: int) -> None:
        """Live margin accounts' funding not stored yet, read from their venues' funding history and stored as
        this run's (``runtime/balances.venue_funding``): resumed after the latest funding time any run stored,
        or from a day back on a database that has none (as reconciliation looks back)."""
        def last(venue: str, symbol: str) -> datetime | None:
            seen = self._funding_stored.get((venue, symbol))
            with self.sessions() as session:
                stored = repo.last_funding(session, venue, symbol)
            known = [t for t in (seen, stored) if t is not None]
            return max(known) if known else None

        for payment in await venue_funding(venues, last, self.clock.now() - timedelta(days=1)):
            writer.add_funding(run_id, payment)
            self._funding_stored[(payment.venue, payment.symbol)] = payment.ts

    async def _tear_down(self, venues: VenueSet, writer: DecisionWriter) -> None:
        """Whatever ended the run: the status view stopped, the monitor's final numbers and queued alerts
        sent, the writer flushed, the venues closed, every supervised task stopped (signals are given back
        when :meth:`run` ends)."""
        for watch in (self.maker_watch, self.holdings_watch):  # quotes cancelled, pairs settled: the summary's
            if watch is None:
                continue
            try:
                watch.finish()
            except SQLAlchemyError as exc:  # the surfaces keep the figures last read; the summary reads its own
                log.warning("%s: the final read failed (%s); the live surfaces show the last read", watch.what,
                            type(exc).__name__)
        self.status.stop()
        try:
            if self.monitor is not None:
                await self.monitor.finish()
            await writer.close()
        finally:
            await venues.close()
            await self.supervisor.close()

    def _end(self, db: RunDatabase, run_id: int) -> RunResult:
        """The run's summary onto its row, ``completed`` or ``halted`` (with the line a trader acts on)."""
        db.check_kept(run_id)
        summary = self._summary(run_id)
        halted = halt_reason(self.state.stop_reason, summary, self.mode) if self.state.halted else None
        db.end_run(run_id, summary, halted, self._market_span())
        self._ended = True
        log.info("run %d ended: %d executed, %d rejected%s", run_id, self.funnel.executed,
                 sum(self.funnel.rejected.values()),
                 f" ({self.state.stop_reason})" if self.state.stop_reason else "")
        db.dispose()
        return RunResult(run_id, summary, self.funnel, self.hot_path, interrupted=self.stopping.signals > 0,
                         halted=halted)

    def _record_failure(self, reason: str) -> None:
        """The run (if recorded and not ended) ends ``failed`` (``engine/database.py``)."""
        if self.run_id is None or self._ended or self._db is None:
            return
        self._db.fail_run(self.run_id, reason, self._market_span())

    def _record_forced(self, db: RunDatabase, run_id: int, writer: DecisionWriter, signame: str) -> str:
        """A second signal forces the exit (``engine/stopping.py``): the run's row ``crashed``, saying why and
        what the exit loses (the decisions still queued for the writer); the line for the user."""
        queued = writer.pending
        lost = f"{queued} queued decision row{'s' if queued != 1 else ''} not written; " if queued else ""
        reason = f"forced to exit by a second {signame}: {lost}orders in flight are reconciled at the next start"
        if not db.force_end(run_id, reason):
            return f"arb: forced to exit by a second {signame}; run {run_id} had already ended"
        return f"arb: run {run_id} recorded as crashed: {reason}"

    # ------------------------------------------------------------------ what the run shows
    def _view(self, run_id: int, risk: RiskGate, host: str) -> RunView:
        """What the status view, the metrics and the alerts read of this run (``runtime/view.py``)."""
        state = self.state
        return RunView(self.funnel, self.books, self.clock, self.incidents, run_id=run_id, counters=self.counters,
                       balances=MappingProxyType(state.free),
                       stale_balances=lambda: frozenset(state.stale_balances), risk=risk.state,
                       trades=state.trades, hot_path=self.hot_path, stop_reason=self.stop_reason,
                       mode=self.mode, testnet=self.testnet, host=host, inventory=self.inventory, maker=self.maker_watch,
                       margin=MappingProxyType(state.margin), holdings=self.holdings_watch,
                       transfer_fees=self.rebalancer.transfer_fees if self.rebalancer is not None else None)

    def _depletion(self, change: Depletion) -> None:
        """The inventory watch saw a direction become depleted or funded again: an incident, an alert."""
        self.incidents_log.on_depletion(change)
        if self.monitor is not None:
            self.monitor.depletion(change)

    def _progress(self, events: int, market_ms: int) -> None:
        """A simulation's market source has played ``events``, up to ``market_ms``."""
        self.status.done_events = events
        self._market_ms = market_ms

    def _market_span(self) -> dict[str, datetime | None]:
        return market_span(self.clock, self._market_ms)

    def _summary(self, run_id: int) -> dict[str, Any]:
        feeds = self.feeds
        marks, books = self._closing_books or (self._marks(), self._end_books())
        return run_summary(self.sessions, run_id, marks, books, funnel=self.funnel,
                           hot_path=self.hot_path,
                           stop_reason=self.stop_reason(), incidents=self.incidents_log.incidents,
                           state=self.state, handled={**self.incidents(), **({"testnet": list(self.testnet)}
                                                                               if self.testnet else {})},
                           market_trades=(feeds.market_trades if feeds is not None else 0) if self.simulated else None,
                           queue_models=self.venues.queue_models() if self.simulated and self.venues is not None
                           else None)

    def stop_reason(self) -> str | None:
        """Why trading stopped: what stopped the run (a halt, a signal, an error), else an incident still open
        (a kill switch engaged now); one that cleared is no reason (``runtime/incidents.py``)."""
        if self.state.stop_reason is not None:
            return self.state.stop_reason
        incident = self.incidents_log.still_open()
        return f"{incident.kind.replace('_', ' ')}: {incident.detail}" if incident is not None else None

    def _take_closing_books(self) -> None:
        """The books the run ends with, for its summary: taken as trading stops, since a live feed empties its
        books when it is closed."""
        self._closing_books = (self._marks(), self._end_books())

    def _marks(self) -> dict[tuple[str, str], Decimal | None]:
        """Every book's mid now: the valuation rule's marks (``arb/positions.py``) at the run's end."""
        return {(book.venue, book.symbol): mid(book.best_bid(), book.best_ask()) for book in self.books}

    def _end_books(self) -> dict[tuple[str, str], EndBook]:
        """Every book's levels now, with its venue's taker fee: what closing the run's holdings would get
        (``arb/valuation.py``) at the run's end."""
        fees = {name: section.taker_fee for name, section in self.config.venues.items()}
        now_ms = int(self.clock.now().timestamp() * 1000)
        stale = self.config.engine.stale_after_ms

        def age(book: Any) -> int | None:
            seen = book.received_ts
            return None if seen is None or now_ms - seen <= stale else now_ms - seen

        # Each book's levels as held, made Decimals only where the valuation reads them (the markets the run
        # holds something in): all 500 books of 100 symbols x 5 venues had cost ~50 ms of the run's end.
        return {(book.venue, book.symbol): EndBook(book.held("bids"), book.held("asks"), fees[book.venue], age(book))
                for book in self.books if book.venue in fees}

    def incidents(self) -> dict[str, Any]:
        """What went wrong underneath and was handled: malformed frames dropped (venue -> reason -> count),
        supervised task restarts (task -> count), silent feeds resubscribed (venue -> count), orders held back
        by a venue's order budget and its headroom (venue -> ``OrderBudget.snapshot``); in a simulation, the
        venues whose feed latency the capture could not say, and simulated books found crossed (venue ->
        symbol -> ``VenueSet.crossed_books``)."""
        return {
            "feed_drops": self.drops.by_venue(),
            "task_restarts": dict(sorted(self.supervisor.restarts.items())),
            "stale_resubscribes": dict(sorted(self.feeds.resubscribes.items())) if self.feeds is not None else {},
            "order_budget": self.venues.order_budget() if self.venues is not None else {},
            "feed_latency_unread": list(self.feeds.unread_latency) if self.feeds is not None else [],
            "sim_books_crossed": self.venues.crossed_books() if self.venues is not None else {},
        }

    def counters(self) -> dict[str, Any]:
        """How the run's plumbing is doing, for the metrics (``arb_feed_*``, ``arb_fill_stream_*``,
        ``arb_requests_held_total``, ``arb_decisions_written_total``), each figure read from its one counter:
        each live book feed's connections, snapshots and frames (venue -> ``counts()``; none in a
        simulation), each maker venue's fill stream (venue -> ``counts()``), each throttled venue's requests
        held back (venue -> ``VenueThrottle.held``), and the decisions the writer has stored."""
        feeds = self.feeds
        venues = self.venues
        return {
            "feeds": {name: feed.counts() for name, feed in sorted(feeds.feeds.items())} if feeds is not None else {},
            "fill_streams": ({name: counts() for name, counts in sorted(venues.fill_stream_counts.items())}
                             if venues is not None else {}),
            "requests_held": venues.requests_held() if venues is not None else {},
            "decisions_written": self.decisions.trading.writer.written if self.decisions is not None else 0,
        }


def _liquidation(reading: AccountMargin) -> str:
    """The nearest liquidation of a margin account's positions, for an alert's line."""
    near = [p for p in reading.positions if p.distance is not None]
    if not near:
        return ""
    p = min(near, key=lambda p: p.distance or 0)
    return f"; {p.symbol} {p.amount.normalize():f} liquidated at {p.liquidation:.6g} ({p.distance:.1%} away)"


def _inverse_market(config: Config, venues: VenueSet) -> tuple[str, str] | None:
    """The first (venue, symbol) whose market is an inverse perpetual, as the open venues report them."""
    for name, venue in venues.venues.items():
        for symbol in config.venue_markets(name).symbols:
            if venue.market_rules(symbol).kind is MarketKind.INVERSE_PERPETUAL:
                return name, symbol
    return None
