"""End-of-run totals read back from the database, so the printed summary is what SQL will show."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arb.display import Precision, money
from arb.eventloop.clock import from_ms
from arb.positions import equity, less_fees, open_positions, unrealized_total
from arb.store.maker_views import MakerRoute, maker_routes
from arb.store.models import Fill, FillConflict, FundingPayment, Opportunity, Order
from arb.store.repo import fill_flows, funding_flows, inventory_check, opening_positions
from arb.store.transfers import TransferRow, transfer_fees, transfers
from arb.store.views import open_lots, run_pnl
from arb.valuation import EndBook, Valuation, value_holdings
from arb.venues.throttle import budget_text

_US = timedelta(microseconds=1)


def run_totals(session: Session, run_id: int,
               marks: Mapping[tuple[str, str], Decimal | None] | None = None,
               books: Mapping[tuple[str, str], EndBook] | None = None) -> dict[str, Any]:
    """The run's totals as stored: PnL is the sum of the settled opportunities' figures (arb.accounting),
    read through the same function ``arb report`` uses; open positions (arb.positions) valued at ``marks``,
    each book's mid at the run's end, which the summary keeps for every later reader. A run that traded a
    perpetual also values its change to every venue's holdings at ``books``, the end books (arb.valuation):
    its positions (beside those it started with), the basis it holds, and the desk's equity change at mark and
    at unwind."""
    decisions = dict(
        session.execute(
            select(Opportunity.decision, func.count()).where(Opportunity.run_id == run_id).group_by(Opportunity.decision)
        ).all()
    )
    pnl = run_pnl(session, run_id)
    orders = session.scalars(select(Order).where(Order.run_id == run_id)).all()
    by_status: dict[str, int] = defaultdict(int)
    latency: dict[str, list[Decimal]] = defaultdict(list)
    for order in orders:
        by_status[order.status] += 1
        if order.sent_at is not None and order.acked_at is not None:
            delta = order.acked_at - order.sent_at
            latency[order.venue].append(Decimal(delta // _US) / 1000)
    fills = session.scalar(
        select(func.count()).select_from(Fill).join(Order, Fill.order_id == Order.id).where(Order.run_id == run_id)
    )
    conflicts = session.scalar(select(func.count()).select_from(FillConflict).where(FillConflict.run_id == run_id))
    inventory = inventory_check(session, run_id)
    holdings = holdings_now(session, run_id, books or {})
    positions = open_positions(open_lots(session, run_id), marks or {})
    unrealized = unrealized_total(positions)
    fees, unvalued = transfer_fees(session, run_id)
    return {
        "opportunities": {"executed": decisions.get("executed", 0), "rejected": decisions.get("rejected", 0)},
        # Maker routes' quoting figures (arb/store/maker_views.py); empty for a taker-only run.
        "maker": [_maker_row(r) for r in maker_routes(session, run_id)],
        "orders": len(orders),
        "orders_by_status": dict(sorted(by_status.items())),
        "fills": int(fills or 0),
        "fill_conflicts": int(conflicts or 0),
        "expected_profit": pnl.totals["expected_pnl"],
        "realized_pnl": pnl.totals["realized_pnl"],
        "pnl_attribution": {k: pnl.totals[k] for k in ("pnl_slippage", "pnl_fees", "pnl_unfilled", "pnl_imbalance")},
        "fees_quote": pnl.totals["fees_quote"],
        # Open positions at the run's end (not in realized pnl) and their unrealized pnl per quote currency.
        "open_positions": [{"venue": p.venue, "symbol": p.symbol, "amount": p.amount, "cost": p.cost,
                            "mark": p.mark, "unrealized": p.unrealized} for p in positions],
        "unrealized_pnl": unrealized,
        "unsettled": pnl.unsettled,
        # Transfers between venues (arb/rebalance.py) and what those that left cost: taken off the equity.
        "transfers": [transfer_row(t) for t in transfers(session, run_id)],
        "transfer_fees": fees,
        "transfer_fees_unvalued": unvalued,
        # A run that traded a perpetual: every venue's change in holdings, valued at the end books.
        **({"holdings": holdings} if holdings is not None else {}),
        # Balances against fills (arb.inventory): what moved that trading does not explain, per venue/asset.
        "external_flows": {f"{r.venue} {r.asset}": r.external_flow for r in inventory if r.external_flow},
        "inventory_unchecked": sorted({r.venue for r in inventory if r.external_flow is None}),
        "venue_latency_ms": {
            venue: {"n": len(ms), "median": _ms(median(ms)), "max": _ms(max(ms))}
            for venue, ms in sorted(latency.items())
        },
    }


def transfer_row(t: TransferRow) -> dict[str, Any]:
    """One transfer as the summary keeps it (exact; times ISO 8601 on the run's clock)."""
    def when(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {"id": t.id, "asset": t.asset, "amount": t.amount, "source": t.source, "dest": t.dest,
            "network": t.network, "fee": t.fee, "minimum": t.minimum, "fee_value": t.fee_value,
            "value_currency": t.value_currency, "status": t.status, "reason": t.reason,
            "planned_at": when(t.planned_at), "expected_at": when(t.expected_at), "sent_at": when(t.sent_at),
            "arrived_at": when(t.arrived_at)}


def holdings_now(session: Session, run_id: int, books: Mapping[tuple[str, str], EndBook]) -> dict[str, Any] | None:
    """The run's change in holdings valued at ``books`` (arb.valuation), beside the perpetual positions it
    started with (stored at its start), as the summary keeps it; None for a run that has traded no perpetual
    and started with no position (its pairs' figures are its truth)."""
    flows = fill_flows(session, run_id)
    opening = {key: p.amount for key, p in opening_positions(session, run_id).items()}
    if not any(f.position for f in flows) and not opening:
        return None
    valued = value_holdings(flows, books, funding_flows(session, run_id), opening)
    fees, _ = transfer_fees(session, run_id)
    if fees:  # a cost that closed: off what closed and off the equity, so equity = realized + unrealized holds
        valued = dataclasses.replace(valued, realized=less_fees(valued.realized, fees),
                                     equity_at_mark=less_fees(valued.equity_at_mark, fees),
                                     equity_at_unwind=less_fees(valued.equity_at_unwind, fees))
    row = holdings_row(valued, funding_payments=_count_funding(session, run_id))
    return {**row, "transfer_fees": fees} if fees else row


def read_holdings(sessions: Any, run_id: int, books: Mapping[tuple[str, str], EndBook]) -> dict[str, Any] | None:
    """:func:`holdings_now` in a session of its own (a worker thread's): what the live surfaces show."""
    with sessions() as session:
        return holdings_now(session, run_id, books)


def _count_funding(session: Session, run_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(FundingPayment)
                              .where(FundingPayment.run_id == run_id)) or 0)


def holdings_row(v: Valuation, *, funding_payments: int) -> dict[str, Any]:
    """:class:`arb.valuation.Valuation` as the summary keeps it (exact; JSON-able once stored)."""
    return {
        "cash": v.cash,
        # Funding received (< 0: paid) per settle currency, over how many stored payments; part of ``cash``.
        "funding": v.funding,
        "funding_payments": funding_payments,
        # ``position``: a perpetual's (linear, or inverse with its ``contract_size``: amount in contracts, figures
        # in its base coin); a summary stored before inverse perpetuals has none, its positions all ``linear``.
        "held": [{"venue": h.venue, "symbol": h.symbol, "linear": h.linear, "position": h.position,
                  "contract_size": h.contract_size, "amount": h.amount, "entry": h.entry,
                  "mark": h.mark, "at_mark": h.at_mark, "at_unwind": h.at_unwind, "stale_ms": h.stale_ms,
                  "opening": h.opening}
                 for h in v.held],
        "unvalued": {f"{venue} {asset}": amount for (venue, asset), amount in v.unvalued.items()},
        "realized": v.realized,
        "equity_at_mark": v.equity_at_mark,
        "equity_at_unwind": v.equity_at_unwind,
        "basis": [{"base": position.base, "spot_venue": spot.venue, "spot": spot.amount,
                   "perp_venue": position.venue, "perp": position.held_at_end} for spot, position in v.basis],
    }


def _maker_row(route: MakerRoute) -> dict[str, Any]:
    latency, unhedged = MakerRoute.spread(route.fill_to_hedge_ms), MakerRoute.spread(route.unhedged_ms)
    return {"symbol": route.symbol, "route": route.label, "maker_venue": route.maker_venue,
            "taker_venue": route.taker_venue,
            "quotes": route.quotes, "refused": route.refused, "quotes_filled": route.quotes_filled,
            "maker_fills": route.maker_fills, "hedges": route.hedges, "flattens": route.flattens,
            "fill_to_hedge_ms": None if latency is None else {"median": latency[0], "max": latency[1]},
            "unhedged_ms": None if unhedged is None else {"median": unhedged[0], "max": unhedged[1]},
            "unhedged_base": route.unhedged_base, "adverse": route.adverse, "hedge_slippage": route.hedge_slippage}


def _ms(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def render_summary(summary: dict[str, Any], precision: Precision | None = None) -> str:
    """Plain text, stable wording: tests and `arb report` compare against these lines. Money is shown at the
    places ``precision`` (the run's market rules, :mod:`arb.display`) gives; the summary itself is exact."""
    precision = precision or Precision()
    pnl = precision.pnl()
    f = summary["funnel"]
    makers = summary.get("maker") or []
    lines = ["== arb run summary =="]
    if summary.get("testnet"):  # live venues on their test environment (Engine.testnet): said first
        lines.append(f"testnet                 {', '.join(summary['testnet'])}")
    lines.append(f"book updates            {f['book_updates']}")
    if f["evaluations"] or not makers:  # detection's funnel: a maker-only run has none
        lines += [
            f"evaluations             {f['evaluations']}",
            f"crossed                 {f['crossed']}",
            f"profitable after fees   {f['profitable_after_fees']}",
            f"approved by detection   {f['approved']}",
        ]
    lines += _maker_lines(makers, precision)
    lines.append(f"executed                {f['executed']}")
    if f.get("outcomes"):  # the words of arb/domain/outcomes.py, as arb trades and the dashboard say them
        lines.append("  " + ", ".join(f"{word} {n}" for word, n in f["outcomes"].items()))
    lines += [
        f"rejected                {f['rejected_total']}",
    ]
    lines += [f"  {reason:<25} {count}" for reason, count in f["rejected"].items()]
    lines += [
        f"expected profit         {money(summary['expected_profit'], pnl)}",
        f"realized pnl            {money(summary['realized_pnl'], pnl)}",
    ]
    parts = summary["pnl_attribution"]
    lines.append("  difference: slippage {} fees {} unfilled {} imbalance {}".format(
        *(money(parts[k], pnl) for k in ("pnl_slippage", "pnl_fees", "pnl_unfilled", "pnl_imbalance"))))
    if summary["unsettled"]:
        lines.append(f"  unsettled pairs         {summary['unsettled']} (an order not final: not in realized pnl)")
    for p in summary.get("open_positions") or ():
        base, quote = p["symbol"].split("/")
        value = ("no mark" if p["unrealized"] is None else
                 f"unrealized {money(p['unrealized'], pnl)} {quote} at mid {money(p['mark'], precision.price(p['symbol']))}")
        lines.append(f"OPEN POSITION           {p['venue']} {money(p['amount'], precision.asset(base, p['venue']))} {base} "
                     f"at cost {money(p['cost'], precision.price(p['symbol']))}: {value} "
                     "(not in realized pnl)")
    if summary.get("holdings"):  # a perpetual traded: the desk's equity is the holdings' (one figure, not two)
        lines += _holdings_lines(summary["holdings"], precision, simulated="market_trades" in summary)
    else:
        fees = {q: Decimal(str(v)) for q, v in (summary.get("transfer_fees") or {}).items()}
        label = "equity (realized + unrealized - transfer fees)" if fees else "equity (realized + unrealized)"
        for quote, total in equity(summary["realized_pnl"], summary.get("unrealized_pnl") or {},
                                   transfer_fees=fees).items():
            lines.append(f"{label} {'unknown (no mark)' if total is None else money(total, pnl)} {quote}")
    lines += _transfer_lines(summary, precision)
    lines += [
        f"orders                  {summary['orders']} {summary['orders_by_status']}",
        f"fills                   {summary['fills']}",
    ]
    flows, unchecked = summary["external_flows"], summary["inventory_unchecked"]
    if flows:
        lines.append("EXTERNAL FLOWS          " + ", ".join(f"{k} {_amount(k, v, precision)}" for k, v in flows.items())
                     + " (balances moved by more than the fills explain)")
    elif not unchecked:
        lines.append("inventory               end - start = fills, every venue and asset")
    if unchecked:
        lines.append(f"inventory unchecked     {', '.join(unchecked)} (a start or end balance read failed)")
    if summary.get("balance_snapshot_gaps"):
        lines.append(f"balance snapshot gaps   {summary['balance_snapshot_gaps']} (reads that failed; see the log)")
    if summary["fill_conflicts"]:
        lines.append(f"FILL CONFLICTS          {summary['fill_conflicts']} (see the fill_conflicts table)")
    if "market_trades" in summary:  # a simulation: the rule its resting orders filled by
        trades = summary["market_trades"]
        lines.append(f"resting orders          queue rule on {trades} recorded trades{_queue_models(summary)}"
                     if trades else
                     "resting orders          fill only when the book crosses them (the capture has no trades)")
    lines += _incident_lines(summary)
    for venue, lat in summary["venue_latency_ms"].items():
        lines.append(f"latency {venue:<16}median {lat['median']} ms, max {lat['max']} ms over {lat['n']} orders")
    hot = summary.get("hot_path_us") or {}
    if hot:
        lines.append(f"hot path (update->decision) p50 {hot['p50']} us, p99 {hot['p99']} us, max {hot['max']} us")
    for incident in summary.get("incidents") or ():
        span = f"{incident['started_at']} -> {incident['ended_at'] or 'still open at the end'}"
        lines.append(f"incident                {incident['kind'].replace('_', ' ')}: {span}: {incident['detail']}")
    if summary.get("stop_reason"):
        lines.append(f"stopped: {summary['stop_reason']}")
    return "\n".join(lines)


def _transfer_lines(summary: dict[str, Any], precision: Precision) -> list[str]:
    """The run's transfers per asset and route: how many, how much left, what arrived, in flight or only
    planned, and their fees; then the fees' total (what the equity takes off). None: no line."""
    rows = summary.get("transfers") or []
    if not rows:
        return []
    routes: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for t in rows:
        routes[(t["asset"], t["source"], t["dest"])].append(t)
    lines = []
    for (asset, source, dest), moved in sorted(routes.items()):
        places = precision.asset(asset)
        sent = [t for t in moved if t["status"] != "planned"]
        amount = sum((Decimal(str(t["amount"])) for t in sent), Decimal(0))
        fee = sum((Decimal(str(t["fee"])) for t in sent), Decimal(0))
        flying = sum(1 for t in sent if t["status"] == "sent")
        planned = len(moved) - len(sent)
        lines.append(f"transfers {asset:<13} {source} -> {dest}: {len(sent)} sent, {money(amount, places)} {asset}, "
                     f"fees {money(fee, places)} {asset}"
                     + (f", {flying} in flight at the end" if flying else "")
                     + (f", {planned} planned only (transfers = \"plan\")" if planned else ""))
    fees = summary.get("transfer_fees") or {}
    unvalued = summary.get("transfer_fees_unvalued") or {}
    if fees or unvalued:
        parts = [f"{money(v, precision.pnl())} {q}" for q, v in fees.items()]
        parts += [f"{money(v, precision.asset(a))} {a} (no mark to value it)" for a, v in unvalued.items()]
        where = ("taken off what closed and the equity change" if summary.get("holdings") else "taken off the equity")
        lines.append(f"transfer fees           {', '.join(parts)} ({where})")
    return lines


def _queue_models(summary: dict[str, Any]) -> str:
    """``, queue model conservative`` (every venue's), or each venue's: ``, queue models spot power n=2, perp
    conservative`` (``arb/venues/sim/queue.py``); nothing for a summary stored before there were models."""
    models = summary.get("queue_models") or {}
    if not models:
        return ""
    if len(set(models.values())) == 1:
        return f", queue model {next(iter(models.values()))}"
    return ", queue models " + ", ".join(f"{venue} {model}" for venue, model in models.items())


def _holdings_lines(h: dict[str, Any], precision: Precision, *, simulated: bool) -> list[str]:
    """A run that traded a perpetual: its positions, the basis it ends holding (one line, with what unwinding
    it costs), and the desk's equity change at mark and at unwind (``arb/valuation.py``)."""
    pnl = precision.pnl()
    lines = []
    for p in h["held"]:
        if not p.get("position", p["linear"]):
            continue
        base, quote = p["symbol"].split("/")
        inverse = p.get("contract_size") is not None  # contracts, its PnL in the base coin
        settle, unit = (base, f"contracts of {p['contract_size']} {quote}") if inverse else (quote, base)
        mark = "no mark" if p["mark"] is None else (
            f"mark {money(p['mark'], precision.price(p['symbol']))}: unrealized {money(p['at_mark'], pnl)} {settle}")
        places = precision.asset(base, p['venue'])
        opening = Decimal(str(p.get("opening") or 0))  # exact, as kept; a summary stored before openings: none
        if opening:  # held before the run: the run's change is what is valued
            at_end = money(opening + Decimal(str(p['amount'])), places)
            change = "no change" if not p['amount'] else (
                f"the run's change {money(p['amount'], places)} at {money(p['entry'], precision.price(p['symbol']))}, {mark}")
            lines.append(f"POSITION                {p['venue']} {p['symbol']} {at_end} {unit} at the end "
                         f"({money(opening, places)} {unit} held at the start; {change})")
            continue
        lines.append(f"POSITION                {p['venue']} {p['symbol']} {money(p['amount'], places)} "
                     f"{unit} at entry {money(p['entry'], precision.price(p['symbol']))}, {mark}")
    stale = [f"{p['venue']} {p['symbol']} {p['stale_ms'] / 1000:.0f} s" for p in h["held"] if p["stale_ms"]]
    if stale:
        lines.append("STALE END BOOKS         " + ", ".join(stale) + " old at the end: their marks and unwind "
                     "values are that old")
    if h["funding_payments"]:
        paid = ", ".join(f"{money(v, pnl)} {c}" for c, v in h["funding"].items())
        lines.append(f"funding                 {paid} over {h['funding_payments']} payments (received; < 0 paid)")
    else:
        lines.append("funding                 none: the capture has no funding lines (marks are the books' mids)"
                     if simulated else "funding                 none in the venues' funding history for this run")
    for quote in h["equity_at_mark"]:
        at_mark, at_unwind = h["equity_at_mark"][quote], h["equity_at_unwind"][quote]
        for b in h["basis"]:
            cost = "the end books cannot take it" if at_mark is None or at_unwind is None else (
                f"unwinding it at the end books costs {money(at_mark - at_unwind, pnl)} {quote} beyond the mid")
            lines.append(f"BASIS POSITION          {b['base']}: {b['spot_venue']} "
                         f"{money(b['spot'], precision.asset(b['base'], b['spot_venue']))}, {b['perp_venue']} "
                         f"{money(b['perp'], precision.asset(b['base'], b['perp_venue']))} still held (realized "
                         f"pnl counts the pairs' entry spread, not this basis): {cost}")
        closed = h["realized"].get(quote)
        moved = ", transfer fees" if h.get("transfer_fees") else ""
        lines.append(f"realized (closed)       {'unknown (a cost unknown)' if closed is None else money(closed, pnl)} "
                     f"{quote} (what closed: reductions, fees, funding{moved}; what is held is open)")
        lines.append(f"equity change at mark   {'unknown (no mark)' if at_mark is None else money(at_mark, pnl)} "
                     f"{quote} (every venue's holdings change at its book's mid)")
        lines.append(f"equity change at unwind {'unknown (a book too thin)' if at_unwind is None else money(at_unwind, pnl)} "
                     f"{quote} (every change closed into the end books, taker fees paid)")
    if h["unvalued"]:
        lines.append("unvalued                " + ", ".join(f"{k} {v}" for k, v in h["unvalued"].items())
                     + " (no market here prices them)")
    return lines


def _maker_route(m: dict[str, Any]) -> str:
    """A stored maker row's route, buy -> sell (``MakerRoute.label``); a summary stored before it had one
    says which venue quoted."""
    return m.get("route") or f"quoting on {m['maker_venue']}, hedged on {m['taker_venue']}"


def _maker_lines(makers: list[dict[str, Any]], precision: Precision) -> list[str]:
    """Each maker route's quoting: quotes, fills, hedges, fill -> hedge latency, time unhedged, what is owed."""
    lines = []
    for m in makers:
        base = m["symbol"].split("/")[0]
        lines.append(f"maker {m['symbol']} {_maker_route(m)}: {m['quotes']} quotes "
                     f"({m['refused']} refused), {m['quotes_filled']} filled by {m['maker_fills']} fills, "
                     f"{m['hedges']} hedges" + (f", {m['flattens']} flattens" if m["flattens"] else ""))
        for key, label in (("fill_to_hedge_ms", "fill -> hedge sent"), ("unhedged_ms", "time unhedged")):
            if m[key] is not None:
                lines.append(f"  {label:<21} median {m[key]['median']} ms, max {m[key]['max']} ms")
        lines.append(f"  slippage              adverse selection {money(m['adverse'], precision.pnl())}, "
                     f"hedges {money(m['hedge_slippage'], precision.pnl())}")
        if m["unhedged_base"]:
            owed = money(m["unhedged_base"], precision.asset(base, m["maker_venue"]))
            lines.append(f"  UNHEDGED              {owed} {base} filled on {m['maker_venue']} with no hedge")
    return lines


def _amount(venue_asset: str, value: Decimal, precision: Precision) -> str:
    """An external flow keyed ``"<venue> <asset>"`` (as :func:`run_totals` writes it), at that asset's places."""
    venue, _, asset = venue_asset.partition(" ")
    return money(value, precision.asset(asset, venue))


def _incident_lines(summary: dict[str, Any]) -> list[str]:
    """Malformed frames dropped, supervised tasks restarted, silent feeds resubscribed: shown when any; each
    budgeted venue's orders held back and headroom; a simulation's venues with no feed latency to read from
    the capture, and its simulated books found crossed (the capture's events out of the venue's order)."""
    lines = []
    unread = summary.get("feed_latency_unread") or []
    if unread:
        lines.append(f"feed latency unread     {', '.join(unread)}: 0 ms (the capture has no exchange times for "
                     f"{'them' if len(unread) > 1 else 'it'}; set feed_latency_ms)")
    for venue, books in (summary.get("sim_books_crossed") or {}).items():
        for symbol, c in books.items():
            first = from_ms(c["first_ms"]).isoformat(timespec="milliseconds")
            lines.append(f"SIMULATED BOOK CROSSED  {venue} {symbol}: after {c['events']} market events, first at "
                         f"{first} (bid {c['bid']} >= ask {c['ask']}), {c['times']} time{'s' if c['times'] > 1 else ''}"
                         " in all: the capture's events out of the venue's order? (docs/CAPTURE.md)")
    for venue, reasons in (summary.get("feed_drops") or {}).items():
        detail = ", ".join(f"{reason} {n}" for reason, n in reasons.items())
        lines.append(f"frames dropped          {venue} {sum(reasons.values())} ({detail})")
    restarts = summary.get("task_restarts") or {}
    if restarts:
        lines.append("task restarts           " + ", ".join(f"{task} {n}" for task, n in restarts.items())
                     + " (see the log)")
    resubscribed = summary.get("stale_resubscribes") or {}
    if resubscribed:
        lines.append("stale feeds resubscribed " + ", ".join(f"{venue} {n}" for venue, n in resubscribed.items()))
    # Orders each venue's order budget held back, and its windows' headroom at the end (arb/venues/throttle.py).
    for venue, use in (summary.get("order_budget") or {}).items():
        lines.append(f"order budget {venue:<11}{budget_text(use)}")
    return lines
