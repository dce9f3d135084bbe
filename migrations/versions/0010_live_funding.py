"""A live venue's funding payments: rate, mark and position may be unknown.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25

A live (or sandbox) perpetual's funding is read from the venue's funding history, which states the amount
alone (Gate's futures account book: ``change`` at ``time``), so ``funding_payments.rate``, ``mark`` and
``position`` become nullable. A simulated venue's rows keep all three. Downgrading refuses nothing: it
fills the unknown ones with 0 first, which the amount (the only figure PnL reads) does not depend on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DECIMAL = sa.String(length=64).with_variant(sa.Numeric(), "postgresql")
_STATED = ("rate", "mark", "position")


def upgrade() -> None:
    with op.batch_alter_table("funding_payments") as batch:
        for column in _STATED:
            batch.alter_column(column, existing_type=_DECIMAL, nullable=True)


def downgrade() -> None:
    for column in _STATED:
        op.execute(f"UPDATE funding_payments SET {column} = '0' WHERE {column} IS NULL")
    with op.batch_alter_table("funding_payments") as batch:
        for column in _STATED:
            batch.alter_column(column, existing_type=_DECIMAL, nullable=False)
