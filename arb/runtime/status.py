"""What the engine shows while it runs: a compact live view on a terminal, plain log lines otherwise.

It reads a :class:`~arb.runtime.view.RunView` of the run on its own timer (never from the hot path) and
renders per-venue book health and age, updates per second, opportunities seen/executed/rejected (a maker
route's quotes sent, resting and filled, its hedges and the base no hedge answered yet, in their place), PnL,
balances and unhedged exposure per venue, the risk state (kill switch, breakers, daily loss against its
limit), the last trades, the failures handled underneath (a fill stream's duplicate pushes and unreadable
frames, requests the throttle held back, once they happen) and each venue's order budget: orders held back and
headroom. The view is all it sees of the engine: read-only, and no import of ``arb.engine``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from arb.display import Precision, money
from arb.execution.risk import RiskState
from arb.margin import AccountMargin
from arb.positions import equity, unrealized_total
from arb.runtime.trades import TradeRecord
from arb.runtime.view import RunView, maker_rows
from arb.venues.throttle import budget_text

if TYPE_CHECKING:
    from arb.config import Config

__all__ = ["RunView", "StatusReporter"]


class StatusReporter:
    def __init__(self, mode: str = "plain", interval_s: float = 5.0, stream: TextIO | None = None,
                 precision: Precision | None = None) -> None:
        self.mode = mode  # rich | plain | off
        self.interval_s = interval_s
        self.stream = stream or sys.stderr
        self.precision = precision or Precision()  # decimal places per asset, from the run's market rules
        self._task: asyncio.Task[None] | None = None
        self._live: Live | None = None
        # The run's view; the name is older than the view (tests/engine/test_progress.py sets it directly).
        self._engine: RunView | None = None
        self._run_id: int | None = None
        self._last = (time.monotonic(), 0)
        self.total_events: int | None = None  # a replay's size, for the progress bar
        self.done_events = 0
        self._stopped = threading.Event()
        self._started = time.monotonic()  # wall time the view started: the run's elapsed time

    @classmethod
    def for_config(cls, config: Config) -> StatusReporter:
        mode = config.engine.status
        if mode == "auto":
            mode = "rich" if sys.stderr.isatty() else "plain"
        return cls(mode, config.engine.status_interval_s, precision=Precision.from_snapshot(config.snapshot()))

    def note(self, message: str) -> None:
        if self.mode == "off":
            return
        if self._live is not None:
            self._live.console.print(message)
        else:
            print(f"arb: {message}", file=self.stream, flush=True)

    def start(self, run_id: int, view: RunView, spawn: Callable[..., asyncio.Task[None]] | None = None) -> None:
        """Show the view until :meth:`stop`; its loop is a task of ``spawn`` (the engine's supervisor)."""
        self._engine, self._run_id = view, run_id
        self._started = time.monotonic()
        if self.mode == "off":
            return
        if self.mode == "rich":
            self._live = Live(self._table(), console=Console(file=self.stream), refresh_per_second=4,
                              transient=True)
            self._live.start()
        if spawn is None:
            self._task = asyncio.create_task(self._loop(), name="status")
        else:
            self._task = spawn("status", self._loop)

    def stop(self) -> None:
        self._stopped.set()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._live is not None:
            self._live.stop()
            self._live = None

    async def _loop(self) -> None:
        # The view refreshes in wall time, whatever the run's clock: a simulation's loop time is market
        # time, which at speed 0 would redraw thousands of times a second (or, paced slowly, rarely). A
        # thread waits instead of a timer on the loop; stop() ends its wait at once.
        self._stopped.clear()
        while True:
            interval = self.interval_s if self._live is None else 0.25
            if await asyncio.to_thread(self._stopped.wait, interval):
                return
            if self._live is not None:
                self._live.update(self._renderable())
            else:
                print(f"arb: {self.line()}", file=self.stream, flush=True)

    def _rates(self) -> tuple[float, dict[str, Any]]:
        assert self._engine is not None
        f = self._engine.funnel
        now = time.monotonic()
        then, count = self._last
        rate = (f.book_updates - count) / (now - then) if now > then else 0.0
        self._last = (now, f.book_updates)
        return rate, f.as_dict()

    def line(self) -> str:
        assert self._engine is not None
        rate, f = self._rates()
        view = self._engine
        books = []
        now_ms = view.clock.watched_ms()  # books age between a paced run's events
        for book in view.books:
            age = now_ms - book.received_ts if book.received_ts is not None else None
            books.append(f"{book.venue}:{book.health(now_ms).value}({age}ms)")
        progress = f" progress {self._percent():.0f}%" if self.total_events else ""
        incidents = "".join(f" {label} {text}" for label, text in self._incidents())
        reasons = f" ({_top_reasons(f['rejected'])})" if f["rejected"] else ""
        account = "".join(f" {label} {text}" for label, text in self._account())
        quoting = "".join(f" {label} {text}" for label, text in self._maker())
        last = self._recent(1)
        trade = f" last {last[0]}" if last else ""
        return (f"run {self._run_id}{_testnet(view)} market {_market_time(now_ms)} elapsed {self._elapsed()} "
                f"updates {f['book_updates']} ({rate:.0f}/s){quoting} crossed {f['crossed']} executed {f['executed']} "
                f"rejected {f['rejected_total']}{reasons} pnl {money(view.funnel.realized_pnl)} "
                f"books {' '.join(books)}{account}{trade}{incidents}{progress}")

    def _maker(self) -> list[tuple[str, str]]:
        """Each maker route's quoting as the maker watch last read it (the summary's figures), as (label, text)."""
        watch = self._engine.maker if self._engine is not None else None
        if watch is None or watch.latest is None:
            return []
        out = []
        for r in maker_rows(watch.latest):
            base = r["symbol"].split("/")[0]
            unhedged = money(Decimal(r["unhedged_base"]), self.precision.asset(base, r["maker_venue"]))
            out.append((f"maker {r['symbol']} {r['route']}",
                        f"{r['quotes']} quotes, {r['resting']} resting, {r['quotes_filled']} filled, "
                        f"{r['hedges']} hedges, unhedged {unhedged} {base}"))
        return out

    def _account(self) -> list[tuple[str, str]]:
        """Balances per venue, unhedged exposure (when any) and the risk state, as (label, text)."""
        view = self._engine
        out = []
        balances = self._balances()
        if balances:
            out.append(("balances", "; ".join(f"{venue} {text}" for venue, text in balances)))
        reader = getattr(view, "risk", None)
        if reader is not None:
            risk: RiskState = reader()
            exposed = [f"{venue} {asset} {money(q, self.precision.asset(asset, venue))}"
                       for (venue, asset), q in risk.exposure.items() if q]
            if exposed:
                out.append(("exposure", ", ".join(exposed)))
            out.append(("risk", _risk_text(risk, self.precision.pnl())))
        out += self._positions()
        return out

    def _positions(self) -> list[tuple[str, str]]:
        """The open positions of settled pairs at each book's mid now, and the equity (``arb.positions``);
        the directions a venue's inventory cannot fund at max_size (``runtime/depletion.py``)."""
        view = self._engine
        out = []
        reader = getattr(view, "positions", None)  # a stand-in without them (a test's) shows none
        if view is not None and reader is not None:
            positions = reader()
            pnl = self.precision.pnl()
            if positions:
                out.append(("OPEN", ", ".join(
                    f"{p.venue} {money(p.amount, self.precision.asset(p.base, p.venue))} {p.base} at cost "
                    f"{money(p.cost, self.precision.price(p.symbol))} unrealized "
                    f"{'no mark' if p.unrealized is None else money(p.unrealized, pnl)}" for p in positions)))
            holdings = getattr(view, "holdings", None)
            if holdings is not None and holdings.latest is not None:  # a perpetual traded: the holdings' equity
                out.append(("equity", self._holdings_text(holdings.latest)))
            else:
                unrealized = unrealized_total(positions)
                quotes = {book.symbol.split("/")[1] for book in view.books}
                out.append(("equity", ", ".join(
                    f"{'unknown (no mark)' if v is None else money(v, pnl)} {q}"
                    for q, v in sorted(equity(view.funnel.realized_pnl, unrealized, quotes,
                                              transfer_fees=view.fees()).items()))))
        for venue, m in sorted((getattr(view, "margin", None) or {}).items()):
            out.append(("margin", self._margin_text(venue, m)))
        watch = getattr(view, "inventory", None)
        if watch is not None and watch.depleted:
            out.append(("DEPLETED", ", ".join(f"{d.venue} {d.asset} {money(d.balance, self.precision.asset(d.asset, d.venue))} "
                                              f"({d.side}s of {d.symbol})" for _, d in sorted(watch.depleted.items()))))
        return out

    def _holdings_text(self, h: dict[str, Any]) -> str:
        """``-3.82 USDT at mark, -11.19 at unwind; realized (closed) -3.06``: the run summary's holdings figures
        (``arb/valuation.py``) as last read."""
        pnl = self.precision.pnl()

        def shown(value: Decimal | None) -> str:
            return "unknown" if value is None else money(value, pnl)

        return "; ".join(f"{shown(h['equity_at_mark'][q])} {q} at mark, {shown(h['equity_at_unwind'][q])} at unwind, "
                         f"realized (closed) {shown(h['realized'].get(q))}" for q in h["equity_at_mark"])

    def _margin_text(self, venue: str, m: AccountMargin) -> str:
        """``perp 0.7% of margin (liquidation at 100%); ETH/USDT 6.804 at 2681.47, liquidated at 1229.9 (54.1%
        away)``: a margin account's ratio and each position's distance to liquidation (``arb/margin.py``)."""
        ratio = "unknown (no mark)" if m.ratio is None else f"{m.ratio:.1%}"
        parts = [f"{venue} ratio {ratio} (liquidation at 100%)"]
        for p in m.positions:
            base = p.symbol.split("/")[0]
            where = ("no mark" if p.mark is None else "the wallet covers any fall" if p.liquidation is None else
                     f"liquidated at {money(p.liquidation, self.precision.price(p.symbol))} ({p.distance:.1%} away)")
            parts.append(f"{p.symbol} {money(p.amount, self.precision.asset(base, venue))} at "
                         f"{money(p.entry, self.precision.price(p.symbol))}, {where}")
        return "; ".join(parts)

    def _balances(self) -> list[tuple[str, str]]:
        """Free balances per venue as last read: ``("gate", "LINK 200 USDT 5000")``; a venue whose last read
        failed is marked ``(stale)``."""
        balances = getattr(self._engine, "balances", None)  # a stand-in without them (a test's) shows none
        if not balances:
            return []
        reader = getattr(self._engine, "stale_balances", None)
        stale = reader() if reader is not None else frozenset()
        return [(venue, " ".join(f"{asset} {money(v, self.precision.asset(asset, venue))}"
                                 for asset, v in sorted(assets.items())) + (" (stale)" if venue in stale else ""))
                for venue, assets in sorted(balances.items())]

    def _recent(self, n: int) -> list[str]:
        """The last ``n`` executed pairs, newest first: ``#12 LINK/USDT gate>htx 1.5 exp 0.0041 real 0.004
        hedged``."""
        trades = getattr(self._engine, "trades", None)
        if trades is None:
            return []
        return [self._trade_text(t) for t in reversed(list(trades.recent)[-n:])]

    def _trade_text(self, t: TradeRecord) -> str:
        quote = self.precision.quote(t.symbol)
        size = money(t.size, self.precision.base(t.symbol, t.buy_venue, t.sell_venue))
        return (f"#{t.opportunity_id} {t.symbol} {t.buy_venue}>{t.sell_venue} {size} "
                f"exp {money(t.expected, quote)} real {money(t.realized, quote)} {t.outcome}")

    def _elapsed(self) -> str:
        seconds = int(time.monotonic() - self._started)
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"

    def _incidents(self) -> list[tuple[str, str]]:
        """Dropped frames, task restarts and resubscriptions so far (only those that happened); the order
        budgets' use."""
        incidents = getattr(self._engine, "incidents", None)  # a stand-in without them (a test's) shows none
        if incidents is None:
            return []
        counts = incidents()
        out = []
        for label, key in (("dropped", "feed_drops"), ("restarts", "task_restarts"),
                           ("resubscribed", "stale_resubscribes")):
            per = {name: (sum(n.values()) if isinstance(n, dict) else n) for name, n in counts[key].items()}
            if any(per.values()):
                out.append((label, " ".join(f"{name}:{n}" for name, n in per.items() if n)))
        # Each budgeted venue's orders held back and headroom now (arb/venues/throttle.py), worded as the
        # summary words them.
        out += [(f"order budget {venue}", budget_text(use)) for venue, use in counts.get("order_budget", {}).items()]
        # The plumbing's troubles, once they happened (Engine.counters: the metrics' figures): a fill stream's
        # repeated pushes left out and what it could not read, requests the throttle held back.
        read = getattr(self._engine, "counters", None)
        plumbing = read() if read is not None else None
        if plumbing:
            for venue, c in plumbing["fill_streams"].items():
                if c.get("duplicates") or c.get("malformed"):
                    out.append((f"fill stream {venue}",
                                f"duplicates {c.get('duplicates', 0)}, malformed {c.get('malformed', 0)}"))
            held = [f"{venue}:reset {by['reset']} budget {by['budget']}"
                    for venue, by in plumbing["requests_held"].items() if any(by.values())]
            if held:
                out.append(("requests held", " ".join(held)))
        return out

    def _percent(self) -> float:
        return 100.0 * self.done_events / self.total_events if self.total_events else 0.0

    def _renderable(self) -> Table | Group:
        table = self._table()
        if not self.total_events:
            return table
        bar = ProgressBar(total=self.total_events, completed=self.done_events, width=50)
        return Group(table, bar, f"capture {self.done_events}/{self.total_events} events ({self._percent():.0f}%)")

    def _table(self) -> Table:
        table = Table(title=f"arb run {self._run_id}{_testnet(self._engine)}", expand=False)
        if self._engine is None:
            return table
        rate, f = self._rates()
        now_ms = self._engine.clock.watched_ms()  # books age between a paced run's events
        table.add_column("venue / metric")
        table.add_column("value", justify="right")
        table.add_row("market time / elapsed", f"{_market_time(now_ms)} / {self._elapsed()}")
        for book in self._engine.books:
            age = now_ms - book.received_ts if book.received_ts is not None else None
            table.add_row(f"{book.venue} {book.symbol}", f"{book.health(now_ms).value}, {age} ms old")
        table.add_row("book updates", f"{f['book_updates']} ({rate:.0f}/s)")
        quoting = self._maker()
        for label, text in quoting:
            table.add_row(label, text)
        if f["evaluations"] or not quoting:  # detection's stages: a run that only quotes has none
            table.add_row("crossed / approved", f"{f['crossed']} / {f['approved']}")
        table.add_row("executed / rejected", f"{f['executed']} / {f['rejected_total']}")
        if f["rejected"]:
            table.add_row("rejected by reason", _top_reasons(f["rejected"]))
        funnel = self._engine.funnel
        table.add_row("expected / realized", f"{money(funnel.expected_profit)} / {money(funnel.realized_pnl)}")
        for venue, text in self._balances():
            table.add_row(f"balances {venue}", text)
        for label, text in self._account():
            if label != "balances":
                table.add_row(label, text)
        for k, text in enumerate(self._recent(5)):
            table.add_row("recent trades" if k == 0 else "", text)
        for label, text in self._incidents():
            table.add_row(label, text)
        return table


def _market_time(ms: int) -> str:
    """The run's clock as a person reads it: market time in a simulation, the wall clock live (UTC)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _risk_text(risk: RiskState, places: int) -> str:
    """``ok, daily 1.2 / limit -50``; or what stops trades: the kill switch (or a halt), open breakers, a
    venue that refused our credentials, the daily loss limit reached."""
    stops = []
    if risk.kill_switch:
        stops.append(f"KILL SWITCH ({risk.kill_reason or 'file'})")
    stops += [f"breaker {venue} {b.state} ({b.failures} failures)" for venue, b in risk.breakers.items()
              if b.state != "closed"]
    stops += [f"auth failed {venue}" for venue in sorted(risk.auth_failed)]
    stops += [f"MARGIN HALT {venue}" for venue in risk.margin_halted]
    daily = f"daily {money(risk.pnl_today, places)} / limit {money(-risk.daily_loss_limit, places)}"
    if risk.daily_limit_reached:
        stops.append("DAILY LOSS LIMIT")
    return ", ".join(stops or ["ok"]) + f", {daily}"


def _top_reasons(rejected: dict[str, int], n: int = 3) -> str:
    """The most frequent rejection reasons first: ``unprofitable_after_fees 1335, below_min_edge 2``."""
    ranked = sorted(rejected.items(), key=lambda item: (-item[1], item[0]))
    more = f", +{len(ranked) - n} more" if len(ranked) > n else ""
    return ", ".join(f"{reason} {count}" for reason, count in ranked[:n]) + more


def _testnet(view: RunView | None) -> str:
    """`` testnet gate_main``: a run trading on a venue's test environment says so on every line."""
    return f" testnet {','.join(view.testnet)}" if view is not None and view.testnet else ""
