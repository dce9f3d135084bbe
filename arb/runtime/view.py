"""What the live surfaces (status view, Prometheus metrics, dashboard) see of a running engine: a
:class:`RunView`, read-only, and its :meth:`RunView.snapshot` in plain JSON-able values.

Every number a surface shows is read here, from the object that defines it: the funnel's counters and
PnL running sums (``runtime/funnel.py``), the books' health and age (``OrderBook.health``), balances as
the run last read them (``runtime/balances.py``), risk state and unhedged exposure
(:meth:`RiskGate.state <arb.execution.risk.RiskGate.state>`), and the executor's orders, fills and recent
trades (``runtime/trades.py``). Nothing here queries the database.

The view holds live references into the run: read it (and call :meth:`RunView.snapshot`) on the run's
event loop, where those objects change. A surface in another thread reads a snapshot taken there.

Snapshot shape (money and amounts are exact decimal strings; times are ISO 8601 UTC on the run's clock;
``market_time_ms`` is the run's clock in ms)::

    {"run_id": 7, "market_time_ms": 1629417600000, "stop_reason": null,
     "books": [{"venue": "gate", "symbol": "LINK/USDT", "health": "live", "age_ms": 12}],
     "funnel": {"book_updates": 1200, "evaluations": .., "crossed": .., "profitable_after_fees": ..,
                "approved": .., "executed": 3, "rejected": {"below_min_edge": 2}, "rejected_total": 2,
                "outcomes": {"filled": 3}, "expected_profit": "0.0123", "realized_pnl": "0.0119",
                "unsettled": 0},
     "balances": {"gate": {"LINK": "200", "USDT": "5000"}}, "stale_balances": [],
     "exposure": {"gate": {"LINK": "0.01"}},
     "risk": {"kill_switch": false, "kill_reason": null, "pnl_today": "0.0119", "daily_loss_limit": "50",
              "daily_limit_reached": false, "auth_failed": [],
              "breakers": {"gate": {"state": "open", "failures": 3, "open_until": "2021-08-20T00:01:00+00:00"}}},
     "orders": {"gate": {"filled": 3}}, "fills": {"gate": 3},
     "recent_trades": [{"opportunity_id": 12, "at": "..", "symbol": "LINK/USDT", "buy_venue": "gate",
                        "sell_venue": "htx", "size": "1.5", "expected": "0.0041", "realized": "0.0040",
                        "outcome": "filled"}],
     "hot_path": {"count": 1190},
     "incidents": {"feed_drops": {}, "task_restarts": {}, "stale_resubscribes": {},
                   "order_budget": {"gate": {"waited": 0, "refused": 0, "headroom": {"10/1s per market": 10}}}},
     "mode": "paper", "host": "box1",
     "positions": [{"venue": "gate", "symbol": "LINK/USDT", "amount": "-19.99", "cost": "27.01",
                    "mark": "27.035", "unrealized": "-0.49975"}],
     "unrealized_pnl": {"USDT": "-0.49975"}, "equity": {"USDT": "-0.48785"},
     "realized_by_route": [{"symbol": "LINK/USDT", "buy_venue": "htx", "sell_venue": "gate",
                            "realized": "0.0119"}],
     "inventory": {"window_s": 300.0, "seconds_to_empty": [{"venue": "htx", "asset": "USDT", "seconds": 812.5}],
                   "depleted": []},
     "maker": [{"symbol": "BTC/USDT", "route": "spot -> perp, perp -> spot", "maker_venue": "spot",
                "taker_venue": "perp", "quotes": 108, "refused": 1,
                "quotes_filled": 28, "maker_fills": 92, "hedges": 40, "flattens": 0, "resting": 2,
                "fill_to_hedge_ms": {"median": "0.00", "max": "210.00"},
                "unhedged_ms": {"median": "10.00", "max": "220.00"}, "unhedged_base": "0",
                "adverse": "-0.1174", "hedge_slippage": "-0.0097"}]}

``positions`` are the open positions the run's settled pairs left (``TradeLog.lots``), valued by
:mod:`arb.positions` at each book's mid now (the valuation rule, on the run's clock); ``unrealized_pnl``
and ``equity`` (realized + unrealized - transfer fees, per quote currency; None where a position has no
mark) are that module's figures; ``transfer_fees`` are those of the transfers the run sent
(``runtime/rebalance.py``). ``counters`` (None for a view without them) is the run's plumbing as :meth:`Engine.counters
<arb.engine.Engine.counters>` reads it, each figure from its one counter::

    "counters": {"feeds": {"gate": {"connections": 1, "snapshots": 2,
                                    "frames": {"applied": 1180, "trade": 0, "funding": 0, "ignored": 3, "dropped": 1}},
                           "okx": {"errors": 0}},
                 "fill_streams": {"gate": {"connections": 1, "pushed": 9, "recovered": 1, "duplicates": 0,
                                           "malformed": 0, "reconciliations": 1}},
                 "requests_held": {"gate": {"reset": 0, "budget": 4}}, "decisions_written": 1190}

``inventory`` is the depletion watch's (``runtime/depletion.py``; ``seconds`` None: the
balance did not fall over the window). ``maker`` (None for a run without maker symbols) is each maker route's
quoting figures as the maker watch last read them (``runtime/store_watch.py``: ``store/maker_views.py``'s, the
run summary's maker lines) and its quotes resting; ``fill_to_hedge_ms`` and ``unhedged_ms`` None before a pair. ``margin`` is each margin account's figures at its last
balance read (``arb/margin.py``: wallet, margin balance, maintenance, ratio, and per position its entry, mark,
unrealized PnL, liquidation price and distance; ``{}`` without perpetuals)::

    "margin": {"perp": {"wallet": "9996.1", "margin_balance": "9995.5", "maintenance": "72.9", "ratio": "0.0073",
               "positions": [{"symbol": "ETH/USDT", "amount": "6.804", "entry": "2681.47", "mark": "2681.38",
                              "unrealized": "-0.57", "liquidation": "1229.9", "distance": "0.54"}]}}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from arb.config.model import mode_shown
from arb.eventloop.clock import MarketClock, WallClock
from arb.execution.risk import RiskState
from arb.margin import AccountMargin
from arb.marketdata.book import OrderBook
from arb.positions import Position, equity, mid, open_positions, unrealized_total
from arb.runtime.depletion import InventoryWatch
from arb.runtime.funnel import Funnel
from arb.runtime.latency import LatencyRecorder
from arb.runtime.store_watch import StoreWatch
from arb.runtime.trades import TradeLog, TradeRecord
from arb.store.maker_views import MakerNow, MakerRoute
from arb.store.repo import jsonable


@dataclass(frozen=True)
class RunView:
    """What the live surfaces read of a run, and nothing else. Fields after ``incidents`` are optional so
    a view of part of a run (a test's) still renders."""

    funnel: Funnel  # the decision counters and PnL
    books: Iterable[OrderBook]  # every venue's book, for health and age
    clock: WallClock | MarketClock  # the run's clock: book ages are measured on it
    incidents: Callable[[], dict[str, dict[str, Any]]]  # handled failures: drops, restarts, resubscriptions
    run_id: int | None = None
    balances: Mapping[str, Mapping[str, Decimal]] | None = None  # venue -> asset -> free, as last read
    stale_balances: Callable[[], frozenset[str]] | None = None  # venues whose last balance read failed
    risk: Callable[[], RiskState] | None = None  # the risk gate's state (breakers, daily loss, kill switch)
    trades: TradeLog | None = None  # the executor's orders, fills and recent trades
    hot_path: LatencyRecorder | None = None  # book update -> decision, per decision
    stop_reason: Callable[[], str | None] | None = None
    mode: str | None = None  # replay | paper | live
    testnet: tuple[str, ...] = ()  # the live venues on their test environment (``testnet = true``)
    host: str | None = None  # the machine the run is on
    inventory: InventoryWatch | None = None  # venues that cannot fund max_size, time to empty
    maker: StoreWatch[MakerNow] | None = None  # a maker run's quoting figures, as last read from the store
    margin: Mapping[str, AccountMargin] | None = None  # margin accounts' figures at the last balance read
    # A run that traded a perpetual: its holdings valued at the books (runtime/summary.holdings_now), last read.
    holdings: StoreWatch[dict[str, Any] | None] | None = None
    # The plumbing's counters: feeds, fill streams, requests held, decisions written (Engine.counters).
    counters: Callable[[], dict[str, Any]] | None = None
    # The fees of the transfers the run sent, per currency (runtime/rebalance.py): off the equity.
    transfer_fees: Callable[[], Mapping[str, Decimal]] | None = None

    def positions(self) -> list[Position]:
        """The open positions of the settled pairs, valued at each book's mid now."""
        if self.trades is None or not self.trades.lots:
            return []
        marks = {(b.venue, b.symbol): mid(b.best_bid(), b.best_ask()) for b in self.books}
        return open_positions(self.trades.lots, marks)

    def snapshot(self) -> dict[str, Any]:
        """Everything above as plain JSON-able values (see the module's docstring for the shape)."""
        now_ms = self.clock.watched_ms()  # books age between a paced run's events
        funnel = self.funnel
        risk = self.risk() if self.risk is not None else None
        trades = self.trades
        return {
            "run_id": self.run_id,
            "market_time_ms": now_ms,
            "stop_reason": self.stop_reason() if self.stop_reason is not None else None,
            "books": [book_row(book, now_ms) for book in self.books],
            "funnel": {**funnel.as_dict(), "expected_profit": _exact(funnel.expected_profit),
                       "realized_pnl": _exact(funnel.realized_pnl), "unsettled": funnel.unsettled},
            "balances": {venue: {asset: _exact(v) for asset, v in sorted(assets.items())}
                         for venue, assets in sorted((self.balances or {}).items())},
            "stale_balances": sorted(self.stale_balances() if self.stale_balances is not None else ()),
            "exposure": _exposure(risk),
            "risk": _risk(risk),
            "orders": _by_venue(trades.orders if trades is not None else {}),
            "fills": dict(sorted(dict(trades.fills).items())) if trades is not None else {},
            "recent_trades": [trade_row(t) for t in (list(trades.recent) if trades is not None else [])],
            "hot_path": {"count": len(self.hot_path) if self.hot_path is not None else 0},
            "incidents": self.incidents(),
            "mode": mode_shown(self.mode, self.testnet) if self.mode is not None else None,
            "host": self.host,
            **self._money(),
            "inventory": self.inventory.snapshot() if self.inventory is not None else None,
            "maker": maker_rows(self.maker.latest) if self.maker is not None and self.maker.latest else None,
            "margin": {venue: margin_row(m) for venue, m in sorted((self.margin or {}).items())},
            "holdings": jsonable(self.holdings.latest) if self.holdings is not None else None,
            "counters": self.counters() if self.counters is not None else None,
        }

    def fees(self) -> Mapping[str, Decimal]:
        """The run's transfer fees so far, per currency (none without rebalancing)."""
        return self.transfer_fees() if self.transfer_fees is not None else {}

    def _money(self) -> dict[str, Any]:
        positions = self.positions()
        unrealized = unrealized_total(positions)
        quotes = {book.symbol.split("/")[1] for book in self.books}
        routes = self.trades.realized_by_route if self.trades is not None else {}
        return {
            "positions": [{"venue": p.venue, "symbol": p.symbol, "amount": _exact(p.amount), "cost": _exact(p.cost),
                           "mark": _maybe(p.mark), "unrealized": _maybe(p.unrealized)} for p in positions],
            "unrealized_pnl": {q: _maybe(v) for q, v in sorted(unrealized.items())},
            "equity": {q: _maybe(v) for q, v in sorted(equity(self.funnel.realized_pnl, unrealized, quotes,
                                                              transfer_fees=self.fees()).items())},
            "transfer_fees": {q: _exact(v) for q, v in sorted(self.fees().items())},
            "realized_by_route": [{"symbol": sym, "buy_venue": b, "sell_venue": s, "realized": _exact(v)}
                                  for (sym, b, s), v in sorted(routes.items())],
        }


def maker_rows(figures: MakerNow) -> list[dict[str, Any]]:
    """Each maker route's figures as the snapshot gives them (exact strings; times as the summary rounds)."""
    rows = []
    for r in figures.routes:
        latency, unhedged = MakerRoute.spread(r.fill_to_hedge_ms), MakerRoute.spread(r.unhedged_ms)
        rows.append({
            "symbol": r.symbol, "route": r.label, "maker_venue": r.maker_venue, "taker_venue": r.taker_venue,
            "quotes": r.quotes,
            "refused": r.refused, "quotes_filled": r.quotes_filled, "maker_fills": r.maker_fills,
            "hedges": r.hedges, "flattens": r.flattens, "resting": figures.resting.get((r.symbol, r.maker_venue), 0),
            "fill_to_hedge_ms": None if latency is None else {"median": _exact(latency[0]), "max": _exact(latency[1])},
            "unhedged_ms": None if unhedged is None else {"median": _exact(unhedged[0]), "max": _exact(unhedged[1])},
            "unhedged_base": _exact(r.unhedged_base), "adverse": _exact(r.adverse),
            "hedge_slippage": _exact(r.hedge_slippage)})
    return rows


def book_row(book: OrderBook, now_ms: int) -> dict[str, Any]:
    """A book's health and age (ms since it last changed, on the run's clock; None before its first)."""
    age = now_ms - book.received_ts if book.received_ts is not None else None
    return {"venue": book.venue, "symbol": book.symbol, "health": book.health(now_ms).value, "age_ms": age}


def trade_row(trade: TradeRecord) -> dict[str, Any]:
    return {"opportunity_id": trade.opportunity_id, "at": _iso(trade.at), "symbol": trade.symbol,
            "buy_venue": trade.buy_venue, "sell_venue": trade.sell_venue, "size": _exact(trade.size),
            "expected": _exact(trade.expected),
            "realized": None if trade.realized is None else _exact(trade.realized), "outcome": trade.outcome}


def _exposure(risk: RiskState | None) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for (venue, asset), qty in (risk.exposure.items() if risk is not None else ()):
        out.setdefault(venue, {})[asset] = _exact(qty)
    return out


def _risk(risk: RiskState | None) -> dict[str, Any] | None:
    if risk is None:
        return None
    return {
        "kill_switch": risk.kill_switch, "kill_reason": risk.kill_reason, "pnl_today": _exact(risk.pnl_today),
        "daily_loss_limit": _exact(risk.daily_loss_limit), "daily_limit_reached": risk.daily_limit_reached,
        "auth_failed": sorted(risk.auth_failed),
        "breakers": {venue: {"state": b.state, "failures": b.failures,
                             "open_until": None if b.open_until is None else _iso(b.open_until)}
                     for venue, b in risk.breakers.items()},
    }


def _by_venue(counts: Mapping[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (venue, status), n in sorted(dict(counts).items()):
        out.setdefault(venue, {})[status] = n
    return out


def _exact(value: Decimal) -> str:
    """An exact decimal as text, never in exponent notation (``0E-12`` -> ``0.000000000000``)."""
    return format(value, "f")


def _maybe(value: Decimal | None) -> str | None:
    return None if value is None else _exact(value)


def _iso(at: datetime) -> str:
    return at.isoformat()


def margin_row(m: AccountMargin) -> dict[str, Any]:
    """One margin account's figures (``arb/margin.py``) as the snapshot holds them."""
    return {"wallet": _exact(m.wallet), "margin_balance": _maybe(m.margin_balance),
            "maintenance": _maybe(m.maintenance), "ratio": _maybe(m.ratio),
            "positions": [{"symbol": p.symbol, "amount": _exact(p.amount), "entry": _exact(p.entry),
                           "mark": _maybe(p.mark), "unrealized": _maybe(p.unrealized),
                           "liquidation": _maybe(p.liquidation), "distance": _maybe(p.distance)}
                          for p in m.positions]}
