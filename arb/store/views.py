"""Exact review numbers for one run, in ``Decimal``, read from the tables.

PnL is not computed here: each executed opportunity's realized PnL and attribution are defined in
``arb.accounting`` and stored on its row when it settles; this module reads and sums them, as the SQL views
(``migrations/versions/0003_settlement_runs_status.py``) do. Counts, fill ratios, latencies and inventory
changes are read from the base tables with the same definitions as the views. On SQLite the views sum in
binary floats; the numbers here are exact. The tests check the two against each other on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from arb.domain.outcomes import pair_outcome
from arb.positions import OpenLot
from arb.store.models import Balance, Fill, Opportunity, Order
from arb.store.repo import inventory_check, latest_balances

VIEW_NAMES = (
    "v_fills_flows",
    "v_opportunity_funnel",
    "v_opportunity_rejections",
    "v_opportunity_pnl",
    "v_run_pnl",
    "v_leg_fill_ratio",
    "v_leg_latency",
    "v_inventory_snapshots",
    "v_inventory_from_fills",
)
"""The review views (revision 0003), in dependency order."""

ZERO = Decimal(0)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class FunnelRow:
    symbol: str
    buy_venue: str
    sell_venue: str
    seen: int
    rejected: int
    executed: int
    expected_profit: Decimal  # of the executed ones


@dataclass(frozen=True, slots=True)
class RejectionRow:
    symbol: str
    buy_venue: str
    sell_venue: str
    reason: str
    rejected: int


@dataclass(frozen=True, slots=True)
class PnlRow:
    """One executed opportunity as settled (``arb.accounting``): the stored figures, as ``v_opportunity_pnl``.

    The settlement columns are None while one of the opportunity's orders is not final (``settled_at`` None).
    """

    opportunity_id: int
    detected_at: datetime
    settled_at: datetime | None
    symbol: str
    buy_venue: str
    sell_venue: str
    size: Decimal
    expected_buy_price: Decimal
    expected_sell_price: Decimal
    mark_price: Decimal | None
    expected_pnl: Decimal
    realized_pnl: Decimal | None
    pnl_slippage: Decimal | None
    pnl_fees: Decimal | None
    pnl_unfilled: Decimal | None
    pnl_imbalance: Decimal | None
    fees_quote: Decimal | None
    residual_base: Decimal | None


PNL_TOTAL_COLUMNS = (
    "expected_pnl",
    "realized_pnl",
    "pnl_slippage",
    "pnl_fees",
    "pnl_unfilled",
    "pnl_imbalance",
    "fees_quote",
)
"""Money columns that add up across opportunities (as ``v_run_pnl`` sums them)."""


@dataclass(frozen=True, slots=True)
class LegRow:
    """One order: fill ratio and latency, as ``v_leg_fill_ratio`` and ``v_leg_latency``."""

    order_id: int
    opportunity_id: int | None
    venue: str
    symbol: str
    side: str
    purpose: str
    status: str
    amount: Decimal
    filled: Decimal  # sum of the fills
    order_filled: Decimal  # the order row's own counter
    decided_at: datetime | None
    sent_at: datetime | None
    acked_at: datetime | None
    first_fill_at: datetime | None
    last_fill_at: datetime | None

    @property
    def fill_ratio(self) -> Decimal | None:
        return self.filled / self.amount if self.amount else None

    @property
    def decision_to_sent_ms(self) -> Decimal | None:
        return elapsed_ms(self.decided_at, self.sent_at)

    @property
    def sent_to_ack_ms(self) -> Decimal | None:
        return elapsed_ms(self.sent_at, self.acked_at)

    @property
    def ack_to_first_fill_ms(self) -> Decimal | None:
        return elapsed_ms(self.acked_at, self.first_fill_at)

    @property
    def first_to_last_fill_ms(self) -> Decimal | None:
        return elapsed_ms(self.first_fill_at, self.last_fill_at)

    @property
    def decision_to_filled_ms(self) -> Decimal | None:
        return elapsed_ms(self.decided_at, self.last_fill_at)


LATENCY_COLUMNS = (
    "decision_to_sent_ms",
    "sent_to_ack_ms",
    "ack_to_first_fill_ms",
    "first_to_last_fill_ms",
    "decision_to_filled_ms",
)


def elapsed_ms(start: datetime | None, end: datetime | None) -> Decimal | None:
    """Exact milliseconds from ``start`` to ``end`` (microsecond resolution); None if either is missing."""
    if start is None or end is None:
        return None
    return Decimal((end - start) // _MICROSECOND) / 1000


def funnel(session: Session, run_id: int) -> list[FunnelRow]:
    """Per symbol and directed venue pair: seen / rejected / executed and the executed expected profit."""
    seen: Counter[tuple[str, str, str]] = Counter()
    rejected: Counter[tuple[str, str, str]] = Counter()
    executed: Counter[tuple[str, str, str]] = Counter()
    profit: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for opp in _opportunities(session, run_id):
        key = (opp.symbol, opp.buy_venue, opp.sell_venue)
        seen[key] += 1
        if opp.decision == "executed":
            executed[key] += 1
            profit[key] += opp.expected_profit
        else:
            rejected[key] += 1
    return [FunnelRow(*key, seen[key], rejected[key], executed[key], profit[key]) for key in sorted(seen)]


def rejections(session: Session, run_id: int) -> list[RejectionRow]:
    """Rejected opportunities counted per symbol, venue pair and reason code."""
    counts: Counter[tuple[str, str, str, str]] = Counter(
        (o.symbol, o.buy_venue, o.sell_venue, o.reason or "")
        for o in _opportunities(session, run_id)
        if o.decision == "rejected"
    )
    return [RejectionRow(*key, counts[key]) for key in sorted(counts)]


def opportunity_pnl(session: Session, run_id: int) -> list[PnlRow]:
    """Every executed opportunity of the run with its stored settlement, in detection order."""
    stmt = (
        select(Opportunity)
        .where(Opportunity.run_id == run_id, Opportunity.decision == "executed")
        .order_by(Opportunity.detected_at, Opportunity.id)
    )
    return [_pnl_row(o) for o in session.scalars(stmt)]


def _pnl_row(o: Opportunity) -> PnlRow:
    return PnlRow(
        opportunity_id=o.id, detected_at=o.detected_at, settled_at=o.settled_at, symbol=o.symbol,
        buy_venue=o.buy_venue, sell_venue=o.sell_venue, size=o.size, expected_buy_price=o.buy_price,
        expected_sell_price=o.sell_price, mark_price=o.mark_price, expected_pnl=o.expected_profit,
        realized_pnl=o.realized_pnl, pnl_slippage=o.pnl_slippage, pnl_fees=o.pnl_fees,
        pnl_unfilled=o.pnl_unfilled, pnl_imbalance=o.pnl_imbalance, fees_quote=o.fees_quote,
        residual_base=o.residual_base,
    )


@dataclass(frozen=True, slots=True)
class RunPnl:
    """A run's PnL: sums of its executed opportunities' stored figures (as ``v_run_pnl``)."""

    executed: int
    unsettled: int  # executed opportunities with an order not yet final: not in the sums below
    totals: dict[str, Decimal]


def run_pnl(session: Session, run_id: int) -> RunPnl:
    rows = opportunity_pnl(session, run_id)
    return RunPnl(len(rows), sum(1 for r in rows if r.settled_at is None), pnl_totals(rows))


def pnl_totals(rows: Iterable[PnlRow]) -> dict[str, Decimal]:
    """Sums of the money columns that add up across opportunities (see ``PNL_TOTAL_COLUMNS``); an unsettled
    opportunity adds its expected PnL only (its realized figures are not known yet)."""
    totals = dict.fromkeys(PNL_TOTAL_COLUMNS, ZERO)
    for row in rows:
        for column in PNL_TOTAL_COLUMNS:
            value = getattr(row, column)
            if value is not None:
                totals[column] += value
    return totals


def open_lots(session: Session, run_id: int) -> list[OpenLot]:
    """The run's settled open positions (``opportunities.open_base``), one per pair that left one."""
    stmt = (select(Opportunity).where(Opportunity.run_id == run_id, Opportunity.open_base.is_not(None))
            .order_by(Opportunity.id))
    return [OpenLot(o.buy_venue, o.sell_venue, o.symbol, o.open_base, o.open_price or ZERO)
            for o in session.scalars(stmt) if o.open_base]


# --- grouped (arb report --by) ----------------------------------------------------------------------

GROUPINGS: dict[str, tuple[str, ...]] = {
    "day": ("day",),
    "hour": ("hour",),
    "symbol": ("symbol",),
    "route": ("symbol", "buy -> sell"),
}
"""``arb report --by``: each grouping's key columns. Day and hour are the UTC day and hour of the
opportunity's ``detected_at`` (the run's clock: market time in a simulation); a route is buy venue -> sell
venue of one symbol."""


@dataclass(frozen=True, slots=True)
class GroupRow:
    """One group of a run's opportunities and what they made, from the stored figures: the settled
    ``realized_pnl`` of its executed opportunities, the fees of their orders' fills per currency, and the open
    positions they opened (``open_base`` at ``open_price``: valued by :mod:`arb.positions`, not here)."""

    key: tuple[str, ...]
    seen: int
    rejected: int
    executed: int
    unsettled: int  # executed with an order not final: not in realized_pnl
    orders: int
    fills: int
    realized_pnl: Decimal
    fees: dict[str, Decimal]  # currency -> sum of fills' fees
    lots: tuple[OpenLot, ...]


def group_key(by: str, opp: Opportunity) -> tuple[str, ...]:
    """The group ``opp`` belongs to in grouping ``by`` (:data:`GROUPINGS`)."""
    at = opp.detected_at.astimezone(UTC)
    if by == "day":
        return (at.strftime("%Y-%m-%d"),)
    if by == "hour":
        return (at.strftime("%Y-%m-%dT%H:00Z"),)
    if by == "symbol":
        return (opp.symbol,)
    if by == "route":
        return (opp.symbol, f"{opp.buy_venue} -> {opp.sell_venue}")
    raise ValueError(f"unknown grouping {by!r}: one of {', '.join(GROUPINGS)}")


def grouped(session: Session, run_id: int, by: str) -> tuple[list[GroupRow], int, int]:
    """The run's opportunities grouped ``by`` day, hour, symbol or route, sorted by key; and the orders and
    fills of the run that belong to no opportunity (in no group)."""
    opps = {o.id: o for o in _opportunities(session, run_id)}
    keys = {oid: group_key(by, o) for oid, o in opps.items()}
    orders: Counter[tuple[str, ...]] = Counter()
    fills: Counter[tuple[str, ...]] = Counter()
    fees: dict[tuple[str, ...], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    loose_orders = loose_fills = 0
    for (opp_id,) in session.execute(select(Order.opportunity_id).where(Order.run_id == run_id)):
        if opp_id in keys:
            orders[keys[opp_id]] += 1
        else:
            loose_orders += 1
    stmt = (select(Order.opportunity_id, Fill.fee, Fill.fee_currency).join(Order, Fill.order_id == Order.id)
            .where(Order.run_id == run_id))
    for opp_id, fee, currency in session.execute(stmt):
        if opp_id in keys:
            fills[keys[opp_id]] += 1
            fees[keys[opp_id]][currency] += fee
        else:
            loose_fills += 1
    members: dict[tuple[str, ...], list[Opportunity]] = defaultdict(list)
    for oid, o in opps.items():
        members[keys[oid]].append(o)
    rows = []
    for key in sorted(members):
        group = members[key]
        executed = [o for o in group if o.decision == "executed"]
        rows.append(GroupRow(
            key=key, seen=len(group), rejected=len(group) - len(executed), executed=len(executed),
            unsettled=sum(1 for o in executed if o.settled_at is None), orders=orders[key], fills=fills[key],
            realized_pnl=sum((o.realized_pnl for o in executed if o.realized_pnl is not None), ZERO),
            fees=dict(sorted(fees[key].items())),
            lots=tuple(OpenLot(o.buy_venue, o.sell_venue, o.symbol, o.open_base, o.open_price or ZERO)
                       for o in group if o.open_base),
        ))
    return rows, loose_orders, loose_fills


# --- trades -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TradeRow:
    """One executed opportunity as ``arb trades`` lists it: its stored settlement (the same :class:`PnlRow`
    ``arb report`` reads), what its entry legs filled, and its outcome (:func:`arb.domain.outcomes.pair_outcome`)."""

    pnl: PnlRow
    bought: Decimal  # base filled by the entry buy leg (the sum of its fills)
    sold: Decimal  # base filled by the entry sell leg
    outcome: str


def trades(session: Session, run_id: int, *, newest: int | None = None) -> list[TradeRow]:
    """Every executed opportunity of the run, in detection order, with its entry fills and outcome; with
    ``newest``, only that many of the latest, newest first (the dashboard's recent trades)."""
    stmt = (
        select(Opportunity)
        .where(Opportunity.run_id == run_id, Opportunity.decision == "executed")
        .options(selectinload(Opportunity.orders).selectinload(Order.fills))
    )
    if newest is None:
        stmt = stmt.order_by(Opportunity.detected_at, Opportunity.id)
    else:
        stmt = stmt.order_by(Opportunity.detected_at.desc(), Opportunity.id.desc()).limit(newest)
    rows = []
    for opp in session.scalars(stmt):
        entry = [order for order in opp.orders if order.purpose == "entry"]
        filled = {order.id: sum((f.amount for f in order.fills), ZERO) for order in entry}
        by_side = {side: sum((filled[o.id] for o in entry if o.side == side), ZERO) for side in ("buy", "sell")}
        complete = bool(entry) and all(filled[o.id] >= o.amount for o in entry)
        detail = opp.detail or {}
        outcome = pair_outcome(detail.get("outcome"), detail.get("policy"), complete, opp.settled_at is not None)
        rows.append(TradeRow(_pnl_row(opp), by_side["buy"], by_side["sell"], outcome))
    return rows


# --- balances ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One asset on one venue (``venue`` None: summed over every venue): the totals of the run's ``start``
    and ``end`` balance snapshots (``arb.inventory``; None where that snapshot is missing)."""

    venue: str | None
    asset: str
    start: Decimal | None
    end: Decimal | None

    @property
    def change(self) -> Decimal | None:
        return None if self.start is None or self.end is None else self.end - self.start


def balances(session: Session, run_id: int) -> list[BalanceRow]:
    """Per venue and asset, sorted: start and end, read through the inventory check ``arb report`` uses."""
    return [BalanceRow(r.venue, r.asset, r.start, r.end) for r in inventory_check(session, run_id)]


def balances_now(session: Session, run_id: int) -> tuple[list[BalanceRow], datetime | None]:
    """What ``arb balances`` shows, ended or not: :func:`balances` once the run has its ``end`` snapshot
    (then None); while it has none (a run still going, or one that died), each (venue, asset)'s latest
    stored snapshot (the start, or the one after its venue's last pair) stands in for the end, and the time
    of the newest of them is returned."""
    ended = session.scalar(select(Balance.id).where(Balance.run_id == run_id, Balance.kind == "end").limit(1))
    if ended is not None:
        return balances(session, run_id), None
    start = {(r.venue, r.asset): r.start for r in balances(session, run_id)}  # and the fills' assets
    latest = latest_balances(session, run_id)
    now = {(b.venue, b.asset): b.total for b in latest}
    read = {venue for venue, _ in now}  # a venue read holds 0 of an asset its snapshots do not name
    rows = [BalanceRow(venue, asset, start.get((venue, asset)), now.get((venue, asset), ZERO if venue in read else None))
            for venue, asset in sorted(start.keys() | now.keys())]
    return rows, max((b.ts for b in latest), default=None)


def balance_totals(rows: Iterable[BalanceRow]) -> list[BalanceRow]:
    """Per asset, summed over venues; a venue with a missing snapshot makes that total missing too."""
    by_asset: dict[str, list[BalanceRow]] = defaultdict(list)
    for row in rows:
        by_asset[row.asset].append(row)
    return [
        BalanceRow(None, asset, _sum_or_none(r.start for r in group), _sum_or_none(r.end for r in group))
        for asset, group in sorted(by_asset.items())
    ]


def _sum_or_none(values: Iterable[Decimal | None]) -> Decimal | None:
    total = ZERO
    for value in values:
        if value is None:
            return None
        total += value
    return total


def legs(session: Session, run_id: int) -> list[LegRow]:
    """Every order of the run with its fill ratio and latency timestamps."""
    stmt = (
        select(Order)
        .where(Order.run_id == run_id)
        .order_by(Order.id)
        .options(selectinload(Order.fills), selectinload(Order.opportunity))
    )
    rows = []
    for order in session.scalars(stmt):
        # Our clock (when arb recorded each fill), like acked_at: the venue's own trade time is another
        # clock and would make ack -> fill negative.
        stamps = [f.received_at for f in order.fills if f.received_at is not None]
        rows.append(
            LegRow(
                order_id=order.id,
                opportunity_id=order.opportunity_id,
                venue=order.venue,
                symbol=order.symbol,
                side=order.side,
                purpose=order.purpose,
                status=order.status,
                amount=order.amount,
                filled=sum((f.amount for f in order.fills), ZERO),
                order_filled=order.filled,
                decided_at=order.opportunity.detected_at if order.opportunity else None,
                sent_at=order.sent_at,
                acked_at=order.acked_at,
                first_fill_at=min(stamps, default=None),
                last_fill_at=max(stamps, default=None),
            )
        )
    return rows


def as_dict(row: object) -> dict[str, object]:
    """A row dataclass as a dict, including the computed properties of :class:`LegRow`."""
    out = {f.name: getattr(row, f.name) for f in fields(row)}  # type: ignore[arg-type]
    if isinstance(row, LegRow):
        out["fill_ratio"] = row.fill_ratio
        out.update({name: getattr(row, name) for name in LATENCY_COLUMNS})
    return out


def _opportunities(session: Session, run_id: int) -> Iterable[Opportunity]:
    return session.scalars(select(Opportunity).where(Opportunity.run_id == run_id).order_by(Opportunity.id))
