"""Prometheus metrics of one run, served on 127.0.0.1 (``[monitoring] metrics_port``; off by default).

Every value is read from the run's :class:`~arb.runtime.view.RunView` snapshot, the numbers the status
view shows, and, by the end of a run, the numbers its summary reports (``tests/monitoring`` checks both).
The snapshot is taken on the run's event loop by :meth:`RunMetrics.refresh` (on the monitor's timer and
once more when the run ends); the HTTP server's thread only reads the last one taken, so a scrape never
touches the engine's objects while they change, nor the database.

Families (``arb_`` prefix; money in the quote currency, amounts in base units, times in seconds):

=====================================  =========  =============================================================
``book_health{venue,symbol,health}``   gauge      1 for the book's current health, 0 for the others
``book_age_seconds{venue,symbol}``     gauge      since the book last changed, on the run's clock
``book_updates_total``                 counter    book updates from every venue (``rate()``: updates/s)
``funnel_total{stage}``                counter    evaluations, crossed, profitable_after_fees, approved, executed
``rejections_total{reason}``           counter    decisions not traded, by reason (detection and executor)
``trades_total{outcome}``              counter    executed pairs by outcome (hedged, imbalanced, halted, ...)
``orders_total{venue,status}``         counter    orders the executor sent (taker pairs), by the status they
                                                  resolved to; a maker route's are ``maker_*`` below
``fills_total{venue}``                 counter    fills those orders carried
``pnl_quote{kind}``                    gauge      expected and realized (settled) PnL of executed pairs
``unsettled_pairs``                    gauge      executed pairs with an order not yet final
``balance{venue,asset}``               gauge      free balance as last read
``exposure{venue,asset}``              gauge      signed unhedged base left by pairs (risk gate)
``breaker_state{venue,state}``         gauge      1 for the breaker's state (closed, open, half_open)
``kill_switch``                        gauge      1 while the kill switch (or a halt) stops new trades
``daily_pnl_quote``                    gauge      realized today (UTC, run's clock); the limit is
``daily_loss_limit_quote``             gauge      ... this, as a positive number
``hot_path_latency_seconds``           histogram  book update -> decision, per decision (host time)
``order_latency_seconds{venue,clock}`` histogram  order handed to the venue -> its answer, on each clock:
                                                  ``market`` the run's clock (the stored ``acked_at -
                                                  sent_at`` the summary's latencies are; a simulation's
                                                  venue latency), ``host`` the machine's performance counter
``run_info{run_id,mode,host}``         gauge      1: which run, in which mode, on which machine
``open_position{venue,asset}``         gauge      signed base the settled pairs left open (arb.positions)
``unrealized_pnl_quote{quote}``        gauge      the open positions at each book's mid now (absent: no mark)
``equity_quote{quote}``                gauge      realized + unrealized - transfer fees (absent: a position has no mark)
``route_realized_pnl_quote{symbol,     gauge      realized (settled) PnL per route: buy venue -> sell venue
buy_venue,sell_venue}``
``inventory_seconds_to_empty{venue,    gauge      free balance / its fall over the last 300 s of the run's
asset}``                                          clock (market time in a simulation); +Inf: not falling
``inventory_depleted{venue,asset}``    gauge      directions whose max_size the asset cannot fund there now
``order_budget_held_total{venue,       counter    orders a venue's order budget held back: ``waited`` for room
outcome}``                                        then sent, ``refused`` before they left (arb/venues/throttle.py)
``order_budget_headroom{venue,         gauge      room left in each window now: its orders less those in it
window}``                                         (``100/10s``; a ``per market`` window: on its fullest market)
``requests_held_total{venue,by}``      counter    requests the throttle held back before they left: by a
                                                  ``reset`` the venue announced (a 429), by our own ``budget``
``feed_connections_total{venue}``      counter    a book feed's WebSocket connections (1 + reconnects)
``feed_snapshots_total{venue}``        counter    book snapshots fetched: each book's first sync, every resync
``feed_frames_total{venue,outcome}``   counter    a book feed's frames: ``applied``, ``ignored``, ``dropped``
                                                  (malformed: its book resynced), ``trade``, ``funding``
``feed_errors_total{venue}``           counter    a ccxt book feed's failed watches or polls (book reset)
``fill_stream_connections_total{       counter    a maker venue's private fill stream: connections (1 +
venue}``                                          reconnects)
``fill_stream_trades_total{venue,      counter    the account's trades it heard: ``pushed``, ``recovered`` by
outcome}``                                        REST after a reconnect, ``duplicate`` pushes left out
``fill_stream_malformed_total{venue}`` counter    its frames or REST rows that could not be read (logged)
``fill_stream_reconciliations_total{   counter    REST reconciliations after a (re)connection
venue}``
``decisions_written_total``            counter    decisions not traded the writer stored in the run's database
                                                  (a traded pair's row is the executor's)
=====================================  =========  =============================================================

A maker route's families (labels ``symbol``, ``maker_venue``, ``taker_venue``) are the snapshot's ``maker``
rows: :mod:`arb.store.maker_views`' figures, the run summary's maker lines, as the maker watch last read them
from the run's database (``runtime/store_watch.py``; in a worker thread, and once more at the end):

=====================================  =========  =============================================================
``maker_quotes_total``                 counter    quote orders sent
``maker_quotes_refused_total``         counter    ... the venue refused (post-only would take, funds)
``maker_quotes_filled_total``          counter    ... with at least one fill
``maker_fills_total``                  counter    the quotes' fills
``maker_hedges_total``                 counter    hedge orders sent
``maker_flattens_total``               counter    the leg policy's flatten orders
``maker_resting_quotes``               gauge      quotes resting on the maker venue now
``maker_fill_to_hedge_seconds{stat}``  gauge      a fill seen -> its hedge sent: ``median``, ``max``
``maker_unhedged_seconds{stat}``       gauge      a pair's first fill -> its last hedge fill: ``median``, ``max``
``maker_unhedged_base``                gauge      base filled on the maker venue no hedge answered
``maker_pnl_quote{part}``              gauge      the settled pairs' slippage: ``adverse`` selection, ``hedge``
                                                  slippage
=====================================  =========  =============================================================

A registry per run (not prometheus_client's global one): two runs in one process never clash.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from arb.errors import ArbError
from arb.marketdata.book import Health
from arb.runtime.latency import LatencyRecorder
from arb.runtime.view import RunView

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# Upper bounds, in seconds. The hot path is microseconds (a numpy detection call); an order's round trip
# to a venue is milliseconds to seconds.
HOT_PATH_BUCKETS_S = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1)
ORDER_BUCKETS_S = (1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FUNNEL_STAGES = ("evaluations", "crossed", "profitable_after_fees", "approved", "executed")
BREAKER_STATES = ("closed", "open", "half_open")


class Buckets:
    """A histogram of a growing :class:`LatencyRecorder`, counting only the samples added since the last
    :meth:`update` (a long run's millions of samples are bucketed once each), and those the recorder is about
    to fold (it calls :meth:`update` first). One recorder a histogram."""

    def __init__(self, bounds_s: Sequence[float]) -> None:
        self.bounds_s = tuple(bounds_s)
        self._bounds_ns = np.array([round(b * 1e9) for b in bounds_s], dtype=np.int64)
        self._counts = np.zeros(len(bounds_s) + 1, dtype=np.int64)  # the last one: above every bound
        self._sum_ns = 0
        self._seen = 0
        self._recorder: LatencyRecorder | None = None

    def update(self, recorder: LatencyRecorder) -> None:
        if self._recorder is not recorder:  # its first read: the samples it folds away are read here first
            self._recorder = recorder
            recorder.before_fold(self.update)
        new = np.frombuffer(recorder.samples(self._seen), dtype=np.int64)
        self._seen += len(new)
        if len(new):
            # side="left": a sample equal to a bound belongs to that bound's bucket (Prometheus's ``le``).
            self._counts += np.bincount(np.searchsorted(self._bounds_ns, new, side="left"),
                                        minlength=len(self._counts))
            self._sum_ns += int(new.sum())

    def cumulative(self) -> tuple[list[tuple[str, float]], float]:
        """``([(le, cumulative count), ..., ("+Inf", count)], sum in seconds)`` as the family takes them."""
        running = np.cumsum(self._counts)
        les = [repr(b) for b in self.bounds_s] + ["+Inf"]
        return [(le, float(n)) for le, n in zip(les, running, strict=True)], self._sum_ns / 1e9


class RunMetrics:
    """The run's metrics: :meth:`refresh` on the run's loop, :meth:`serve` once, :meth:`close` at the end."""

    def __init__(self, view: RunView) -> None:
        self.view = view
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Families(self))
        self.port: int | None = None
        self._hot = Buckets(HOT_PATH_BUCKETS_S)
        self._orders: dict[tuple[str, str], Buckets] = {}  # (venue, clock)
        # What a scrape reads: replaced whole by refresh() (one assignment), never changed in place.
        self.published: tuple[dict[str, Any], Any, dict[tuple[str, str], Any]] | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def serve(self, port: int) -> int:
        """Serve ``/metrics`` on 127.0.0.1:``port`` (0: a free port) in a daemon thread; the port."""
        try:
            self._server, self._thread = start_http_server(port, addr=HOST, registry=self.registry)
        except OSError as exc:
            raise ArbError(f"[monitoring] metrics_port {port}: cannot listen on {HOST} ({exc.strerror or exc})") from None
        self.port = int(self._server.server_address[1])
        return self.port

    def refresh(self, snapshot: dict[str, Any] | None = None) -> None:
        """Publish ``snapshot`` (default: the view's, now) and the latency histograms now, on the run's
        event loop."""
        snapshot = self.view.snapshot() if snapshot is None else snapshot
        if self.view.hot_path is not None:
            self._hot.update(self.view.hot_path)
        if self.view.trades is not None:
            trades = self.view.trades
            for clock, recorders in (("market", trades.order_latency_market), ("host", trades.order_latency)):
                for venue, recorder in sorted(dict(recorders).items()):
                    self._orders.setdefault((venue, clock), Buckets(ORDER_BUCKETS_S)).update(recorder)
        self.published = (snapshot, self._hot.cumulative(),
                          {key: b.cumulative() for key, b in self._orders.items()})

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class _Families(Collector):
    """The families above, built from the last published snapshot at each scrape."""

    def __init__(self, metrics: RunMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        published = self._metrics.published
        if published is None:  # before the first refresh: nothing to say yet
            return
        snap, hot, orders = published
        yield from _books(snap)
        yield from _funnel(snap)
        yield from _orders(snap)
        yield from _money(snap)
        yield from _risk(snap)
        yield from _run(snap)
        yield from _positions(snap)
        yield from _inventory(snap)
        yield from _order_budget(snap)
        yield from _counters(snap.get("counters"))
        yield from _maker(snap.get("maker") or [])
        yield from _margin(snap.get("margin") or {})
        hist = HistogramMetricFamily("arb_hot_path_latency_seconds", "Book update to decision, per decision.")
        hist.add_metric([], *hot)
        yield hist
        per_venue = HistogramMetricFamily(
            "arb_order_latency_seconds", "Order handed to the venue to its answer, on the run's (market) or the "
            "host's clock.", labels=["venue", "clock"])
        for (venue, clock), (buckets, total) in sorted(orders.items()):
            per_venue.add_metric([venue, clock], buckets, total)
        yield per_venue


def _run(snap: dict[str, Any]) -> Iterator[Metric]:
    info = GaugeMetricFamily("arb_run_info", "1: the run, its mode and host.", labels=["run_id", "mode", "host"])
    info.add_metric([str(snap["run_id"]), snap.get("mode") or "", snap.get("host") or ""], 1.0)
    yield info


def _positions(snap: dict[str, Any]) -> Iterator[Metric]:
    held: dict[tuple[str, str], Decimal] = {}
    for p in snap.get("positions") or ():
        key = (p["venue"], p["symbol"].split("/")[0])
        held[key] = held.get(key, Decimal(0)) + Decimal(p["amount"])
    position = GaugeMetricFamily("arb_open_position", "Signed base the settled pairs left open.",
                                 labels=["venue", "asset"])
    for (venue, asset), amount in sorted(held.items()):
        position.add_metric([venue, asset], float(amount))
    yield position
    holdings = snap.get("holdings")
    # A run that traded a perpetual: its equity is its holdings' at mark (arb/valuation.py), one figure.
    equity = holdings["equity_at_mark"] if holdings else snap.get("equity")
    for name, values, text in (
            ("arb_unrealized_pnl_quote", snap.get("unrealized_pnl"), "Open positions at each book's mid now."),
            ("arb_equity_quote", equity, "Realized plus unrealized PnL less transfer fees (with a perpetual: holdings at the mids)."),
            ("arb_equity_at_unwind_quote", holdings and holdings["equity_at_unwind"],
             "Holdings closed into the books now, taker fees paid (a run that traded a perpetual)."),
            ("arb_realized_closed_quote", holdings and holdings["realized"],
             "What closed: reductions, fees and funding (a run that traded a perpetual)."),
            ("arb_funding_quote", holdings and holdings["funding"], "Funding received (< 0: paid).")):
        family = GaugeMetricFamily(name, text, labels=["quote"])
        for quote, value in (values or {}).items():
            if value is not None:  # no mark: unknown, not 0
                family.add_metric([quote], _float(value))
        yield family
    routes = GaugeMetricFamily("arb_route_realized_pnl_quote", "Realized PnL per route (buy venue -> sell venue).",
                               labels=["symbol", "buy_venue", "sell_venue"])
    for r in snap.get("realized_by_route") or ():
        routes.add_metric([r["symbol"], r["buy_venue"], r["sell_venue"]], _float(r["realized"]))
    yield routes


def _inventory(snap: dict[str, Any]) -> Iterator[Metric]:
    inventory = snap.get("inventory")
    if inventory is None:
        return
    empty = GaugeMetricFamily("arb_inventory_seconds_to_empty", "Free balance over its fall in the last "
                              f"{inventory['window_s']:g} s of the run's clock; +Inf: not falling.",
                              labels=["venue", "asset"])
    depleted = GaugeMetricFamily("arb_inventory_depleted", "Directions whose max_size the asset cannot fund.",
                                 labels=["venue", "asset"])
    count: dict[tuple[str, str], int] = {}
    for d in inventory["depleted"]:
        count[(d["venue"], d["asset"])] = count.get((d["venue"], d["asset"]), 0) + 1
    for row in inventory["seconds_to_empty"]:
        key = (row["venue"], row["asset"])
        empty.add_metric(list(key), math.inf if row["seconds"] is None else row["seconds"])
        depleted.add_metric(list(key), float(count.get(key, 0)))
    yield empty
    yield depleted


def _order_budget(snap: dict[str, Any]) -> Iterator[Metric]:
    budgets = (snap.get("incidents") or {}).get("order_budget") or {}
    held = CounterMetricFamily("arb_order_budget_held", "Orders a venue's order budget held back: waited for room, "
                               "or refused before they left.", labels=["venue", "outcome"])
    headroom = GaugeMetricFamily("arb_order_budget_headroom", "Room left now in each window of a venue's order "
                                 "budget.", labels=["venue", "window"])
    for venue, use in budgets.items():
        for outcome in ("waited", "refused"):
            held.add_metric([venue, outcome], use[outcome])
        for window, n in use["headroom"].items():
            headroom.add_metric([venue, window], float(n))
    yield held
    yield headroom


def _counters(counters: dict[str, Any] | None) -> Iterator[Metric]:
    """The run's plumbing (``Engine.counters``): book feeds, fill streams, requests held, decisions written."""
    if counters is None:
        return
    feeds, streams = counters["feeds"], counters["fill_streams"]
    for name, doc, key in (
            ("arb_feed_connections", "A book feed's WebSocket connections: 1 + reconnects.", "connections"),
            ("arb_feed_snapshots", "Book snapshots a feed fetched: each book's first sync and every resync.",
             "snapshots"),
            ("arb_feed_errors", "A ccxt book feed's failed watches or polls (the book reset, retried).", "errors")):
        yield _counts(name, doc, "venue", {venue: c[key] for venue, c in feeds.items() if key in c})
    frames = CounterMetricFamily("arb_feed_frames", "A book feed's frames, by what became of each.",
                                 labels=["venue", "outcome"])
    for venue, c in feeds.items():
        for outcome, n in (c.get("frames") or {}).items():
            frames.add_metric([venue, outcome], n)
    yield frames
    for name, doc, key in (
            ("arb_fill_stream_connections", "A private fill stream's connections: 1 + reconnects.", "connections"),
            ("arb_fill_stream_malformed", "Private-stream frames or REST rows that could not be read.", "malformed"),
            ("arb_fill_stream_reconciliations", "Reconciliations by REST after a (re)connection.", "reconciliations")):
        yield _counts(name, doc, "venue", {venue: c[key] for venue, c in streams.items() if key in c})
    fills = CounterMetricFamily("arb_fill_stream_trades", "Trades of the account the private stream heard: "
                                "delivered by push, recovered by REST, or a push repeated (left out).",
                                labels=["venue", "outcome"])
    for venue, c in streams.items():
        for outcome, key in (("pushed", "pushed"), ("recovered", "recovered"), ("duplicate", "duplicates")):
            if key in c:
                fills.add_metric([venue, outcome], c[key])
    yield fills
    held = CounterMetricFamily("arb_requests_held", "Requests the throttle held back before they left: by a "
                               "window the venue announced (reset), by our own limits (budget).",
                               labels=["venue", "by"])
    for venue, by in counters["requests_held"].items():
        for cause, n in by.items():
            held.add_metric([venue, cause], n)
    yield held
    written = CounterMetricFamily("arb_decisions_written", "Decisions not traded the writer stored in the run's database.")
    written.add_metric([], counters["decisions_written"])
    yield written


def _books(snap: dict[str, Any]) -> Iterator[Metric]:
    health = GaugeMetricFamily("arb_book_health", "1 for the book's current health.",
                               labels=["venue", "symbol", "health"])
    age = GaugeMetricFamily("arb_book_age_seconds", "Since the book last changed, on the run's clock.",
                            labels=["venue", "symbol"])
    for book in snap["books"]:
        for state in Health:
            health.add_metric([book["venue"], book["symbol"], state.value], float(book["health"] == state.value))
        if book["age_ms"] is not None:
            age.add_metric([book["venue"], book["symbol"]], book["age_ms"] / 1000)
    yield health
    yield age


def _funnel(snap: dict[str, Any]) -> Iterator[Metric]:
    f = snap["funnel"]
    updates = CounterMetricFamily("arb_book_updates", "Book updates from every venue.")
    updates.add_metric([], f["book_updates"])
    yield updates
    yield _counts("arb_funnel", "Decisions at each stage of the funnel.", "stage",
                  {stage: f[stage] for stage in FUNNEL_STAGES})
    yield _counts("arb_rejections", "Decisions not traded, by reason.", "reason", f["rejected"])
    yield _counts("arb_trades", "Executed pairs by outcome.", "outcome", f["outcomes"])


def _orders(snap: dict[str, Any]) -> Iterator[Metric]:
    orders = CounterMetricFamily("arb_orders", "Orders the executor sent, by resolved status.",
                                 labels=["venue", "status"])
    for venue, statuses in snap["orders"].items():
        for status, n in statuses.items():
            orders.add_metric([venue, status], n)
    yield orders
    yield _counts("arb_fills", "Fills of the executor's orders.", "venue", snap["fills"])


def _money(snap: dict[str, Any]) -> Iterator[Metric]:
    f = snap["funnel"]
    pnl = GaugeMetricFamily("arb_pnl_quote", "PnL of executed pairs, quote currency.", labels=["kind"])
    pnl.add_metric(["expected"], _float(f["expected_profit"]))
    pnl.add_metric(["realized"], _float(f["realized_pnl"]))
    yield pnl
    yield GaugeMetricFamily("arb_unsettled_pairs", "Executed pairs with an order not yet final.",
                            value=f["unsettled"])
    yield _per_asset("arb_balance", "Free balance as last read.", snap["balances"])
    yield _per_asset("arb_exposure", "Signed unhedged base left by pairs.", snap["exposure"])


def _risk(snap: dict[str, Any]) -> Iterator[Metric]:
    risk = snap["risk"]
    if risk is None:
        return
    breakers = GaugeMetricFamily("arb_breaker_state", "1 for the venue breaker's state.", labels=["venue", "state"])
    venues = sorted({book["venue"] for book in snap["books"]} | set(risk["breakers"]))
    for venue in venues:  # a venue with no failure since its last success is closed
        current = risk["breakers"].get(venue, {"state": "closed"})["state"]
        for state in BREAKER_STATES:
            breakers.add_metric([venue, state], float(current == state))
    yield breakers
    yield GaugeMetricFamily("arb_kill_switch", "1 while the kill switch (or a halt) stops new trades.",
                            value=float(risk["kill_switch"]))
    yield GaugeMetricFamily("arb_daily_pnl_quote", "Realized PnL today (UTC, run's clock).",
                            value=_float(risk["pnl_today"]))
    yield GaugeMetricFamily("arb_daily_loss_limit_quote", "The daily loss limit, a positive number.",
                            value=_float(risk["daily_loss_limit"]))


def _margin(accounts: dict[str, Any]) -> Iterator[Metric]:
    """Margin accounts (arb/margin.py, as the view's snapshot holds them): the ratio the risk gate halts on,
    and per position its size, liquidation price and the distance to it."""
    if not accounts:
        return
    ratio = GaugeMetricFamily("arb_margin_ratio", "Maintenance margin over margin balance (liquidation at 1).",
                              labels=["venue"])
    position = GaugeMetricFamily("arb_perp_position", "Signed base of a perpetual position.", labels=["venue", "symbol"])
    liquidation = GaugeMetricFamily("arb_liquidation_price", "The mark a position is liquidated at.",
                                    labels=["venue", "symbol"])
    distance = GaugeMetricFamily("arb_liquidation_distance", "How far the mark may move against a position "
                                 "before liquidation, a fraction of the mark.", labels=["venue", "symbol"])
    for venue, account in sorted(accounts.items()):
        if account["ratio"] is not None:
            ratio.add_metric([venue], _float(account["ratio"]))
        for p in account["positions"]:
            position.add_metric([venue, p["symbol"]], _float(p["amount"]))
            for family, key in ((liquidation, "liquidation"), (distance, "distance")):
                if p[key] is not None:
                    family.add_metric([venue, p["symbol"]], _float(p[key]))
    yield from (ratio, position, liquidation, distance)


_ROUTE = ["symbol", "maker_venue", "taker_venue"]


def _maker(routes: list[dict[str, Any]]) -> Iterator[Metric]:
    if not routes:
        return

    def labels(r: dict[str, Any]) -> list[str]:
        return [r["symbol"], r["maker_venue"], r["taker_venue"]]

    for name, doc, key in (
            ("arb_maker_quotes", "Quote orders sent.", "quotes"),
            ("arb_maker_quotes_refused", "Quotes the venue refused.", "refused"),
            ("arb_maker_quotes_filled", "Quotes with at least one fill.", "quotes_filled"),
            ("arb_maker_fills", "The quotes' fills.", "maker_fills"),
            ("arb_maker_hedges", "Hedge orders sent.", "hedges"),
            ("arb_maker_flattens", "The leg policy's flatten orders.", "flattens")):
        counter = CounterMetricFamily(name, doc, labels=_ROUTE)
        for r in routes:
            counter.add_metric(labels(r), r[key])
        yield counter
    resting = GaugeMetricFamily("arb_maker_resting_quotes", "Quotes resting on the maker venue now.", labels=_ROUTE)
    for r in routes:
        resting.add_metric(labels(r), float(r["resting"]))
    yield resting
    for name, doc, key in (
            ("arb_maker_fill_to_hedge_seconds", "A fill seen to its hedge sent.", "fill_to_hedge_ms"),
            ("arb_maker_unhedged_seconds", "A pair's first fill to the hedge fill completing it.", "unhedged_ms")):
        family = GaugeMetricFamily(name, doc, labels=[*_ROUTE, "stat"])
        for r in routes:
            if r[key] is not None:  # no pair yet: no figure, not 0
                for stat in ("median", "max"):
                    family.add_metric([*labels(r), stat], float(Decimal(r[key][stat]) / 1000))
        yield family
    unhedged = GaugeMetricFamily("arb_maker_unhedged_base", "Base filled on the maker venue no hedge answered.",
                                 labels=_ROUTE)
    pnl = GaugeMetricFamily("arb_maker_pnl_quote", "The settled pairs' slippage: adverse selection, hedge slippage.",
                            labels=[*_ROUTE, "part"])
    for r in routes:
        unhedged.add_metric(labels(r), _float(r["unhedged_base"]))
        pnl.add_metric([*labels(r), "adverse"], _float(r["adverse"]))
        pnl.add_metric([*labels(r), "hedge"], _float(r["hedge_slippage"]))
    yield unhedged
    yield pnl


def _counts(name: str, doc: str, label: str, counts: dict[str, int]) -> CounterMetricFamily:
    """A counter per key of ``counts`` (in its order), labelled ``label``."""
    family = CounterMetricFamily(name, doc, labels=[label])
    for key, n in counts.items():
        family.add_metric([key], n)
    return family


def _per_asset(name: str, doc: str, amounts: dict[str, dict[str, str]]) -> GaugeMetricFamily:
    """A gauge per venue and asset of ``amounts`` (venue -> asset -> exact decimal string)."""
    family = GaugeMetricFamily(name, doc, labels=["venue", "asset"])
    for venue, assets in amounts.items():
        for asset, amount in assets.items():
            family.add_metric([venue, asset], _float(amount))
    return family


def _float(exact: str) -> float:
    """Prometheus samples are floats: the exact decimal string, rounded once, here."""
    return float(Decimal(exact))
