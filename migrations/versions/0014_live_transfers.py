"""Live transfers: a withdrawal's ids and the reason one failed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28

A transfer made live (``runtime/live_transfers.py``) is a withdrawal at its source venue: ``client_id`` is the id
arb sends with it, stored before it is sent so that an unknown outcome is looked up by it and never sent twice;
``venue_id`` the venue's own id of the withdrawal once answered; ``failure`` why the venue failed or refused it
(status ``failed``, a new status). Existing rows keep NULLs: simulated transfers have none of these.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transfers") as batch:
        batch.add_column(sa.Column("client_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("venue_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("failure", sa.Text(), nullable=True))
        batch.drop_constraint(op.f("ck_transfers_status"), type_="check")
        batch.create_check_constraint(op.f("ck_transfers_status"), "status IN ('planned', 'sent', 'arrived', 'failed')")


def downgrade() -> None:
    op.execute("UPDATE transfers SET status = 'planned' WHERE status = 'failed'")
    with op.batch_alter_table("transfers") as batch:
        batch.drop_constraint(op.f("ck_transfers_status"), type_="check")
        batch.create_check_constraint(op.f("ck_transfers_status"), "status IN ('planned', 'sent', 'arrived')")
        batch.drop_column("failure")
        batch.drop_column("venue_id")
        batch.drop_column("client_id")
