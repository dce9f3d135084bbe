"""Transfers between venues that rebalancing planned, sent and saw arrive: one row per transfer of a run.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27

``transfers``: an asset moved from one venue to another to keep each near its target share
(``arb/rebalance.py``): the amount that left its source, the fee taken out of it (and that fee valued in a quote
currency at the mid when planned, which the run's equity counts once the transfer is sent,
``arb/positions.py``), the route's minimum and network, and its times on the run's clock: planned, expected,
sent, arrived. ``planned`` rows are plans only (``[rebalance] transfers = "plan"``). A new table: upgrading and
downgrading touch nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DECIMAL = sa.String(length=64).with_variant(sa.Numeric(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount", _DECIMAL, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("dest", sa.String(length=32), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("fee", _DECIMAL, nullable=False),
        sa.Column("minimum", _DECIMAL, nullable=False),
        sa.Column("fee_value", _DECIMAL, nullable=True),
        sa.Column("value_currency", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('planned', 'sent', 'arrived')", name=op.f("ck_transfers_status")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_transfers_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    op.create_index(op.f("ix_transfers_run_id"), "transfers", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_transfers_run_id"), table_name="transfers")
    op.drop_table("transfers")
