"""Exact review numbers for one run, computed in ``Decimal`` from the base tables.

The SQL views (``migrations/versions/0002_review_views.py``, whose docstring defines every column) are for
people browsing a database; on SQLite they compute in binary floats. Whatever must be exact (``arb
report``'s tables and totals) is computed here instead, with the *same definitions*, from the ORM rows.
The tests check one against the other on SQLite and PostgreSQL, and both against hand-computed numbers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from arb.errors import StoreError
from arb.store.models import Fill, Opportunity, Order, Run

VIEW_NAMES = (
    "v_fills_priced",
    "v_opportunity_funnel",
    "v_opportunity_rejections",
    "v_opportunity_pnl",
    "v_leg_fill_ratio",
    "v_leg_latency",
    "v_inventory_snapshots",
    "v_inventory_from_fills",
)
"""The views revision 0002 creates, in dependency order."""

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
    """One executed opportunity; columns as defined for ``v_opportunity_pnl``."""

    opportunity_id: int
    detected_at: datetime
    symbol: str
    buy_venue: str
    sell_venue: str
    size: Decimal
    expected_buy_price: Decimal
    expected_sell_price: Decimal
    buy_filled: Decimal
    sell_filled: Decimal
    matched: Decimal
    buy_vwap: Decimal | None
    sell_vwap: Decimal | None
    expected_pnl: Decimal
    realized_pnl: Decimal
    slippage_cost: Decimal
    expected_fees: Decimal
    fees_paid: Decimal
    fee_cost: Decimal
    unfilled_cost: Decimal
    imbalance_cost: Decimal
    unwind_cash: Decimal
    residual_base: Decimal
    fees_unpriced: int


PNL_TOTAL_COLUMNS = (
    "expected_pnl",
    "realized_pnl",
    "slippage_cost",
    "fee_cost",
    "unfilled_cost",
    "imbalance_cost",
    "fees_paid",
)


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


@dataclass(frozen=True, slots=True)
class InventoryChange:
    """The change one fill made to one asset on its venue, and the running total since the run started."""

    venue: str
    asset: str
    ts: datetime
    fill_id: int
    delta: Decimal
    net_change: Decimal


def elapsed_ms(start: datetime | None, end: datetime | None) -> Decimal | None:
    """Exact milliseconds from ``start`` to ``end`` (microsecond resolution); None if either is missing."""
    if start is None or end is None:
        return None
    return Decimal((end - start) // _MICROSECOND) / 1000


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BASE/QUOTE`` -> (base, quote), as the views do it."""
    base, _, quote = symbol.partition("/")
    return base, quote


def fee_in_quote(fill: Fill, symbol: str) -> Decimal | None:
    """The fill's fee in quote; None when it was charged in a third currency (not priced here)."""
    base, quote = split_symbol(symbol)
    if fill.fee_currency == quote:
        return fill.fee
    if fill.fee_currency == base:
        return fill.fee * fill.price
    return None if fill.fee else ZERO


def latest_run_id(session: Session) -> int | None:
    """The most recently started run (ties: the highest id); None for an empty database."""
    return session.scalar(select(Run.id).order_by(Run.started_at.desc(), Run.id.desc()).limit(1))


def get_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        known = session.scalar(select(func.count()).select_from(Run))
        raise StoreError(f"no run with id {run_id} in the database ({known} runs)")
    return run


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
    """Expected vs realized PnL per executed opportunity, split as defined for ``v_opportunity_pnl``."""
    stmt = (
        select(Opportunity)
        .where(Opportunity.run_id == run_id, Opportunity.decision == "executed")
        .order_by(Opportunity.detected_at, Opportunity.id)
        .options(selectinload(Opportunity.orders).selectinload(Order.fills))
    )
    return [_pnl(opp) for opp in session.scalars(stmt)]


def _pnl(opp: Opportunity) -> PnlRow:
    bq = sq = buy_cost = sell_proceeds = unwind = fees = residual = ZERO
    unpriced = 0
    for order in opp.orders:
        for fill in order.fills:
            notional = fill.price * fill.amount
            if order.purpose == "entry" and order.side == "buy":
                bq += fill.amount
                buy_cost += notional
            elif order.purpose == "entry":
                sq += fill.amount
                sell_proceeds += notional
            else:
                unwind += notional if order.side == "sell" else -notional
            residual += fill.amount if order.side == "buy" else -fill.amount
            fee = fee_in_quote(fill, order.symbol)
            if fee is None:
                unpriced += 1
            else:
                fees += fee
    q, pb, ps, expected = opp.size, opp.buy_price, opp.sell_price, opp.expected_profit
    matched = min(bq, sq)
    expected_fees = q * (ps - pb) - expected
    return PnlRow(
        opportunity_id=opp.id,
        detected_at=opp.detected_at,
        symbol=opp.symbol,
        buy_venue=opp.buy_venue,
        sell_venue=opp.sell_venue,
        size=q,
        expected_buy_price=pb,
        expected_sell_price=ps,
        buy_filled=bq,
        sell_filled=sq,
        matched=matched,
        buy_vwap=buy_cost / bq if bq else None,
        sell_vwap=sell_proceeds / sq if sq else None,
        expected_pnl=expected,
        realized_pnl=sell_proceeds - buy_cost + unwind - fees,
        slippage_cost=(buy_cost - bq * pb) + (sq * ps - sell_proceeds),
        expected_fees=expected_fees,
        fees_paid=fees,
        fee_cost=fees - expected_fees * matched / q if q else fees,
        unfilled_cost=expected * (q - matched) / q if q else ZERO,
        imbalance_cost=(bq - matched) * pb - (sq - matched) * ps - unwind,
        unwind_cash=unwind,
        residual_base=residual,
        fees_unpriced=unpriced,
    )


def pnl_totals(rows: Iterable[PnlRow]) -> dict[str, Decimal]:
    """Sums of the money columns that add up across opportunities (see ``PNL_TOTAL_COLUMNS``)."""
    totals = dict.fromkeys(PNL_TOTAL_COLUMNS, ZERO)
    for row in rows:
        for column in PNL_TOTAL_COLUMNS:
            totals[column] += getattr(row, column)
    return totals


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
        stamps = [f.ts for f in order.fills]
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


def inventory_changes(session: Session, run_id: int) -> list[InventoryChange]:
    """Per fill, its change to each asset on its venue, with the running net change per venue and asset."""
    stmt = (
        select(Fill, Order.side, Order.symbol)
        .join(Order, Fill.order_id == Order.id)
        .where(Order.run_id == run_id)
        .order_by(Fill.ts, Fill.id)
    )
    running: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    out = []
    for fill, side, symbol in session.execute(stmt):
        for asset, delta in _fill_deltas(fill, side, symbol):
            running[(fill.venue, asset)] += delta
            out.append(
                InventoryChange(fill.venue, asset, fill.ts, fill.id, delta, running[(fill.venue, asset)])
            )
    return out


def _fill_deltas(fill: Fill, side: str, symbol: str) -> list[tuple[str, Decimal]]:
    base, quote = split_symbol(symbol)
    notional = fill.price * fill.amount
    base_delta = (fill.amount if side == "buy" else -fill.amount) - (
        fill.fee if fill.fee_currency == base else 0
    )
    quote_delta = (notional if side == "sell" else -notional) - (
        fill.fee if fill.fee_currency == quote else 0
    )
    deltas = [(base, base_delta), (quote, quote_delta)]
    if fill.fee_currency not in (base, quote) and fill.fee:
        deltas.append((fill.fee_currency, -fill.fee))
    return deltas


def final_inventory(changes: Sequence[InventoryChange]) -> dict[tuple[str, str], Decimal]:
    """(venue, asset) -> net change at the end of the run."""
    return {(c.venue, c.asset): c.net_change for c in changes}


def as_dict(row: object) -> dict[str, object]:
    """A row dataclass as a dict, including the computed properties of :class:`LegRow`."""
    out = {f.name: getattr(row, f.name) for f in fields(row)}  # type: ignore[arg-type]
    if isinstance(row, LegRow):
        out["fill_ratio"] = row.fill_ratio
        out.update({name: getattr(row, name) for name in LATENCY_COLUMNS})
    return out


def _opportunities(session: Session, run_id: int) -> Iterable[Opportunity]:
    return session.scalars(select(Opportunity).where(Opportunity.run_id == run_id).order_by(Opportunity.id))
