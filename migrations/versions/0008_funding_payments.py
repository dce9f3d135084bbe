"""A perpetual's funding payments: one row per venue, symbol and funding time of a run.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

``funding_payments``: what a linear perpetual's position was paid (``amount`` > 0) or paid out at one
funding time, at the rate and mark it settled at, and the position it was paid on (``arb/margin.py``
defines the amount). The inventory check and the valuation of a run's holdings read it as part of the
settle currency's change. A new table: upgrading and downgrading touch nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DECIMAL = sa.String(length=64).with_variant(sa.Numeric(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "funding_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rate", _DECIMAL, nullable=False),
        sa.Column("mark", _DECIMAL, nullable=False),
        sa.Column("position", _DECIMAL, nullable=False),
        sa.Column("amount", _DECIMAL, nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_funding_payments_run_id_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_payments")),
        sa.UniqueConstraint("run_id", "venue", "symbol", "ts", name=op.f("uq_funding_payments_run_id_venue_symbol_ts")),
    )
    op.create_index(op.f("ix_funding_payments_run_id"), "funding_payments", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_funding_payments_run_id"), table_name="funding_payments")
    op.drop_table("funding_payments")
