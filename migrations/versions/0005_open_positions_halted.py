"""Open positions and halted runs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

- ``opportunities`` gains ``open_base`` and ``open_price`` (``arb/accounting.py``): the base a pair bought or
  sold without its other side, not realized, and its cost. Existing settled rows get ``open_base`` NULL
  (settled under the old rule, which valued it at ``mark_price``; ``settle_pending`` does not revisit them).
- ``runs.status`` may be ``halted``: the leg policy stopped the run with an open position.

The columns are added with ``ALTER TABLE ... ADD COLUMN`` (the review views read ``opportunities`` and SQLite
cannot rebuild a table a view depends on). ``runs`` is rebuilt in batch mode to change its CHECK constraint:
no view reads it, and migrations run with foreign keys off (``migrations/env.py``), so its children are kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('running', 'completed', 'failed', 'crashed')"
NEW_STATUSES = "status IN ('running', 'completed', 'failed', 'crashed', 'halted')"


def _money(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=64).with_variant(sa.Numeric(), "postgresql"), nullable=True)


def upgrade() -> None:
    op.add_column("opportunities", _money("open_base"))
    op.add_column("opportunities", _money("open_price"))
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("ck_runs_status"), type_="check")
        batch.create_check_constraint(op.f("ck_runs_status"), NEW_STATUSES)


def downgrade() -> None:
    op.execute("UPDATE runs SET status = 'failed' WHERE status = 'halted'")
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("ck_runs_status"), type_="check")
        batch.create_check_constraint(op.f("ck_runs_status"), OLD_STATUSES)
    # DROP COLUMN in place (SQLite >= 3.35): a batch copy of ``opportunities`` would break the views on it.
    op.drop_column("opportunities", "open_price")
    op.drop_column("opportunities", "open_base")
