"""Stored settlement, run status and clocks, balance kinds, fill conflicts; views read stored figures.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

- ``opportunities`` gains the settlement columns written by arb (``arb/accounting.py`` is the one
  definition): ``mark_price``, ``realized_pnl``, ``pnl_slippage``, ``pnl_fees``, ``pnl_unfilled``,
  ``pnl_imbalance``, ``fees_quote``, ``residual_base``, ``settled_at``.
- ``runs`` gains ``status`` (running / completed / failed / crashed) with ``status_reason``, the ``pid`` and
  ``host`` that ran it, and its market-time span (``market_started_at``/``market_ended_at``). Existing rows:
  ended ones become ``completed``; unended ones stay ``running`` until the next start finds them dead.
- ``fills`` gains ``received_at`` (market clock: when arb recorded the fill); ``balances`` gains ``kind``
  (start / after_pair / end) and ``opportunity_id``; new table ``fill_conflicts``.
- The review views are recreated. ``v_opportunity_pnl`` no longer computes PnL: it reads the stored
  settlement. New ``v_run_pnl``: per run, the sums of those stored figures.

SQLite cannot alter a table a view depends on, so the views are dropped first and recreated last. The SQL
is frozen here (not imported from arb), as in 0002.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_VIEWS = (
    "v_fills_priced",
    "v_opportunity_funnel",
    "v_opportunity_rejections",
    "v_opportunity_pnl",
    "v_leg_fill_ratio",
    "v_leg_latency",
    "v_inventory_snapshots",
    "v_inventory_from_fills",
)
SETTLEMENT = (
    "mark_price",
    "realized_pnl",
    "pnl_slippage",
    "pnl_fees",
    "pnl_unfilled",
    "pnl_imbalance",
    "fees_quote",
    "residual_base",
)


def _money(name: str, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=64).with_variant(sa.Numeric(), "postgresql"), nullable=nullable)


def _utc(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


class _Dialect:
    def __init__(self, name: str) -> None:
        self.sqlite = name == "sqlite"

    def num(self, column: str) -> str:
        """A money column as a number: NUMERIC as is on PostgreSQL, TEXT cast to REAL on SQLite."""
        return f"CAST({column} AS REAL)" if self.sqlite else column

    def ms(self, start: str, end: str) -> str:
        if self.sqlite:
            return f"((julianday({end}) - julianday({start})) * 86400000.0)"
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) * 1000)"

    def base(self, symbol: str) -> str:
        if self.sqlite:
            return f"substr({symbol}, 1, instr({symbol}, '/') - 1)"
        return f"split_part({symbol}, '/', 1)"

    def quote(self, symbol: str) -> str:
        if self.sqlite:
            return f"substr({symbol}, instr({symbol}, '/') + 1)"
        return f"split_part({symbol}, '/', 2)"


def _views(d: _Dialect) -> list[tuple[str, str]]:
    """(name, SELECT) in dependency order. Column definitions: README "Reviewing trade history in SQL"."""
    n = d.num
    fills_flows = f"""
SELECT f.id AS fill_id, f.order_id, o.opportunity_id, o.run_id, f.venue, o.symbol,
       {d.base("o.symbol")} AS base, {d.quote("o.symbol")} AS quote,
       o.side, o.purpose, f.ts, f.received_at,
       {n("f.price")} AS price, {n("f.amount")} AS amount, {n("f.price")} * {n("f.amount")} AS notional,
       f.fee_currency, {n("f.fee")} AS fee
FROM fills f JOIN orders o ON o.id = f.order_id"""

    funnel = f"""
SELECT run_id, symbol, buy_venue, sell_venue,
       COUNT(*) AS seen,
       SUM(CASE WHEN decision = 'rejected' THEN 1 ELSE 0 END) AS rejected,
       SUM(CASE WHEN decision = 'executed' THEN 1 ELSE 0 END) AS executed,
       SUM(CASE WHEN decision = 'executed' THEN {n("expected_profit")} ELSE 0 END) AS expected_profit,
       SUM({n("realized_pnl")}) AS realized_pnl
FROM opportunities
GROUP BY run_id, symbol, buy_venue, sell_venue"""

    rejections = """
SELECT run_id, symbol, buy_venue, sell_venue, reason, COUNT(*) AS rejected
FROM opportunities
WHERE decision = 'rejected'
GROUP BY run_id, symbol, buy_venue, sell_venue, reason"""

    pnl = f"""
SELECT p.run_id, p.id AS opportunity_id, p.detected_at, p.settled_at, p.symbol, p.buy_venue, p.sell_venue,
       {n("p.size")} AS size, {n("p.buy_price")} AS expected_buy_price,
       {n("p.sell_price")} AS expected_sell_price, {n("p.mark_price")} AS mark_price,
       {n("p.expected_profit")} AS expected_pnl, {n("p.realized_pnl")} AS realized_pnl,
       {n("p.pnl_slippage")} AS pnl_slippage, {n("p.pnl_fees")} AS pnl_fees,
       {n("p.pnl_unfilled")} AS pnl_unfilled, {n("p.pnl_imbalance")} AS pnl_imbalance,
       {n("p.fees_quote")} AS fees_quote, {n("p.residual_base")} AS residual_base
FROM opportunities p
WHERE p.decision = 'executed'"""

    run_pnl = """
SELECT run_id, COUNT(*) AS executed,
       SUM(CASE WHEN settled_at IS NULL THEN 1 ELSE 0 END) AS unsettled,
       SUM(expected_pnl) AS expected_pnl, SUM(realized_pnl) AS realized_pnl,
       SUM(pnl_slippage) AS pnl_slippage, SUM(pnl_fees) AS pnl_fees,
       SUM(pnl_unfilled) AS pnl_unfilled, SUM(pnl_imbalance) AS pnl_imbalance,
       SUM(fees_quote) AS fees_quote
FROM v_opportunity_pnl
GROUP BY run_id"""

    fill_ratio = f"""
SELECT o.run_id, o.opportunity_id, o.id AS order_id, o.venue, o.symbol, o.side, o.purpose, o.status,
       {n("o.amount")} AS amount, COALESCE(f.filled, 0) AS filled,
       COALESCE(f.filled, 0) / NULLIF({n("o.amount")}, 0) AS fill_ratio,
       {n("o.filled")} AS order_filled
FROM orders o
LEFT JOIN (SELECT order_id, SUM({n("amount")}) AS filled FROM fills GROUP BY order_id) f
       ON f.order_id = o.id"""

    latency = f"""
SELECT o.run_id, o.opportunity_id, o.id AS order_id, o.venue, o.symbol, o.side, o.purpose,
       p.detected_at AS decided_at, o.sent_at, o.acked_at, f.first_fill_at, f.last_fill_at,
       {d.ms("p.detected_at", "o.sent_at")} AS decision_to_sent_ms,
       {d.ms("o.sent_at", "o.acked_at")} AS sent_to_ack_ms,
       {d.ms("o.acked_at", "f.first_fill_at")} AS ack_to_first_fill_ms,
       {d.ms("f.first_fill_at", "f.last_fill_at")} AS first_to_last_fill_ms,
       {d.ms("p.detected_at", "f.last_fill_at")} AS decision_to_filled_ms
FROM orders o
LEFT JOIN opportunities p ON p.id = o.opportunity_id
LEFT JOIN (SELECT order_id, MIN(received_at) AS first_fill_at, MAX(received_at) AS last_fill_at
           FROM fills GROUP BY order_id) f
       ON f.order_id = o.id"""

    snapshots = f"""
SELECT run_id, venue, asset, ts, kind, opportunity_id,
       {n("free")} AS free, {n("used")} AS used, {n("total")} AS total
FROM balances"""

    from_fills = """
WITH deltas AS (
    SELECT run_id, venue, base AS asset, ts, fill_id,
           (CASE WHEN side = 'buy' THEN amount ELSE -amount END)
           - (CASE WHEN fee_currency = base THEN fee ELSE 0 END) AS delta
    FROM v_fills_flows
    UNION ALL
    SELECT run_id, venue, quote AS asset, ts, fill_id,
           (CASE WHEN side = 'sell' THEN notional ELSE -notional END)
           - (CASE WHEN fee_currency = quote THEN fee ELSE 0 END) AS delta
    FROM v_fills_flows
    UNION ALL
    SELECT run_id, venue, fee_currency AS asset, ts, fill_id, -fee AS delta
    FROM v_fills_flows
    WHERE fee_currency NOT IN (base, quote) AND fee <> 0
)
SELECT run_id, venue, asset, ts, fill_id, delta,
       SUM(delta) OVER (PARTITION BY run_id, venue, asset ORDER BY ts, fill_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS net_change
FROM deltas"""

    return [
        ("v_fills_flows", fills_flows),
        ("v_opportunity_funnel", funnel),
        ("v_opportunity_rejections", rejections),
        ("v_opportunity_pnl", pnl),
        ("v_run_pnl", run_pnl),
        ("v_leg_fill_ratio", fill_ratio),
        ("v_leg_latency", latency),
        ("v_inventory_snapshots", snapshots),
        ("v_inventory_from_fills", from_fills),
    ]


def upgrade() -> None:
    for name in reversed(OLD_VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="running"))
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch.add_column(_utc("market_started_at"))
        batch.add_column(_utc("market_ended_at"))
        batch.create_check_constraint(
            op.f("ck_runs_status"), "status IN ('running', 'completed', 'failed', 'crashed')"
        )
    op.execute("UPDATE runs SET status = 'completed' WHERE ended_at IS NOT NULL")
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("status", server_default=None, existing_type=sa.String(length=16), existing_nullable=False)
    with op.batch_alter_table("opportunities") as batch:
        for name in SETTLEMENT:
            batch.add_column(_money(name))
        batch.add_column(_utc("settled_at"))
    with op.batch_alter_table("fills") as batch:
        batch.add_column(_utc("received_at"))
    with op.batch_alter_table("balances") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="start"))
        batch.add_column(sa.Column("opportunity_id", sa.Integer(), nullable=True))
        batch.create_check_constraint(op.f("ck_balances_kind"), "kind IN ('start', 'after_pair', 'end')")
        batch.create_foreign_key(
            op.f("fk_balances_opportunity_id_opportunities"), "opportunities", ["opportunity_id"], ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("balances") as batch:
        batch.alter_column("kind", server_default=None, existing_type=sa.String(length=16), existing_nullable=False)
    op.create_table(
        "fill_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fill_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("reported", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _utc("ts", nullable=False),
        sa.ForeignKeyConstraint(["fill_id"], ["fills.id"], name=op.f("fk_fill_conflicts_fill_id_fills"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_fill_conflicts_order_id_orders"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_fill_conflicts_run_id_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fill_conflicts")),
    )
    op.create_index(op.f("ix_fill_conflicts_fill_id"), "fill_conflicts", ["fill_id"])
    op.create_index(op.f("ix_fill_conflicts_order_id"), "fill_conflicts", ["order_id"])
    op.create_index(op.f("ix_fill_conflicts_run_id"), "fill_conflicts", ["run_id"])
    dialect = _Dialect(op.get_context().dialect.name)
    for name, select in _views(dialect):
        op.execute(f"CREATE VIEW {name} AS {select.strip()}")


def downgrade() -> None:
    dialect = _Dialect(op.get_context().dialect.name)
    for name, _select in reversed(_views(dialect)):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_table("fill_conflicts")
    with op.batch_alter_table("balances") as batch:
        batch.drop_constraint(op.f("fk_balances_opportunity_id_opportunities"), type_="foreignkey")
        batch.drop_constraint(op.f("ck_balances_kind"), type_="check")
        batch.drop_column("opportunity_id")
        batch.drop_column("kind")
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("received_at")
    with op.batch_alter_table("opportunities") as batch:
        batch.drop_column("settled_at")
        for name in reversed(SETTLEMENT):
            batch.drop_column(name)
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("ck_runs_status"), type_="check")
        for name in ("market_ended_at", "market_started_at", "host", "pid", "status_reason", "status"):
            batch.drop_column(name)
    _recreate_0002_views()


def _recreate_0002_views() -> None:
    """Revision 0002's views, from its own module (loaded by path: the file name is not an identifier)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name("0002_review_views.py")
    spec = importlib.util.spec_from_file_location("_arb_migration_0002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.upgrade()
