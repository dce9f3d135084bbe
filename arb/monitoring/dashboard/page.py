"""The dashboard page's document: one run as the database holds it, plus a running engine's live figures,
as JSON-able values with every figure formatted for reading.

Nothing is computed here that another module defines. PnL figures are the ones settlement stored
(``arb.accounting``), summed by :func:`arb.store.views.pnl_totals` exactly as ``arb report`` and the run
summary sum them; a trade's outcome word is :func:`arb.domain.outcomes.pair_outcome` (through
:func:`arb.store.views.trades`), as ``arb trades`` says it; balance changes are
:class:`arb.store.balances.BalanceRow`; the live figures are the engine's :meth:`RunView.snapshot
<arb.runtime.view.RunView.snapshot>`. Open positions and their unrealized PnL are :mod:`arb.positions`' (the
settled lots of :func:`arb.store.views.open_lots`): a run that has ended shows the ones its summary stored,
valued at the mids of its end; a running engine's are valued at its books' mids now (the same valuation rule,
``live["marks"]``). Equity is realized + unrealized; its curve adds, after each executed opportunity, the lots
open by then, valued at those same marks (the run's end, or now): no mid of an earlier instant is stored.
Incidents (kill switch, halts, breakers, each with start and end) are ``runtime/incidents.py``'s: the
summary's list, or a running engine's ``live["incidents"]``. A maker run's quoting figures per route and its
resting quotes are :mod:`arb.store.maker_views`' (what the run summary and ``arb report`` print), read from
the database as it stands, for a running run as for one that has ended. Money and amounts are shown at the places the
run's market rules give (:class:`arb.display.Precision`, as the summary prints them); the PnL curve also
carries exact decimal strings, which the page parses only to place points.

The page is rebuilt about once a second while a run trades, so each read is bounded: the PnL figures are
read as plain columns (no rows as objects), and orders and fills only for the trades listed. (A stored
run that has ended is read once: ``server.py`` keeps its document.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from arb.config.model import mode_shown, testnet_venues
from arb.display import Precision, held_what, money, route
from arb.positions import OpenLot, Position, equity, open_positions, unrealized_total
from arb.store import repo, transfers, views
from arb.store.balances import BalanceRow, balances
from arb.store.maker_views import MakerRoute, maker_routes, resting_quotes
from arb.store.models import Balance, Opportunity, Run
from arb.store.runs import get_run, run_clock

Marks = dict[tuple[str, str], Decimal | None]

RECENT_ROWS = 10  # opportunities and trades listed
INCIDENT_ROWS = 20  # the newest incidents listed (the page says how many there are in all)
CURVE_POINTS = 600  # at most this many points drawn; a longer curve keeps evenly spaced ones and the last


def document(session: Session, run_id: int, live: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the page shows of ``run_id``: its stored rows (so far, for a running run) and, for a run
    this process is running, ``live``: ``{"view": RunView.snapshot(), "updates_per_s": float, "marks":
    {(venue, symbol): mid or None}, "incidents": [Incident.as_row(), ...]}`` (``live.py``)."""
    run = get_run(session, run_id)
    precision = Precision.from_snapshot(run.config_snapshot)
    pnl_rows = _pnl_figures(session, run_id)
    totals = views.pnl_totals(pnl_rows)
    places = precision.pnl()
    summary = run.summary or {}
    positions, marks, valued_at = _positions(session, run, live)
    incidents = (live.get("incidents") if live is not None else summary.get("incidents")) or []
    unrealized = _unrealized(positions)
    symbols = ((run.config_snapshot or {}).get("engine") or {}).get("symbols") or []
    fees, _ = transfers.transfer_fees(session, run_id)  # taken off the equity, as on every surface
    equities = equity(totals["realized_pnl"], unrealized_total(positions), {s.partition("/")[2] for s in symbols},
                      transfer_fees=fees)
    holdings = _holdings(summary, live if run.status == "running" else None, precision)
    if holdings is not None:  # a perpetual traded: the desk's equity is its holdings' at mark (one figure)
        equities = holdings.pop("equity_exact")
        unrealized = holdings.pop("unrealized_exact")
    return {
        "run": _header(run),
        "pnl": {
            "expected": money(totals["expected_pnl"], places),
            "realized": money(totals["realized_pnl"], places),
            "slippage": money(totals["pnl_slippage"], places),
            "fees": money(totals["pnl_fees"], places),
            "unfilled": money(totals["pnl_unfilled"], places),
            "imbalance": money(totals["pnl_imbalance"], places),
            "executed": len(pnl_rows),
            "unsettled": sum(1 for r in pnl_rows if r.settled_at is None),
            "unrealized": _amount(unrealized, places),
            # No currency known (no position, a config without symbols): equity is realized.
            "equity": _per_quote(equities or {"": totals["realized_pnl"]}, places),
        },
        "positions": {"rows": [_position_row(p, precision) for p in positions], "valued_at": valued_at},
        "curve": pnl_curve(pnl_rows, marks=marks),
        "trades": _trades(session, run_id, precision),
        "opportunities": _opportunities(session, run_id, precision),
        "balances": _balances(session, run_id, precision),
        "transfers": _transfers(session, run_id, precision),
        "maker": _maker(session, run, precision),
        "holdings": holdings,
        # A finished run's funnel and incidents as the engine stored them in its summary; a running one's
        # come live from its view.
        "funnel": summary.get("funnel"),
        "stop_reason": summary.get("stop_reason"),
        "incidents": _incident_totals(summary),
        "incident_list": _incident_list(incidents),
        "incidents_total": len(incidents),
        "live": _live(live, precision) if live is not None else None,
    }


class PnlFigures(Protocol):
    """What the curve reads of an executed opportunity: its stored settlement, with the open position it
    left (``open_base`` at ``open_price``; None or 0 for none)."""

    @property
    def detected_at(self) -> datetime: ...
    @property
    def expected_pnl(self) -> Decimal: ...
    @property
    def realized_pnl(self) -> Decimal | None: ...
    @property
    def symbol(self) -> str: ...
    @property
    def buy_venue(self) -> str: ...
    @property
    def sell_venue(self) -> str: ...
    @property
    def open_base(self) -> Decimal | None: ...
    @property
    def open_price(self) -> Decimal | None: ...


def pnl_curve(rows: Sequence[PnlFigures], limit: int = CURVE_POINTS, marks: Marks | None = None) -> dict[str, Any]:
    """Cumulative expected and realized PnL, and equity, after each executed opportunity, by detection time
    (ms): ``[ms, expected, realized, equity]``.

    Realized adds an opportunity once it is settled (as :func:`arb.store.views.pnl_totals` does), so the
    last point is the run's total. Equity is realized plus the unrealized PnL (:mod:`arb.positions`) of the
    lots open by then, valued at ``marks``; None from a lot without a mark on. Points are exact decimal
    strings; at most ``limit`` of them, evenly spaced over the run and always including the last."""
    points: list[list[Any]] = []
    expected = realized = views.ZERO
    lots: list[OpenLot] = []
    unrealized: Decimal | None = views.ZERO
    for row in rows:
        expected += row.expected_pnl
        realized += row.realized_pnl if row.realized_pnl is not None else views.ZERO
        if row.open_base:  # settled with an open position: valued once, until the next one opens
            lots.append(OpenLot(row.buy_venue, row.sell_venue, row.symbol, row.open_base,
                                row.open_price or views.ZERO))
            unrealized = _unrealized(open_positions(lots, marks or {}))
        equity = realized + unrealized if unrealized is not None else None
        points.append([_ms(row.detected_at), _exact(expected), _exact(realized),
                       _exact(equity) if equity is not None else None])
    if len(points) > limit:
        step = (len(points) - 1) / (limit - 1)
        points = [points[round(i * step)] for i in range(limit)]
    return {"points": points, "of": len(rows)}


def _header(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "mode": mode_shown(run.mode, testnet_venues(run.config_snapshot or {})),  # its testnet venues said
        "status": run.status,
        "status_reason": run.status_reason,
        "clock": run_clock(run),
        "started_at": _ms(run.started_at),
        "ended_at": _ms(run.ended_at),
        "market_started_at": _ms(run.market_started_at),
        "market_ended_at": _ms(run.market_ended_at),
    }


def _pnl_figures(session: Session, run_id: int) -> Sequence[Any]:
    """Every executed opportunity's stored settlement figures, in detection order, as plain rows whose
    names are :class:`~arb.store.views.PnlRow`'s (what :func:`~arb.store.views.pnl_totals` sums)."""
    o = Opportunity
    return session.execute(
        select(o.detected_at, o.settled_at, o.expected_profit.label("expected_pnl"), o.realized_pnl,
               o.pnl_slippage, o.pnl_fees, o.pnl_unfilled, o.pnl_imbalance, o.fees_quote,
               o.symbol, o.buy_venue, o.sell_venue, o.open_base, o.open_price)
        .where(o.run_id == run_id, o.decision == "executed").order_by(o.detected_at, o.id)
    ).all()


def _trades(session: Session, run_id: int, precision: Precision) -> list[dict[str, Any]]:
    """The latest executed opportunities, newest first, with their stored settlement and outcome (the rows
    ``arb trades`` lists; only these few are read with their orders and fills)."""
    rows = []
    for t in views.trades(session, run_id, newest=RECENT_ROWS):
        p = t.pnl
        places = precision.quote(p.symbol)
        rows.append({
            "id": p.opportunity_id,
            "at": _ms(p.detected_at),
            "symbol": p.symbol,
            "route": route(p.buy_venue, p.sell_venue),
            "size": money(p.size, precision.base(p.symbol, p.buy_venue, p.sell_venue)),
            "expected": money(p.expected_pnl, places),
            "realized": money(p.realized_pnl, places) if p.realized_pnl is not None else None,
            "outcome": t.outcome,
        })
    return rows


def _opportunities(session: Session, run_id: int, precision: Precision) -> list[dict[str, Any]]:
    """The latest opportunities of any decision, newest first by market time (``detected_at``; ids are not
    time order: an executed pair's row is written at once, the rejections before it with the writer's next
    batch). Every row has its size (``sized`` False: a cross with nothing profitable to size, stored as
    size 0), its gross edge (the cross before fees, recorded for every decision) and, once sized, its net
    edge after fees (``edge_bps``)."""
    stmt = (select(Opportunity).where(Opportunity.run_id == run_id)
            .order_by(Opportunity.detected_at.desc(), Opportunity.id.desc()).limit(RECENT_ROWS))
    rows = []
    for o in session.scalars(stmt):
        detail = o.detail or {}
        gross = detail.get("gross_edge_bps")
        rows.append({
            "id": o.id,
            "at": _ms(o.detected_at),
            "symbol": o.symbol,
            "route": route(o.buy_venue, o.sell_venue),
            "size": money(o.size, precision.base(o.symbol, o.buy_venue, o.sell_venue)),
            "sized": bool(detail.get("sized", True)),
            "edge_bps": money(o.edge_bps, 2) if o.edge_bps is not None else None,
            "gross_edge_bps": money(Decimal(gross), 2) if gross is not None else None,
            "expected": money(o.expected_profit, precision.quote(o.symbol)),
            "decision": o.decision,
            "reason": o.reason,
        })
    return rows


def _holdings(summary: dict[str, Any], live: dict[str, Any] | None, precision: Precision) -> dict[str, Any] | None:
    """A run that traded a perpetual: every venue's change in holdings (``arb/valuation.py``) as the run
    summary keeps it at its end, or, while it runs (``live``), as its view last read it (``runtime/store_watch.py``):
    what changed, at mark and at unwind, what closed, funding and the basis held. None for any other run."""
    h = (live["view"].get("holdings") if live is not None else None) or summary.get("holdings")
    if not h:
        return None
    pnl = precision.pnl()

    def shown(value: Any) -> str | None:
        return None if value is None else money(Decimal(value), pnl)

    rows = []
    for p in h["held"]:
        base = p["symbol"].partition("/")[0]
        rows.append({"venue": p["venue"], "symbol": p["symbol"], "what": held_what(p, precision.asset(base, p["venue"])),
                     "amount": money(Decimal(p["amount"]), precision.asset(base, p["venue"])),
                     "entry": None if p["entry"] is None else money(Decimal(p["entry"]), precision.price(p["symbol"])),
                     "mark": None if p["mark"] is None else money(Decimal(p["mark"]), precision.price(p["symbol"])),
                     "at_mark": shown(p["at_mark"]), "at_unwind": shown(p["at_unwind"])})
    quotes = list(h["equity_at_mark"])
    return {"rows": rows, "valued_at": "now" if live is not None else "end",
            "equity_at_mark": {q: shown(h["equity_at_mark"][q]) for q in quotes},
            "equity_at_unwind": {q: shown(h["equity_at_unwind"][q]) for q in quotes},
            "realized": {q: shown((h.get("realized") or {}).get(q)) for q in quotes},
            "funding": {q: shown(v) for q, v in (h.get("funding") or {}).items()},
            "funding_payments": h.get("funding_payments", 0),
            "basis": [f"{b['base']}: {b['spot_venue']} {money(Decimal(b['spot']), precision.asset(b['base'], b['spot_venue']))}, "
                      f"{b['perp_venue']} {money(Decimal(b['perp']), precision.asset(b['base'], b['perp_venue']))}"
                      for b in h["basis"]],
            "equity_exact": {q: None if v is None else Decimal(v) for q, v in h["equity_at_mark"].items()},
            # What is held, at mark: the equity less what closed (``equity_at_mark = realized + unrealized``).
            "unrealized_exact": _held_at_mark(h)}


def _held_at_mark(h: dict[str, Any]) -> Decimal | None:
    """The holdings' unrealized PnL, one currency's (the page shows one); None where unknown."""
    quotes = list(h["equity_at_mark"])
    if len(quotes) != 1:
        return None
    at_mark, closed = h["equity_at_mark"][quotes[0]], (h.get("realized") or {}).get(quotes[0])
    return None if at_mark is None or closed is None else Decimal(at_mark) - Decimal(closed)


def _maker(session: Session, run: Run, precision: Precision) -> dict[str, Any] | None:
    """A maker run's quoting (:mod:`arb.store.maker_views`): per route its quotes, fills, hedges, fill ->
    hedge latency and time unhedged (median and max, ms, at the summary's 0.01 ms), base left unhedged and
    the slippage split; and its quotes resting on the venue (``resting_at``: ``now`` while it runs, ``end``
    once it has ended: quotes it left uncancelled). None for a run with no maker route (nor a maker symbol
    in its config: a maker run shows the panel before its first quote)."""
    routes = maker_routes(session, run.id)
    symbols = ((run.config_snapshot or {}).get("symbols") or {}).values()
    if not routes and not any(isinstance(s, dict) and s.get("strategy") == "maker" for s in symbols):
        return None
    resting = []
    for q in resting_quotes(session, run.id):
        base = precision.asset(q.symbol.partition("/")[0], q.venue)
        resting.append({"id": q.id, "at": _ms(q.sent_at or q.created_at), "venue": q.venue, "symbol": q.symbol,
                        "side": q.side, "price": money(q.price, precision.price(q.symbol)),
                        "amount": money(q.amount, base), "filled": money(q.filled, base), "status": q.status})
    return {"routes": [_maker_route(r, precision) for r in routes], "resting": resting,
            "resting_at": "now" if run.status == "running" else "end"}


def _maker_route(r: MakerRoute, precision: Precision) -> dict[str, Any]:
    def spread(values: tuple[Decimal, ...]) -> dict[str, str] | None:
        figures = MakerRoute.spread(values)
        return None if figures is None else {"median": money(figures[0], 2), "max": money(figures[1], 2)}

    base = r.symbol.partition("/")[0]
    return {"symbol": r.symbol, "route": r.label, "maker_venue": r.maker_venue, "taker_venue": r.taker_venue,
            "base": base,
            "quotes": r.quotes, "refused": r.refused, "quotes_filled": r.quotes_filled, "maker_fills": r.maker_fills,
            "hedges": r.hedges, "flattens": r.flattens, "fill_to_hedge_ms": spread(r.fill_to_hedge_ms),
            "unhedged_ms": spread(r.unhedged_ms),
            "unhedged_base": money(r.unhedged_base, precision.asset(base, r.maker_venue)),
            "adverse": money(r.adverse, precision.pnl()), "hedge_slippage": money(r.hedge_slippage, precision.pnl())}


def _positions(session: Session, run: Run, live: dict[str, Any] | None) -> tuple[list[Position], Marks, str]:
    """The run's open positions (:mod:`arb.positions`), the marks they are valued at, and which instant
    those are: ``end`` (a run that has ended: its summary's, as stored), ``now`` (a running engine's books),
    or ``none`` (a run running in another process: no mark here, so no unrealized PnL, never 0)."""
    stored = (run.summary or {}).get("open_positions")
    if live is None and stored is not None:
        positions = [Position(p["venue"], p["symbol"], Decimal(p["amount"]), Decimal(p["cost"]),
                              _decimal(p["mark"]), _decimal(p["unrealized"])) for p in stored]
        return positions, {(p.venue, p.symbol): p.mark for p in positions}, "end"
    marks: Marks = live.get("marks") or {} if live is not None else {}
    return open_positions(views.open_lots(session, run.id), marks), marks, "now" if live is not None else "none"


def _position_row(p: Position, precision: Precision) -> dict[str, Any]:
    places = precision.quote(p.symbol)
    return {"venue": p.venue, "symbol": p.symbol, "side": "long" if p.amount > 0 else "short",
            "amount": money(p.amount, precision.asset(p.base, p.venue)), "base": p.base, "quote": p.quote,
            "cost": money(p.cost, precision.price(p.symbol)),
            "mark": _amount(p.mark, precision.price(p.symbol)),
            "notional": money(p.notional, places), "unrealized": _amount(p.unrealized, places)}


def _per_quote(values: dict[str, Decimal | None], places: int) -> str | None:
    """One figure per quote currency (:func:`arb.positions.equity`'s): the figure alone for one currency (the
    page names it), else each with its currency; None if one is unknown (a position without a mark)."""
    if any(v is None for v in values.values()):
        return None
    if len(values) == 1:
        return money(next(iter(values.values())), places)
    return ", ".join(f"{money(v, places)} {q}" for q, v in sorted(values.items()) if v is not None)


def _unrealized(positions: Sequence[Position]) -> Decimal | None:
    """Unrealized PnL of ``positions`` (:func:`arb.positions.unrealized_total`), over quote currencies as
    realized PnL is summed; None when a position has no mark."""
    totals = unrealized_total(positions).values()
    return None if any(v is None for v in totals) else sum((v for v in totals if v is not None), views.ZERO)


def _incident_list(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's incidents (``Incident.as_row``), newest first, their times as epoch ms for the page: at most
    ``INCIDENT_ROWS`` of them, and every one still open."""
    newest = list(reversed(rows))
    shown = [r for i, r in enumerate(newest) if i < INCIDENT_ROWS or not r.get("ended_at")]
    return [{"kind": r["kind"], "detail": r["detail"],
             "started_at": _ms(datetime.fromisoformat(r["started_at"])),
             "ended_at": _ms(datetime.fromisoformat(r["ended_at"])) if r.get("ended_at") else None}
            for r in shown]


def _balances(session: Session, run_id: int, precision: Precision) -> list[dict[str, Any]]:
    """Per venue and asset: the run's start and end balances (``arb balances``' rows); while it runs, its
    latest snapshot (after the last pair) stands in for the end."""
    ended = session.scalar(select(Balance.id).where(Balance.run_id == run_id, Balance.kind == "end").limit(1))
    if ended is not None:
        rows = balances(session, run_id)
    else:
        start = {(b.venue, b.asset): b.total for b in session.scalars(
            select(Balance).where(Balance.run_id == run_id, Balance.kind == "start"))}
        rows = [BalanceRow(b.venue, b.asset, start.get((b.venue, b.asset)), b.total)
                for b in repo.latest_balances(session, run_id)]
    out = []
    for row in rows:
        places = precision.asset(row.asset, row.venue)
        out.append({"venue": row.venue, "asset": row.asset, "start": _amount(row.start, places),
                    "latest": _amount(row.end, places), "change": _amount(row.change, places)})
    return out


def _transfers(session: Session, run_id: int, precision: Precision) -> list[dict[str, Any]]:
    """The run's transfers between venues (``store/transfers.py``), newest first: what moved where, its fee,
    and whether it is a plan, on its way or arrived."""
    out = []
    for t in reversed(transfers.transfers(session, run_id)):
        places = precision.asset(t.asset)
        out.append({"id": t.id, "asset": t.asset, "amount": money(t.amount, places), "route": f"{t.source} -> {t.dest}",
                    "fee": money(t.fee, places), "status": t.status, "planned_at": _ms(t.planned_at),
                    "arrived_at": None if t.arrived_at is None else _ms(t.arrived_at)})
    return out


def _live(live: dict[str, Any], precision: Precision) -> dict[str, Any]:
    """A running engine's snapshot, its money formatted, for the page's books, funnel and risk cards."""
    view = live["view"]
    risk = view.get("risk") or {}
    pnl = precision.pnl()
    exposure = [
        {"venue": venue, "asset": asset, "amount": money(Decimal(qty), precision.asset(asset, venue))}
        for venue, assets in (view.get("exposure") or {}).items() for asset, qty in assets.items()
    ]
    return {
        "market_ms": view["market_time_ms"],
        "books": view["books"],
        "funnel": view["funnel"],
        "updates_per_s": round(live["updates_per_s"], 1),
        "stop_reason": view.get("stop_reason"),
        "stale_balances": view.get("stale_balances") or [],
        "exposure": exposure,
        "risk": {
            "kill_switch": risk.get("kill_switch", False),
            "kill_reason": risk.get("kill_reason"),
            "pnl_today": money(Decimal(risk["pnl_today"]), pnl) if "pnl_today" in risk else None,
            "daily_loss_limit": money(Decimal(risk["daily_loss_limit"]), pnl) if "daily_loss_limit" in risk
            else None,
            "daily_limit_reached": risk.get("daily_limit_reached", False),
            "breakers": {venue: b["state"] for venue, b in (risk.get("breakers") or {}).items()},
            "auth_failed": risk.get("auth_failed") or [],
        },
        "incidents": _incident_totals(view.get("incidents") or {}),
    }


def _incident_totals(incidents: dict[str, Any]) -> dict[str, int]:
    """Frames dropped, task restarts and feeds resubscribed, each summed over venues and reasons."""

    def total(node: Any) -> int:
        return sum(total(v) for v in node.values()) if isinstance(node, dict) else int(node)

    labels = {"feed_drops": "frames dropped", "task_restarts": "task restarts",
              "stale_resubscribes": "feeds resubscribed"}
    return {label: total(incidents.get(key) or {}) for key, label in labels.items()}


def _amount(value: Decimal | None, places: int) -> str | None:
    return money(value, places) if value is not None else None


def _decimal(value: Any) -> Decimal | None:
    return Decimal(value) if value is not None else None


def _exact(value: Decimal) -> str:
    return format(value, "f")


def _ms(ts: datetime | None) -> int | None:
    """Epoch milliseconds (UTC): the browser formats them."""
    return round(ts.timestamp() * 1000) if ts is not None else None
