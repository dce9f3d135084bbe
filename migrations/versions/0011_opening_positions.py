"""The perpetual positions a run started with, as its venues reported them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25

A live venue (or an external sandbox) can hold a position when a run starts: one an earlier run left open,
or one traded elsewhere. Its reductions realize against the entry the venue states, which the run's own
fills do not know: without it the inventory check took the realized PnL of closing an inherited position
for money that came from outside, and the summary took the close for a new position. One row per
(run, venue, symbol) held at the start; none on a simulated venue, which starts flat.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DECIMAL = sa.String(length=64).with_variant(sa.Numeric(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "opening_positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("venue", sa.String(length=32), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("amount", _DECIMAL, nullable=False),
        sa.Column("entry", _DECIMAL, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_opening_positions_run_id_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_positions")),
        sa.UniqueConstraint("run_id", "venue", "symbol", name=op.f("uq_opening_positions_run_id_venue_symbol")),
    )
    op.create_index(op.f("ix_opening_positions_run_id"), "opening_positions", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_opening_positions_run_id"), table_name="opening_positions")
    op.drop_table("opening_positions")
