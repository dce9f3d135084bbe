"""The trade-history schema: runs, opportunities, orders, order events, fills, balances.

Every amount and price is :class:`ExactDecimal`; every timestamp is :class:`UTCDateTime`. Enumerated
text columns (mode, decision, side, status) are plain strings guarded by CHECK constraints so they read
naturally in SQL and in notebooks.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from arb.store.types import ExactDecimal, UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy import Table

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RUN_MODES = ("replay", "paper", "live")
SWEEP_STATUSES = ("running", "completed", "failed")
# running: the process holds the database lease; completed: ended normally; failed: stopped by an error it
# caught (the reason says which); crashed: ended without its shutdown, found by a later start with the lease free
# (the process died), or marked by its own process as a second Ctrl-C forced it out (the reason says so).
RUN_STATUSES = ("running", "completed", "failed", "crashed", "halted")
BALANCE_KINDS = ("start", "after_pair", "end")
DECISIONS = ("executed", "rejected")
SIDES = ("buy", "sell")
ORDER_STATUSES = (
    "created",
    "submitted",
    "open",
    "partially_filled",
    "filled",
    "canceled",
    "rejected",
    "unknown",
)
# entry/unwind/complete: a taker pair's legs and the leg policy's orders; quote/hedge/flatten: a maker route's
# resting quote, the taker IOC answering its fills, the leg policy closing what a failed hedge left.
ORDER_PURPOSES = ("entry", "unwind", "complete", "quote", "hedge", "flatten")
# taker: detection crossed two books and sent two IOC legs; maker: one resting quote's fills and their hedges.
STRATEGIES = ("taker", "maker")
# planned: a plan only (``[rebalance] transfers = "plan"``: an alert, never sent); sent: it left its source;
# arrived: it was credited to its destination, less its fee.
TRANSFER_STATUSES = ("planned", "sent", "arrived", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    if TYPE_CHECKING:  # every model here is one Table (its __tablename__); SQLAlchemy types it as any FromClause
        __table__: ClassVar[Table]

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {Decimal: ExactDecimal(), datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Sweep(Base):
    """One ``arb sweep``: a grid of replays (``arb/sweep/``). ``grid`` holds each key and the values it
    takes; each replay is a run linked by ``runs.sweep_id``. Wall-clock times; ``failed`` when any replay
    failed (``status_reason`` says which)."""

    __tablename__ = "sweeps"
    __table_args__ = (CheckConstraint(_in("status", SWEEP_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    status_reason: Mapped[str | None] = mapped_column(Text)
    grid: Mapped[dict[str, Any]]


class Run(Base):
    """One ``arb run``. Clocks: ``started_at``/``ended_at`` are wall-clock UTC (when the process ran);
    ``market_started_at``/``market_ended_at`` are the market-time span the run traded in (in a replay, the
    capture's time; live and paper, the same wall clock). Orders, fills and opportunities carry market time."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(_in("mode", RUN_MODES), name="mode"),
        CheckConstraint(_in("status", RUN_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]  # wall clock
    ended_at: Mapped[datetime | None]  # wall clock; None while running or after a crash
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")
    status_reason: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None]  # the process that ran it, and on which host (the lease holder while running)
    host: Mapped[str | None] = mapped_column(String(255))
    market_started_at: Mapped[datetime | None]  # market clock
    market_ended_at: Mapped[datetime | None]
    # The effective config with secrets masked: enough to rerun, never enough to trade.
    config_snapshot: Mapped[dict[str, Any]]
    # End-of-run summary (funnel, PnL); None while running or after a crash.
    summary: Mapped[dict[str, Any] | None]
    # `arb sweep`: the sweep this run is one replay of, and the grid point (key -> value) it replayed.
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("sweeps.id"), index=True)
    grid_point: Mapped[dict[str, Any] | None]

    opportunities: Mapped[list[Opportunity]] = relationship(back_populates="run")


class Opportunity(Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        CheckConstraint(_in("decision", DECISIONS), name="decision"),
        CheckConstraint("decision = 'executed' OR reason IS NOT NULL", name="rejected_has_reason"),
        CheckConstraint(_in("strategy", STRATEGIES), name="strategy"),
        Index("ix_opportunities_run_detected", "run_id", "detected_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    detected_at: Mapped[datetime]
    symbol: Mapped[str] = mapped_column(String(32))
    # A maker pair: buy_venue/sell_venue are the maker and taker venues as the quote's side puts them,
    # buy_price/sell_price the quote's price and the hedge's walked price at quote time, ``size`` what the
    # quote filled and ``expected_profit`` that amount's profit as priced at quote time.
    strategy: Mapped[str] = mapped_column(String(8), server_default="taker")
    buy_venue: Mapped[str] = mapped_column(String(32))
    sell_venue: Mapped[str] = mapped_column(String(32))
    size: Mapped[Decimal]  # base units
    buy_price: Mapped[Decimal]  # depth-walked VWAP on the buy venue
    sell_price: Mapped[Decimal]  # depth-walked VWAP on the sell venue
    buy_limit: Mapped[Decimal | None]  # worst price reached on the buy side (IOC limit)
    sell_limit: Mapped[Decimal | None]
    expected_profit: Mapped[Decimal]  # quote, net of both fees
    edge_bps: Mapped[Decimal | None]
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    # Audit inputs: what detection saw.
    buy_fee_rate: Mapped[Decimal | None]
    sell_fee_rate: Mapped[Decimal | None]
    buy_book_seq: Mapped[int | None]
    sell_book_seq: Mapped[int | None]
    buy_book_age_ms: Mapped[int | None]
    sell_book_age_ms: Mapped[int | None]
    detail: Mapped[dict[str, Any] | None]
    # Settlement (executed opportunities, once every order is final), defined in arb/accounting.py: the one
    # definition of realized PnL and of its attribution. realized - expected_profit = pnl_slippage +
    # pnl_fees + pnl_unfilled + pnl_imbalance, exactly.
    mark_price: Mapped[Decimal | None]  # quote per base: values residual base and base-currency fees
    realized_pnl: Mapped[Decimal | None]
    pnl_slippage: Mapped[Decimal | None]
    pnl_fees: Mapped[Decimal | None]
    pnl_unfilled: Mapped[Decimal | None]
    pnl_imbalance: Mapped[Decimal | None]
    # A maker pair's part of pnl_slippage that the taker book's move between quote and hedge made (adverse
    # selection); pnl_slippage - pnl_adverse is the hedge's own slippage. NULL for a taker pair.
    pnl_adverse: Mapped[Decimal | None]
    fees_quote: Mapped[Decimal | None]  # every fee of the pair in quote (base fees at mark_price)
    residual_base: Mapped[Decimal | None]  # base bought - sold - base fees, over all the pair's orders
    # The part of it the plan did not mean: an open position (arb/positions.py values it), not realized,
    # and its cost (the average price of the side it came from).
    open_base: Mapped[Decimal | None]
    open_price: Mapped[Decimal | None]
    settled_at: Mapped[datetime | None]  # market clock

    run: Mapped[Run] = relationship(back_populates="opportunities")
    orders: Mapped[list[Order]] = relationship(back_populates="opportunity")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_in("side", SIDES), name="side"),
        CheckConstraint(_in("status", ORDER_STATUSES), name="status"),
        CheckConstraint(_in("purpose", ORDER_PURPOSES), name="purpose"),
        UniqueConstraint("client_order_id"),
        Index("ix_orders_venue_status", "venue", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL"), index=True
    )
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    venue: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(16))
    time_in_force: Mapped[str] = mapped_column(String(8))
    purpose: Mapped[str] = mapped_column(String(16), default="entry")
    client_order_id: Mapped[str] = mapped_column(String(64))
    venue_order_id: Mapped[str | None] = mapped_column(String(64))
    price: Mapped[Decimal]
    amount: Mapped[Decimal]
    filled: Mapped[Decimal] = mapped_column(default=Decimal(0))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Set when the request left for the venue / when the venue first acknowledged it (latency views).
    sent_at: Mapped[datetime | None]
    acked_at: Mapped[datetime | None]
    flagged: Mapped[str | None] = mapped_column(Text)  # e.g. found on the venue but not in the database
    reference_price: Mapped[Decimal | None]  # a hedge's walked price on the taker book when it was sent

    opportunity: Mapped[Opportunity | None] = relationship(back_populates="orders")
    events: Mapped[list[OrderEvent]] = relationship(back_populates="order", order_by="OrderEvent.id")
    fills: Mapped[list[Fill]] = relationship(back_populates="order", order_by="Fill.id")


class OrderEvent(Base):
    __tablename__ = "order_events"
    __table_args__ = (
        CheckConstraint(_in("to_status", ORDER_STATUSES), name="to_status"),
        CheckConstraint(f"from_status IS NULL OR {_in('from_status', ORDER_STATUSES)}", name="from_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    ts: Mapped[datetime]
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    venue_status: Mapped[str | None] = mapped_column(String(64))  # raw status/finish_as as the venue said it
    detail: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="events")


class Fill(Base):
    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("venue", "trade_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    venue: Mapped[str] = mapped_column(String(32))
    trade_id: Mapped[str] = mapped_column(String(64))
    price: Mapped[Decimal]
    amount: Mapped[Decimal]
    fee: Mapped[Decimal]
    fee_currency: Mapped[str] = mapped_column(String(16))
    # The fee currency's price in the quote when it is neither of the market's (a fee token: Gate's GT)
    # and the venue knew one at the fill (arb/venues/fee_tokens.py); NULL otherwise.
    fee_price: Mapped[Decimal | None]
    ts: Mapped[datetime]  # the venue's clock: when the venue says the trade happened
    received_at: Mapped[datetime | None]  # market clock: when arb recorded it (latencies use this)

    order: Mapped[Order] = relationship(back_populates="fills")


class FundingPayment(Base):
    """A perpetual's funding paid into (``amount`` > 0) or out of a venue's account at one funding time: part
    of the run's PnL (``arb/margin.py`` defines it; the simulated venues pay it from a capture's funding
    lines)."""

    __tablename__ = "funding_payments"
    __table_args__ = (UniqueConstraint("run_id", "venue", "symbol", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    venue: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    ts: Mapped[datetime]  # the funding time, the venue's clock
    # NULL where a live venue's funding history does not state them (Gate's account book: the amount alone).
    rate: Mapped[Decimal | None]
    mark: Mapped[Decimal | None]
    position: Mapped[Decimal | None]  # base, signed, held at the funding time
    amount: Mapped[Decimal]  # settle currency: > 0 received
    currency: Mapped[str] = mapped_column(String(16))


class Transfer(Base):
    """One transfer of an asset between two venues that rebalancing planned (``arb/rebalance.py``): ``amount``
    leaves ``source``, ``amount - fee`` reaches ``dest``. ``fee_value`` is the fee in ``value_currency`` at the
    mid when it was planned: a sent transfer's is part of the run's equity (``arb/positions.py``)."""

    __tablename__ = "transfers"
    __table_args__ = (CheckConstraint(_in("status", TRANSFER_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal]
    source: Mapped[str] = mapped_column(String(32))
    dest: Mapped[str] = mapped_column(String(32))
    network: Mapped[str] = mapped_column(String(64))
    fee: Mapped[Decimal]  # in ``asset``, out of ``amount``
    minimum: Mapped[Decimal]  # the route's least amount, as planned
    fee_value: Mapped[Decimal | None]  # the fee in ``value_currency``; NULL: no mark to value it at
    value_currency: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)  # which venue left its band, and how
    planned_at: Mapped[datetime]  # the run's clock (market time in a simulation)
    expected_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    # A live transfer's withdrawal (runtime/live_transfers.py): arb's id, stored before it is sent; the venue's.
    client_id: Mapped[str | None] = mapped_column(String(64))
    venue_id: Mapped[str | None] = mapped_column(String(64))
    failure: Mapped[str | None] = mapped_column(Text)  # why the venue failed or refused it (status failed)


class OpeningPosition(Base):
    """A perpetual position a run started with, as its venue reported it (a live venue's: left by an earlier
    run or traded elsewhere; a simulated venue starts flat). Its reductions realize against ``entry``."""

    __tablename__ = "opening_positions"
    __table_args__ = (UniqueConstraint("run_id", "venue", "symbol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    venue: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal]  # base, signed: > 0 long
    entry: Mapped[Decimal]


class FillConflict(Base):
    """A fill report whose ``(venue, trade_id)`` is already stored with different values.

    The stored fill is kept (it was first); the conflicting report is kept here, never dropped, and the run
    summary counts these rows.
    """

    __tablename__ = "fill_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    fill_id: Mapped[int] = mapped_column(ForeignKey("fills.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    venue: Mapped[str] = mapped_column(String(32))
    trade_id: Mapped[str] = mapped_column(String(64))
    reported: Mapped[dict[str, Any]]  # the conflicting report, values as exact strings
    detail: Mapped[str] = mapped_column(Text)  # which fields differ, stored vs reported
    ts: Mapped[datetime]  # market clock


class Balance(Base):
    """Per venue and asset: a snapshot at run start, after each executed pair, and at run end."""

    __tablename__ = "balances"
    __table_args__ = (
        Index("ix_balances_run_venue_asset_ts", "run_id", "venue", "asset", "ts"),
        CheckConstraint(_in("kind", BALANCE_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    venue: Mapped[str] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(16))
    free: Mapped[Decimal]
    used: Mapped[Decimal]
    total: Mapped[Decimal]
    ts: Mapped[datetime]  # market clock
    kind: Mapped[str] = mapped_column(String(16))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
