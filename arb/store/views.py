"""Exact review numbers for one run, in ``Decimal``, read from the tables.

PnL is not computed here: each executed opportunity's realized PnL and attribution are defined in
``arb.accounting`` and stored on its row when it settles; this module reads and sums them, as the SQL views
(``migrations/versions/0003_settlement_runs_status.py``) do. Counts, fill ratios and latencies are read
from the base tables with the same definitions as the views. On SQLite the views sum in binary floats; the
numbers here are exact. The tests check the two against each other on SQLite and PostgreSQL.

Beside it: ``grouped.py`` (the same figures per day, hour, symbol or route), ``balances.py`` (a run's
balances), ``runs.py`` (which run, on which clock).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from arb.domain.outcomes import maker_outcome, pair_outcome
from arb.positions import OpenLot
from arb.store import maker_pairs
from arb.store.maker_views import answered_fill
from arb.store.models import Opportunity, Order
from arb.store.settlement import trades_of

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

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
    "v_positions_from_fills",
)
"""The review views (revision 0003; a fill's market kind, spot wallets apart from perpetual positions: 0009), in
dependency order."""

ZERO = Decimal(0)
_MICROSECOND = timedelta(microseconds=1)
ANSWERS = ("hedge", "flatten")
"""Order purposes triggered by a quote's fill, not by a decision (:class:`LegRow`)."""


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
    """One order: fill ratio and latency, as ``v_leg_fill_ratio`` and ``v_leg_latency``.

    Its latencies start at ``triggered_at``, what made arb send it: for a hedge or a flatten, the fill of its
    pair's quote it answered, as arb received it (:func:`arb.store.maker_views.answered_fill`, the start of
    fill -> hedge); for any other order, its opportunity's decision (``detected_at``: a taker pair's
    detection, a maker quote's placement). A hedge timed from its pair's detection took the time the quote
    rested for its own (seconds or minutes).
    """

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
    triggered_at: datetime | None  # see the class docstring
    sent_at: datetime | None
    acked_at: datetime | None
    first_fill_at: datetime | None
    last_fill_at: datetime | None

    @property
    def fill_ratio(self) -> Decimal | None:
        return self.filled / self.amount if self.amount else None

    @property
    def trigger_to_sent_ms(self) -> Decimal | None:
        return elapsed_ms(self.triggered_at, self.sent_at)

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
    def trigger_to_filled_ms(self) -> Decimal | None:
        return elapsed_ms(self.triggered_at, self.last_fill_at)


LATENCY_COLUMNS = (
    "trigger_to_sent_ms",
    "sent_to_ack_ms",
    "ack_to_first_fill_ms",
    "first_to_last_fill_ms",
    "trigger_to_filled_ms",
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
    # The columns counted, not Opportunity objects: a run detects thousands, and building them took ~10x
    # as long as reading their rows (`arb report`'s start, bench/bench_startup.py).
    stmt = (select(Opportunity.symbol, Opportunity.buy_venue, Opportunity.sell_venue, Opportunity.decision,
                   Opportunity.expected_profit)
            .where(Opportunity.run_id == run_id).order_by(Opportunity.id))
    for symbol, buy_venue, sell_venue, decision, expected_profit in session.execute(stmt):
        key = (symbol, buy_venue, sell_venue)
        seen[key] += 1
        if decision == "executed":
            executed[key] += 1
            profit[key] += expected_profit
        else:
            rejected[key] += 1
    return [FunnelRow(*key, seen[key], rejected[key], executed[key], profit[key]) for key in sorted(seen)]


def rejections(session: Session, run_id: int) -> list[RejectionRow]:
    """Rejected opportunities counted per symbol, venue pair and reason code."""
    stmt = (select(Opportunity.symbol, Opportunity.buy_venue, Opportunity.sell_venue, Opportunity.reason)
            .where(Opportunity.run_id == run_id, Opportunity.decision == "rejected"))
    counts: Counter[tuple[str, str, str, str]] = Counter(
        (symbol, buy_venue, sell_venue, reason or "") for symbol, buy_venue, sell_venue, reason in session.execute(stmt)
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
    return [open_lot(o) for o in session.scalars(stmt) if o.open_base]


def open_lot(o: Opportunity) -> OpenLot:
    """The open position a settled pair left (``open_base`` at its cost ``open_price``); callers pass only a
    pair that left one."""
    if o.open_base is None:
        raise ValueError(f"opportunity {o.id} left no open position")
    return OpenLot(o.buy_venue, o.sell_venue, o.symbol, o.open_base, o.open_price or ZERO)


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
        if opp.strategy == "maker":
            # Its legs as the settlement takes them: the quote's fills and the hedges' answering them, with
            # the parts of another pair's hedge or flatten that answered its base (dust carried) and without
            # the parts of its own that answered another's.
            fills = trades_of(opp)
            bought, sold = (sum((t.amount for t in fills if t.purpose == "entry" and t.side == side), ZERO)
                            for side in ("buy", "sell"))
            outcome = maker_outcome(opp.open_base, any(t.purpose == "unwind" for t in fills),
                                    opp.settled_at is not None, maker_pairs.halted(opp))
            rows.append(TradeRow(_pnl_row(opp), bought, sold, outcome))
            continue
        entry = [order for order in opp.orders if order.purpose == "entry"]
        filled = {order.id: sum((f.amount for f in order.fills), ZERO) for order in entry}
        by_side = {side: sum((filled[o.id] for o in entry if o.side == side), ZERO) for side in ("buy", "sell")}
        complete = bool(entry) and all(filled[o.id] >= o.amount for o in entry)
        detail = opp.detail or {}
        outcome = pair_outcome(detail.get("outcome"), detail.get("policy"), complete, opp.settled_at is not None)
        rows.append(TradeRow(_pnl_row(opp), by_side["buy"], by_side["sell"], outcome))
    return rows


def legs(session: Session, run_id: int) -> list[LegRow]:
    """Every order of the run with its fill ratio and latency timestamps."""
    stmt = (
        select(Order)
        .where(Order.run_id == run_id)
        .order_by(Order.id)
        .options(selectinload(Order.fills), selectinload(Order.opportunity))
    )
    orders = session.scalars(stmt).all()
    # What each maker pair's quote fills arb had seen, for the hedges and flattens answering them.
    quote_seen: defaultdict[int, list[datetime]] = defaultdict(list)
    for order in orders:
        if order.purpose == "quote" and order.opportunity_id is not None:
            quote_seen[order.opportunity_id] += [f.received_at for f in order.fills if f.received_at is not None]
    rows = []
    for order in orders:
        # Our clock (when arb recorded each fill), like acked_at: the venue's own trade time is another
        # clock and would make ack -> fill negative.
        stamps = [f.received_at for f in order.fills if f.received_at is not None]
        if order.purpose in ANSWERS:
            triggered_at = (answered_fill(quote_seen[order.opportunity_id], order)
                            if order.opportunity_id is not None else None)
        else:
            triggered_at = order.opportunity.detected_at if order.opportunity else None
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
                triggered_at=triggered_at,
                sent_at=order.sent_at,
                acked_at=order.acked_at,
                first_fill_at=min(stamps, default=None),
                last_fill_at=max(stamps, default=None),
            )
        )
    return rows


def as_dict(row: DataclassInstance) -> dict[str, object]:
    """A row dataclass as a dict, including the computed properties of :class:`LegRow`."""
    out = {f.name: getattr(row, f.name) for f in fields(row)}
    if isinstance(row, LegRow):
        out["fill_ratio"] = row.fill_ratio
        out.update({name: getattr(row, name) for name in LATENCY_COLUMNS})
    return out


def run_opportunities(session: Session, run_id: int) -> Iterable[Opportunity]:
    """Every opportunity of the run, in id order."""
    return session.scalars(select(Opportunity).where(Opportunity.run_id == run_id).order_by(Opportunity.id))
